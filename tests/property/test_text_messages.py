"""``add_message(role, text)`` skips pydantic (``text_record``): it must build exactly
what the general path builds, and refuse exactly what it refuses, with the same words."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pyai.sessions._message import build_message, encode_message, text_record
from pyai.sessions.errors import ValidationError

from .strategies import roles, texts

# Every code point, NUL and lone surrogates included, in text of any length around the
# role limit (64), plus strings made only of white space.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)
BLANK = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003"), max_size=5)
NOT_TEXT = st.none() | st.integers() | st.lists(st.just({"type": "text", "text": "x"}))


def _outcome(build: Any) -> Any:
    try:
        return build()
    except ValidationError as exc:
        return ("refused", str(exc))


@settings(max_examples=500, deadline=None)
@given(
    role=roles() | ANY_TEXT | BLANK | NOT_TEXT,
    content=texts(max_size=200) | ANY_TEXT | NOT_TEXT,
)
def test_text_record_is_the_general_path(role: Any, content: Any) -> None:
    general = _outcome(lambda: encode_message(build_message(role, content, {})))
    fast = _outcome(lambda: text_record(role, content))
    if fast is None:
        # Left to the general path: only what is not plain text, or a role pydantic
        # refuses (its error names the field, as before).
        plain = type(role) is str and type(content) is str
        assert not plain or (isinstance(general, tuple) and "role" in general[1]), general
    else:
        assert fast == general


def test_text_record_takes_the_common_turns() -> None:
    for role in ("user", "assistant", "system", "tool", "x" * 64):
        assert text_record(role, "Hello, world") is not None
