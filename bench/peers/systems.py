"""What every measured system offers the workloads, whatever library is behind it.

A *system* is one way of storing a conversation on one backend: the raw driver (the
floor), pyai, or a peer library. It opens *handles* (one object bound to one session,
built the way the library's documentation builds it) and runs one *user* (a fresh object
from a path or URL, one turn of two messages appended together, the history read back,
the object closed). Async-only libraries implement the same methods as coroutines and are
awaited back to back in one running event loop, the way an async application calls them.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

TEXT = "What is the capital of France? Please answer in one short sentence."
REPLY = "The capital of France is Paris."

#: One turn of an agent: the user's message and the reply, appended together.
TURN = [{"role": "user", "content": TEXT}, {"role": "assistant", "content": REPLY}]


def batch(n: int, tag: str = "") -> list[dict[str, str]]:
    """``n`` chat messages alternating user / assistant, each with distinct content."""
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{TEXT} {tag}#{i}"}
        for i in range(n)
    ]


class Handle:
    """One session object bound to one session id (methods may be coroutines)."""

    def add_one(self, text: str) -> Any:
        """Append one user message; durable (acknowledged) when it returns."""
        raise NotImplementedError

    def add_batch(self, items: list[dict[str, str]]) -> Any:
        """Append ``items`` in one call, as the library offers it."""
        raise NotImplementedError

    def tail(self, n: int) -> Any:
        """The last ``n`` messages, oldest first, as the library's message objects."""
        raise NotImplementedError

    def read_all(self) -> Any:
        """The whole history, in order."""
        raise NotImplementedError

    def contents(self) -> Any:
        """The ``content`` of every message in history order (for correctness checks)."""
        raise NotImplementedError

    def close(self) -> Any:
        """Release what the object holds."""


class System:
    """A library (or the raw driver) on one backend.

    Subclasses set ``name``, ``kind`` (``raw``, ``pyai`` or ``peer``) and, for async-only
    libraries, ``asynchronous = True``. Their constructor keyword arguments must be plain
    data: a child process rebuilds the system from them (:meth:`spec`).
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    asynchronous: ClassVar[bool] = False
    #: Session ids must be UUIDs (langchain-postgres).
    uuid_ids: ClassVar[bool] = False

    def __init__(self, **config: Any) -> None:
        self.config = config

    def spec(self) -> tuple[str, str, dict[str, Any]]:
        return type(self).__module__, type(self).__qualname__, self.config

    def open(self, session_id: str) -> Handle:
        raise NotImplementedError

    def open_expiring(self, session_id: str, ttl: int) -> Handle | None:
        """A handle whose every write sets the session to expire in ``ttl`` seconds, as
        the library documents it; None where the library has no expiry (SQL)."""
        return None

    def fill(self, session_id: str, n: int) -> None:
        """Store ``n`` messages in ``session_id`` quickly (data as the library writes it)."""
        raise NotImplementedError

    def user(self, session_id: str) -> Any:
        """One request: a fresh object from a path/URL, one turn appended, history read."""
        raise NotImplementedError

    def close(self) -> None:
        """Release shared resources (engines, pools, connections)."""


def rebuild(spec: tuple[str, str, dict[str, Any]]) -> System:
    module, qualname, config = spec
    cls = getattr(importlib.import_module(module), qualname)
    system: System = cls(**config)
    return system


def langchain_message(item: dict[str, str]) -> Any:
    from langchain_core.messages import AIMessage, HumanMessage

    return (HumanMessage if item["role"] == "user" else AIMessage)(content=item["content"])
