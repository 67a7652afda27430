"""The Model protocol: what an Agent needs from a language model, documented once."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..sessions import Message

__all__ = ["Model"]


@runtime_checkable
class Model(Protocol):
    """A chat model: a list of messages in, one reply message out.

    ``messages`` are in conversation order: the agent's instructions (a ``system``
    message), then the history window, then the new input. The reply is usually an
    ``assistant`` message whose ``content`` is the text and whose ``tool_calls`` (if any)
    are kept exactly as the model produced them; ``seq`` and ``created_at`` stay unset
    (the store assigns them).

    Implementations must not write to any session: the Runner stores the turn only after
    the call succeeded. An exception that is not a
    :class:`~pyai.sessions.errors.SessionError` is wrapped by the Runner in
    :class:`~pyai.models.errors.ModelError`.
    """

    def complete(self, messages: list[Message]) -> Message:
        """Return the model's reply to ``messages``; blocks until it arrives."""
        ...

    async def acomplete(self, messages: list[Message]) -> Message:
        """Async twin of :meth:`complete`; never blocks the event loop."""
        ...
