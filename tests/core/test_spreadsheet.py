"""CSV cells a spreadsheet would run are quoted (OWASP CSV injection); reading undoes it."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from kehu.core.spreadsheet import BOM, FORMULA_START, SafeWriter, plain_cell, safe_cell


@given(st.text())
def test_no_text_cell_starts_a_formula_and_reading_gives_it_back(text):
    cell = safe_cell(text)
    if cell.startswith(FORMULA_START):
        float(cell)  # only a plain number may start with + or -
    assert plain_cell(cell) == text


def test_formula_starts_are_quoted_numbers_and_other_values_are_not():
    for formula in ("=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "-", "+"):
        assert safe_cell(formula) == "'" + formula
    for kept in ("-12.50", "+5", "42", "a=b", "", None, 3, -2):
        assert safe_cell(kept) == kept


def test_the_writer_quotes_every_cell_and_writes_the_bom_first():
    out = io.StringIO()
    writer = SafeWriter(out, bom=True)
    writer.writerow(["name", "formula"])
    writer.writerows([["a", "=cmd()"], ["b", "-1"]])
    text = out.getvalue()
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows == [["name", "formula"], ["a", "'=cmd()"], ["b", "-1"]]
