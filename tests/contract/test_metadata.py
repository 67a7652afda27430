"""Metadata: set/get/unset on every backend."""

from __future__ import annotations

import pytest

from pyai.sessions.errors import ValidationError

from ..conftest import Backend


def test_set_get_unset(backend: Backend) -> None:
    s = backend.session()
    assert s.get("missing") is None and s.get("missing", 7) == 7
    s.set("title", "Trip planning")
    s.set("prefs", {"lang": "fr", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None})
    s.set("title", "Renamed")
    assert s.get("title") == "Renamed"
    assert s.metadata() == {
        "title": "Renamed",
        "prefs": {"lang": "fr", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None},
    }
    assert s.unset("title") is True
    assert s.unset("title") is False
    assert s.metadata() == {
        "prefs": {"lang": "fr", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None}
    }


def test_null_and_falsy_values_are_values(backend: Backend) -> None:
    s = backend.session()
    for key, value in [("none", None), ("zero", 0), ("empty", ""), ("list", []), ("false", False)]:
        s.set(key, value)
    assert s.metadata() == {"none": None, "zero": 0, "empty": "", "list": [], "false": False}
    assert s.get("none", "default") is None


def test_metadata_without_messages_creates_session(backend: Backend) -> None:
    s = backend.session()
    s.set("k", 1)
    assert s.count() == 0
    assert backend.session(s.session_id).get("k") == 1


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2}, b"bytes", float("nan"), float("inf"), {1: "int key"}, {"k": (1, 2)}],
    ids=["object", "set", "bytes", "nan", "inf", "int-key", "tuple"],
)
def test_non_json_values_are_rejected_and_nothing_written(backend: Backend, value: object) -> None:
    s = backend.session()
    s.set("before", 1)
    with pytest.raises(ValidationError):
        s.set("bad", value)
    assert s.metadata() == {"before": 1}


@pytest.mark.parametrize("key", ["", 5, None, "x" * 256, "nul\x00"])
def test_bad_keys_are_rejected(backend: Backend, key: object) -> None:
    s = backend.session()
    with pytest.raises(ValidationError):
        s.set(key, 1)  # type: ignore[arg-type]
    assert s.metadata() == {}
