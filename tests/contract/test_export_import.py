"""export() / import_data(): versioned documents, atomic writes, three modes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pyai.sessions.errors import ImportFormatError, SessionExistsError

from ..conftest import Backend

GOLDEN_V1 = Path(__file__).parent.parent / "data" / "export_v1.json"


def _populate(backend: Backend):  # type: ignore[no-untyped-def]
    s = backend.session(user_id="alice")
    s.add_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "héllo", "metadata": {"lang": "fr"}},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "content": "ok", "tool_call_id": "c1"},
        ]
    )
    s.pop_message()
    s.add_message("assistant", [{"type": "text", "text": "done"}])
    s.set("title", "Greeting")
    s.set("n", 3)
    return s


def test_export_is_json_safe_and_complete(backend: Backend) -> None:
    s = _populate(backend)
    doc = s.export()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["format"] == "pyai.session" and doc["version"] == 1
    assert doc["session_id"] == s.session_id and doc["user_id"] == "alice"
    assert doc["metadata"] == {"title": "Greeting", "n": 3}
    assert [m["seq"] for m in doc["messages"]] == [1, 2, 3, 5]
    assert all(m["created_at"].endswith("+00:00") for m in doc["messages"])
    assert doc["created_at"] and doc["updated_at"] and doc["expires_at"] is None


def test_export_import_export_is_identity(backend: Backend) -> None:
    source = _populate(backend)
    doc = source.export()
    target = backend.session()
    assert target.import_data(doc) == 4
    again = target.export()
    for key in ("messages", "metadata", "user_id"):
        assert again[key] == doc[key]
    assert target.get_messages() == source.get_messages()
    # Positions continue after the highest imported one.
    assert target.add_message("user", "next").seq == 6


def test_import_error_mode_refuses_non_empty_target(backend: Backend) -> None:
    doc = _populate(backend).export()
    target = backend.session()
    target.add_message("user", "mine")
    with pytest.raises(SessionExistsError):
        target.import_data(doc)
    assert [m.content for m in target.get_messages()] == ["mine"]


def test_import_replace_mode(backend: Backend) -> None:
    doc = _populate(backend).export()
    target = backend.session()
    target.add_message("user", "mine")
    target.set("old", True)
    target.import_data(doc, mode="replace")
    assert [m["seq"] for m in target.export()["messages"]] == [1, 2, 3, 5]
    assert target.metadata() == {"title": "Greeting", "n": 3}


def test_import_append_mode_renumbers(backend: Backend) -> None:
    doc = _populate(backend).export()
    target = backend.session()
    target.add_message("user", "mine")
    target.set("title", "mine")
    assert target.import_data(doc, mode="append") == 4
    msgs = target.get_messages()
    assert [m.seq for m in msgs] == [1, 2, 3, 4, 5]
    assert msgs[0].content == "mine" and msgs[1].content == "Be brief."
    assert target.metadata() == {"title": "Greeting", "n": 3}


def _corrupt(doc: dict, how: str) -> object:
    bad = copy.deepcopy(doc)
    if how == "not-a-dict":
        return [bad]
    if how == "wrong-format":
        bad["format"] = "other"
    elif how == "newer-version":
        bad["version"] = 99
    elif how == "missing-version":
        del bad["version"]
    elif how == "seq-not-increasing":
        bad["messages"][1]["seq"] = 1
    elif how == "bad-role":
        bad["messages"][0]["role"] = ""
    elif how == "naive-timestamp":
        bad["messages"][0]["created_at"] = "2024-01-01T00:00:00"
    elif how == "unknown-field":
        bad["surprise"] = 1
    elif how == "bad-metadata":
        bad["metadata"] = {"k": float("nan")}
    elif how == "missing-session-id":
        del bad["session_id"]
    elif how == "message-missing-seq":
        del bad["messages"][2]["seq"]
    elif how == "nul-in-content":
        bad["messages"][-1]["content"] = "a\x00b"
    return bad


@pytest.mark.parametrize(
    "how",
    [
        "not-a-dict",
        "wrong-format",
        "newer-version",
        "missing-version",
        "seq-not-increasing",
        "bad-role",
        "naive-timestamp",
        "unknown-field",
        "bad-metadata",
        "missing-session-id",
        "message-missing-seq",
        "nul-in-content",
    ],
)
def test_malformed_documents_are_rejected_and_nothing_written(backend: Backend, how: str) -> None:
    from pyai.sessions.errors import ValidationError

    doc = _populate(backend).export()
    target = backend.session()
    with pytest.raises(ValidationError) as info:
        target.import_data(_corrupt(doc, how), mode="replace")
    assert str(info.value)
    if how == "newer-version":
        assert isinstance(info.value, ImportFormatError) and "newer" in str(info.value)
    assert target.get_messages() == [] and target.metadata() == {}


def test_bad_import_mode(backend: Backend) -> None:
    from pyai.sessions.errors import ValidationError

    with pytest.raises(ValidationError):
        backend.session().import_data({}, mode="merge")


def test_golden_v1_document_stays_loadable(backend: Backend) -> None:
    doc = json.loads(GOLDEN_V1.read_text(encoding="utf-8"))
    s = backend.session()
    assert s.import_data(doc) == len(doc["messages"])
    out = s.export()
    assert out["messages"] == doc["messages"]
    assert out["metadata"] == doc["metadata"]
