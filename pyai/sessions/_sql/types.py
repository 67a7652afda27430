"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["SQLITE_DATETIME_FORMAT", "JSONText", "UTCDateTime", "sqlite_datetime"]

# How SQLAlchemy's SQLite DATETIME stores values; pyai's own statements write the same
# text so that ORM readers of these tables and pyai agree. Fixed width, so text order is
# time order and `expires_at <= :now` compares correctly.
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_datetime(value: datetime) -> str:
    """A UTC timestamp in SQLite storage form (``SQLITE_DATETIME_FORMAT``)."""
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    # isoformat is several times faster than strftime; the first 26 characters are
    # exactly SQLITE_DATETIME_FORMAT (the "+00:00" suffix is cut).
    return value.isoformat(" ", "microseconds")[:26]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every dialect; naive values are rejected.

    SQLite has no time zone support and drops the offset, so values are normalised to
    UTC before they are stored and given the UTC zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pyai stores timezone-aware UTC only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class JSONText(TypeDecorator[Any]):
    """JSONB on PostgreSQL; JSON text in a TEXT column elsewhere.

    Not SQLite's ``JSON`` column type: that has NUMERIC affinity, so the JSON text
    ``3`` would be stored as the integer 3 and a large integer silently as a float.
    SQLite's JSON functions work on the TEXT column all the same.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "postgresql" or value is None:
            return value
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "postgresql" or value is None:
            return value
        return json.loads(value)
