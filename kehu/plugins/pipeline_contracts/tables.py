"""The link between a contract and the opportunity it came from."""

from piccolo.columns import ForeignKey, OnDelete, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.plugins.contracts.tables import Contract
from kehu.plugins.pipeline.tables import Opportunity


class ContractSource(Table, tablename="pipeline_contracts_source"):
    contract = ForeignKey(references=Contract, unique=True, on_delete=OnDelete.cascade)
    opportunity = ForeignKey(references=Opportunity, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())


TABLES = [ContractSource]
