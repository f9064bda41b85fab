"""Request parameters every remittance route bounds the same way: days a calendar can do
arithmetic on (a day like 0001-01-01 would overflow an aging window: a 422, never a 500),
row ids and amounts the database's columns hold."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from claimflow_shared.runtime.http import MAX_ROW_ID

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)

Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
DayQuery = Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
# The largest amount a money column (NUMERIC(12, 2)) holds: compared with one, a larger
# filter would overflow in the database.
MAX_MONEY = Decimal("9999999999.99")
