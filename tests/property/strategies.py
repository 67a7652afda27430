"""Hypothesis strategies for what a caller may store, and an exact comparison."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "PG_SAFE_FLOAT",
    "exactly_equal",
    "json_values",
    "message_dicts",
    "metadata_keys",
    "texts",
    "utc_datetimes",
]

#: PostgreSQL's JSONB prints a float of this magnitude or more without a fraction or
#: exponent, so it reads back as an int (see test_roundtrip.py, large floats).
PG_SAFE_FLOAT = 1e16

ROLES = ("system", "user", "assistant", "tool", "developer")


def texts(*, min_size: int = 0, max_size: int | None = 30) -> st.SearchStrategy[str]:
    """Any text a store can hold: every code point but NUL and lone surrogates."""
    return st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
        min_size=min_size,
        max_size=max_size,
    )


def json_values(*, max_float: float | None = None) -> st.SearchStrategy[Any]:
    """Nested JSON: null, booleans, integers, finite floats, text, lists and objects."""
    if max_float is None:
        floats = st.floats(allow_nan=False, allow_infinity=False)
    else:
        floats = st.floats(
            min_value=-max_float, max_value=max_float, exclude_min=True, exclude_max=True
        )
    scalars = st.none() | st.booleans() | st.integers() | floats | texts()
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(texts(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


def roles() -> st.SearchStrategy[str]:
    custom = texts(min_size=1, max_size=64).filter(lambda r: bool(r.strip()))
    return st.sampled_from(ROLES) | custom


def message_dicts(*, max_float: float | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A message in OpenAI chat format, with pyai's optional ``metadata``."""
    values = json_values(max_float=max_float)
    optional = {
        "name": st.none() | texts(),
        "tool_calls": st.none()
        | st.lists(st.dictionaries(texts(max_size=12), values, max_size=4), max_size=3),
        "tool_call_id": st.none() | texts(),
        "metadata": st.dictionaries(texts(max_size=12), values, max_size=4),
    }
    return st.fixed_dictionaries(
        {
            "role": roles(),
            "content": st.none() | texts(max_size=200) | st.lists(values, max_size=4),
        },
        optional=optional,
    )


def metadata_keys() -> st.SearchStrategy[str]:
    """Session metadata keys: 1 to 255 characters."""
    return texts(min_size=1, max_size=255)


def utc_datetimes() -> st.SearchStrategy[datetime]:
    """Any moment a ``datetime`` can hold, in UTC, to the microsecond."""
    return st.datetimes(timezones=st.just(timezone.utc))


def exactly_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values *and* of the same JSON types (``1.0`` is not ``1``).

    ``==`` alone would accept a float coming back as an int, or ``True`` as ``1``.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(exactly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(exactly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)
