"""A pyai session as a LangChain chat message history (extra ``langchain``).

from langchain_core.runnables.history import RunnableWithMessageHistory
from pyai.integrations.langchain import PyaiChatMessageHistory
from pyai.sessions import open_session

chain = RunnableWithMessageHistory(
    runnable, lambda session_id: PyaiChatMessageHistory(open_session(URL, session_id))
)

Each LangChain message is one pyai message in OpenAI chat format (``HumanMessage`` is
``user``, ``AIMessage`` is ``assistant`` with its tool calls in ``tool_calls``,
``ToolMessage`` is ``tool``, ``ChatMessage`` keeps its role), so ``pyai.Agent`` and
``pyai chat`` can continue the conversation. The rest of the LangChain message (id,
``additional_kwargs``, ``response_metadata``, usage, ...) is kept in
``metadata["langchain"]``, so it comes back exactly as it was added. Messages written
by other pyai code are read as the equivalent LangChain messages.

LangChain (langchain-core 1.x) marks ``BaseChatMessageHistory`` and
``RunnableWithMessageHistory`` as deprecated, for removal in 2.0; this module follows
them until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..sessions import Message, Session
from ..sessions.errors import ConfigurationError, ValidationError

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        BaseMessage,
        ChatMessage,
        convert_to_messages,
        convert_to_openai_messages,
        message_to_dict,
        messages_from_dict,
    )
except ImportError:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "pyai.integrations.langchain needs langchain-core: pip install 'pyai[langchain]'"
    ) from None

__all__ = ["METADATA_KEY", "PyaiChatMessageHistory", "from_langchain", "to_langchain"]

METADATA_KEY = "langchain"
_CHAT_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


def from_langchain(message: BaseMessage) -> Message:
    """The pyai message that stores a LangChain message.

    Raises:
        ValidationError: the message cannot be expressed in chat format or holds values
            that are not JSON-serialisable.
    """
    if not isinstance(message, BaseMessage):
        raise ValidationError(f"expected a LangChain BaseMessage, got {type(message).__name__}")
    try:
        chat = convert_to_openai_messages(message)
    except Exception as exc:
        raise ValidationError(
            f"cannot store a {type(message).__name__} in chat format: {exc}"
        ) from None
    serialised = message_to_dict(message)
    data = dict(serialised["data"])
    if data.get("content") == chat.get("content"):
        del data["content"]  # stored once, as the message content
    fields = {k: chat[k] for k in _CHAT_FIELDS if chat.get(k) is not None}
    fields.setdefault("content", None)
    return Message.model_validate(
        {**fields, "metadata": {METADATA_KEY: {"type": serialised["type"], "data": data}}}
    )


def to_langchain(message: Message) -> BaseMessage:
    """The LangChain message a pyai message stands for."""
    kept = message.metadata.get(METADATA_KEY)
    if isinstance(kept, dict) and isinstance(kept.get("data"), dict):
        data: dict[str, Any] = {"content": message.content, **kept["data"]}
        if data["content"] is None:
            data["content"] = ""
        return messages_from_dict([{"type": kept.get("type"), "data": data}])[0]
    chat = message.to_dict()
    if chat["content"] is None:
        chat["content"] = ""
    try:
        return convert_to_messages([chat])[0]
    except (ValueError, NotImplementedError):
        # A role LangChain has no class for (a custom one): a ChatMessage keeps it.
        return ChatMessage(role=message.role, content=chat["content"])


class PyaiChatMessageHistory(BaseChatMessageHistory):
    """Any pyai :class:`~pyai.sessions.Session` as a LangChain ``BaseChatMessageHistory``.

    Sync and async methods are both native: the sync ones call the session's sync
    methods, the async ones its async twins (which never block the event loop).
    ``add_messages`` is one atomic append: a human/AI pair lands whole and adjacent.

    Args:
        session: the pyai session (any backend); the caller owns it and closes it.
        history_limit: read only the latest ``history_limit`` messages (None: all).
    """

    def __init__(self, session: Session, *, history_limit: int | None = None) -> None:
        if not isinstance(session, Session):
            raise ValidationError(
                f"PyaiChatMessageHistory wraps a pyai Session, got {type(session).__name__}"
            )
        super().__init__()
        self.session = session
        self.history_limit = history_limit

    def __repr__(self) -> str:
        return f"PyaiChatMessageHistory({self.session!r})"

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The stored messages, oldest first (the latest ``history_limit`` of them)."""
        return [to_langchain(m) for m in self.session.get_messages(limit=self.history_limit)]

    async def aget_messages(self) -> list[BaseMessage]:
        """Async twin of :attr:`messages`."""
        stored = await self.session.aget_messages(limit=self.history_limit)
        return [to_langchain(m) for m in stored]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append the messages, all or none, at adjacent positions."""
        converted = [from_langchain(m) for m in messages]
        if converted:
            self.session.add_messages(converted)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async twin of :meth:`add_messages`."""
        converted = [from_langchain(m) for m in messages]
        if converted:
            await self.session.aadd_messages(converted)

    def clear(self) -> None:
        """Remove every message (pyai metadata stays)."""
        self.session.clear()

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await self.session.aclear()
