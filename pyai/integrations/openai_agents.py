"""A pyai session as a session of OpenAI's Agents SDK (extra ``openai-agents``).

from agents import Agent, Runner
from pyai.integrations.openai_agents import OpenAIAgentsSession
from pyai.sessions import PostgresSession

session = OpenAIAgentsSession(PostgresSession(connection_string=url, session_id="user-123"))
await Runner.run(agent, "My name is Alice", session=session)

Each SDK item is one pyai message, so ``limit``, ``pop_item`` and the pyai view agree:

* a message item (``{"role": ..., "content": ...}``) is a message of that role, its text
  as ``content``;
* a ``function_call`` is an ``assistant`` message with that call in ``tool_calls``;
* a ``function_call_output`` is a ``tool`` message with its ``tool_call_id``;
* any other item (``reasoning``, hosted tool calls, ...) is a message whose role is the
  item's type.

Whenever that view is not the whole item, the item is also kept in the message's
``metadata["openai_agents_item"]`` and comes back from :meth:`get_items` exactly as it
was given. Messages written by other pyai code (``pyai.Agent``, ``pyai chat``) are read
as the equivalent SDK items, so the SDK can continue a conversation pyai began.
"""

from __future__ import annotations

import json
from typing import Any, cast

from ..sessions import Message, Session
from ..sessions.errors import ConfigurationError, ValidationError

try:
    from agents.items import TResponseInputItem
    from agents.memory import SessionSettings
except ImportError:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "pyai.integrations.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'pyai[openai-agents]'"
    ) from None

__all__ = ["ITEM_KEY", "OpenAIAgentsSession", "item_to_message", "message_to_items"]

ITEM_KEY = "openai_agents_item"
_INPUT_ROLES = frozenset({"user", "system", "developer"})


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return json.dumps(content, ensure_ascii=False)
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            text = part.get("text", part.get("refusal"))
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)


def item_to_message(item: TResponseInputItem) -> Message:
    """The pyai message that stores one SDK item.

    Raises:
        ValidationError: the item is not a dict.
    """
    if not isinstance(item, dict):
        raise ValidationError(f"an Agents SDK item is a dict, got {type(item).__name__}")
    raw = cast(dict[str, Any], item)
    kind = raw.get("type")
    role = raw.get("role")
    fields: dict[str, Any]
    if isinstance(role, str) and kind in (None, "message"):
        content = raw.get("content")
        if set(raw) == {"role", "content"} and isinstance(content, str):
            return Message(role=role, content=content)  # exactly what it was: no copy kept
        fields = {"role": role, "content": _text(content)}
    elif kind == "function_call":
        call = {
            "id": raw.get("call_id"),
            "type": "function",
            "function": {"name": raw.get("name"), "arguments": raw.get("arguments")},
        }
        fields = {"role": "assistant", "content": None, "tool_calls": [call]}
    elif kind == "function_call_output":
        output = raw.get("output")
        fields = {"role": "tool", "tool_call_id": raw.get("call_id"), "content": _text(output)}
    else:
        fields = {"role": str(kind or "openai_agents_item"), "content": None}
    return Message.model_validate({**fields, "metadata": {ITEM_KEY: raw}})


def _input_part(part: Any) -> Any:
    if isinstance(part, dict) and part.get("type") == "text":
        return {"type": "input_text", "text": part.get("text", "")}
    if isinstance(part, dict) and part.get("type") == "image_url":
        url = part.get("image_url")
        url = url.get("url") if isinstance(url, dict) else url
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    return part


def message_to_items(message: Message) -> list[TResponseInputItem]:
    """The SDK items a pyai message stands for (one, except for an assistant message that
    has both text and tool calls, or several tool calls)."""
    kept = message.metadata.get(ITEM_KEY)
    if isinstance(kept, dict):
        return [cast(TResponseInputItem, kept)]
    items: list[dict[str, Any]] = []
    content = message.content
    if message.role == "tool":
        items.append(
            {
                "type": "function_call_output",
                "call_id": message.tool_call_id or "",
                "output": _text(content),
            }
        )
    elif message.role in _INPUT_ROLES:
        parts = [_input_part(p) for p in content] if isinstance(content, list) else content
        items.append({"role": message.role, "content": parts if parts is not None else ""})
    else:
        text = _text(content)
        if text or not message.tool_calls:
            items.append({"role": message.role, "content": text})
        for call in message.tool_calls or []:
            function = call.get("function") or {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id", ""),
                    "name": function.get("name", ""),
                    "arguments": function.get("arguments", ""),
                }
            )
    return [cast(TResponseInputItem, item) for item in items]


class OpenAIAgentsSession:
    """Any pyai :class:`~pyai.sessions.Session` as an Agents SDK ``Session``.

    Implements the SDK's session protocol (``get_items``, ``add_items``, ``pop_item``,
    ``clear_session``) on the pyai session's async methods: ``add_items`` is one atomic
    ``aadd_messages``, ``get_items(limit)`` reads only the last ``limit`` messages.

    Args:
        session: the pyai session (any backend); the caller owns it and closes it.
        session_settings: the SDK's settings; ``limit`` is the default for ``get_items``.
    """

    session_settings: SessionSettings | None = None

    def __init__(
        self, session: Session, *, session_settings: SessionSettings | None = None
    ) -> None:
        if not isinstance(session, Session):
            raise ValidationError(
                f"OpenAIAgentsSession wraps a pyai Session, got {type(session).__name__}"
            )
        self.session = session
        self.session_id: str = session.session_id
        self.session_settings = session_settings

    def __repr__(self) -> str:
        return f"OpenAIAgentsSession({self.session!r})"

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The history as SDK items, oldest first: the latest ``limit`` of them, or all.

        Without ``limit``, ``session_settings.limit`` applies when set.
        """
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        messages = await self.session.aget_messages(limit=limit)
        items = [item for message in messages for item in message_to_items(message)]
        if limit is None:
            return items
        return items[len(items) - limit :] if limit > 0 else []

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append the items, all or none, at adjacent positions."""
        messages = [item_to_message(item) for item in items]
        if messages:
            await self.session.aadd_messages(messages)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the latest item and return it, or None if the session is empty."""
        message = await self.session.apop_message()
        if message is None:
            return None
        return message_to_items(message)[-1]

    async def clear_session(self) -> None:
        """Remove every item (pyai metadata stays)."""
        await self.session.aclear()
