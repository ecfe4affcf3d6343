"""CSV that spreadsheets open safely: formula-leading cells neutralised, an optional BOM.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (CSV injection, OWASP); such text gets a
leading ``'``, which the spreadsheet shows as text. Numbers (``-12.50``) are left alone. With
``bom=True`` the file starts with a UTF-8 byte order mark, so Excel in a Chinese (or any
non-UTF-8) locale decodes it as UTF-8. ``plain_cell`` undoes the quote when Kehu reads its
own export back.
"""

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, with a ``'`` in front if it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def plain_cell(value: str) -> str:
    """Undo ``safe_cell`` when reading a CSV back (an import of an export is exact)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


class SafeWriter:
    """``csv.writer`` whose cells pass through ``safe_cell``; writes the BOM first if asked."""

    def __init__(self, out: TextIO, *, bom: bool = False) -> None:
        if bom:
            out.write(BOM)
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


__all__ = ["BOM", "FORMULA_START", "SafeWriter", "plain_cell", "safe_cell"]
