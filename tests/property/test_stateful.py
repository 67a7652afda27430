"""Random interleavings of every session operation agree with the in-memory reference.

A hypothesis state machine drives two sessions on the backend under test and the same two
sessions on :class:`~pyai.sessions._memory.MemoryRepository` (the reference
implementation of the contract) through the same calls, and compares every result and,
after every step, both whole histories.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from pyai.sessions import Message, Session
from pyai.sessions._memory import MemoryRepository
from pyai.sessions.errors import SessionError

from ..conftest import Backend
from .strategies import PG_SAFE_FLOAT, exactly_equal, json_values, message_dicts

SESSIONS = 2
# Keys with characters that mean something to SQL LIKE, Redis globs and hash tags.
KEYS = st.sampled_from(["title", "*", "%", "{tag}", "a:b"])
WHICH = st.integers(0, SESSIONS - 1)
MESSAGES = message_dicts(max_float=PG_SAFE_FLOAT)
VALUES = json_values(max_float=PG_SAFE_FLOAT)


def _view(message: Message | None) -> Any:
    """Everything of a message but its time (two stores, two clocks)."""
    if message is None:
        return None
    return [
        message.seq,
        message.role,
        message.content,
        message.name,
        message.tool_calls,
        message.tool_call_id,
        message.metadata,
    ]


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except SessionError as exc:
        return ("raised", type(exc))


def _document_view(doc: dict[str, Any]) -> Any:
    messages = [{k: v for k, v in m.items() if k != "created_at"} for m in doc["messages"]]
    return [doc["session_id"], doc["user_id"], doc["metadata"], messages]


def _machine(backend: Backend) -> type[RuleBasedStateMachine]:
    class AgreesWithReference(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            run = uuid.uuid4().hex
            reference = MemoryRepository()
            ids = [f"stateful-{run}-{i}" for i in range(SESSIONS)]
            self.real = [backend.session(sid) for sid in ids]
            self.model = [Session(reference, sid) for sid in ids]

        def both(self, i: int, call: Any) -> tuple[Any, Any]:
            return _outcome(lambda: call(self.real[i])), _outcome(lambda: call(self.model[i]))

        def same(self, i: int, call: Any, view: Any = lambda r: r) -> None:
            real, model = self.both(i, call)
            if real[0] == "ok" and model[0] == "ok":
                assert exactly_equal(view(real[1]), view(model[1])), (real, model)
            else:
                assert real == model

        @rule(i=WHICH, message=MESSAGES)
        def add_message(self, i: int, message: dict[str, Any]) -> None:
            fields = dict(message)
            role, content = fields.pop("role"), fields.pop("content")
            self.same(i, lambda s: s.add_message(role, content, **fields), _view)

        @rule(i=WHICH, batch=st.lists(MESSAGES, max_size=3))
        def add_messages(self, i: int, batch: list[dict[str, Any]]) -> None:
            self.same(i, lambda s: s.add_messages(batch), lambda ms: [_view(m) for m in ms])

        @rule(i=WHICH)
        def pop_message(self, i: int) -> None:
            self.same(i, lambda s: s.pop_message(), _view)

        @rule(i=WHICH)
        def clear(self, i: int) -> None:
            self.same(i, lambda s: s.clear())

        @rule(i=WHICH)
        def delete(self, i: int) -> None:
            self.same(i, lambda s: s.delete())

        @rule(i=WHICH, key=KEYS, value=VALUES)
        def set(self, i: int, key: str, value: Any) -> None:
            self.same(i, lambda s: s.set(key, value))

        @rule(i=WHICH, key=KEYS)
        def unset(self, i: int, key: str) -> None:
            self.same(i, lambda s: s.unset(key))

        @rule(i=WHICH, key=KEYS)
        def get(self, i: int, key: str) -> None:
            self.same(i, lambda s: s.get(key, "missing"))

        @rule(
            i=WHICH,
            limit=st.none() | st.integers(0, 6),
            after=st.none() | st.integers(0, 12),
        )
        def get_messages(self, i: int, limit: int | None, after: int | None) -> None:
            self.same(
                i,
                lambda s: s.get_messages(limit, after=after),
                lambda ms: [_view(m) for m in ms],
            )

        @rule(i=WHICH)
        def count(self, i: int) -> None:
            self.same(i, lambda s: s.count())

        @rule(source=WHICH, into=WHICH, mode=st.sampled_from(["error", "replace", "append"]))
        def import_export(self, source: int, into: int, mode: str) -> None:
            real = _outcome(lambda: self.real[into].import_data(self.real[source].export(), mode))
            model = _outcome(
                lambda: self.model[into].import_data(self.model[source].export(), mode)
            )
            assert real == model

        @rule(i=WHICH)
        def export(self, i: int) -> None:
            self.same(i, lambda s: s.export(), _document_view)

        @invariant()
        def same_sessions(self) -> None:
            for real, model in zip(self.real, self.model, strict=True):
                assert exactly_equal(
                    [_view(m) for m in real.get_messages()],
                    [_view(m) for m in model.get_messages()],
                )
                assert exactly_equal(real.metadata(), model.metadata())

        def teardown(self) -> None:
            for real in self.real:
                real.delete()

    return AgreesWithReference


def test_random_operations_agree_with_the_reference(durable_backend: Backend) -> None:
    run_state_machine_as_test(
        _machine(durable_backend),
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )
