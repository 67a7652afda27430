"""LangChain's real RunnableWithMessageHistory, remembering in a pyai session, on every
backend; the model behind it is OpenAIChatModel talking to the local responder."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from examples.local_model import LocalModelServer
from pyai import Agent, Runner
from pyai.models import OpenAIChatModel
from pyai.sessions import Message
from pyai.sessions.errors import ValidationError

from ..conftest import Backend
from .conftest import ModelFactory

pytest.importorskip("langchain_core", reason="the langchain extra is not installed")

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_openai_messages,
)
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from pyai.integrations.langchain import PyaiChatMessageHistory

# LangChain 1.x deprecates RunnableWithMessageHistory (removal in 2.0) and warns on use.
pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.deprecation.LangChainDeprecationWarning"
)


def _chain(backend: Backend, model: OpenAIChatModel) -> RunnableWithMessageHistory:
    def to_pyai(messages: list[BaseMessage]) -> list[Message]:
        return [Message.model_validate(d) for d in convert_to_openai_messages(messages)]

    def call(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(content=model.complete(to_pyai(messages)).content or "")

    async def acall(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(content=(await model.acomplete(to_pyai(messages))).content or "")

    return RunnableWithMessageHistory(
        RunnableLambda(call, afunc=acall),
        lambda session_id: PyaiChatMessageHistory(backend.session(session_id)),
    )


def test_runnable_with_message_history_remembers(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    chain = _chain(backend, model)
    config: Any = {"configurable": {"session_id": backend.session().session_id}}

    first = chain.invoke("My name is Alice", config=config)
    second = chain.invoke("What's my name?", config=config)

    assert (first.content, second.content) == ("Nice to meet you, Alice!", "Your name is Alice.")
    assert model_server.requests[-1].messages == [
        {"role": "user", "content": "My name is Alice"},
        {"role": "assistant", "content": "Nice to meet you, Alice!"},
        {"role": "user", "content": "What's my name?"},
    ]
    session = backend.session(config["configurable"]["session_id"])
    assert [str(m) for m in session.get_messages()] == [
        "user: My name is Alice",
        "assistant: Nice to meet you, Alice!",
        "user: What's my name?",
        "assistant: Your name is Alice.",
    ]


def test_runnable_with_message_history_async(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    session_id = backend.session().session_id

    async def conversation() -> list[Any]:
        async with make_model() as model:
            chain = _chain(backend, model)
            config: Any = {"configurable": {"session_id": session_id}}
            return [
                (await chain.ainvoke("My name is Alice", config=config)).content,
                (await chain.ainvoke("What's my name?", config=config)).content,
            ]

    assert asyncio.run(conversation()) == ["Nice to meet you, Alice!", "Your name is Alice."]
    assert backend.session(session_id).count() == 4


def test_langchain_messages_round_trip_exactly(backend: Backend) -> None:
    messages = [
        SystemMessage(content="Be brief."),
        HumanMessage(content="Weather?", name="alice", id="h1"),
        AIMessage(
            content="",
            id="run-1",
            tool_calls=[{"name": "weather", "args": {"city": "Kyoto"}, "id": "c1"}],
            response_metadata={"finish_reason": "tool_calls"},
            usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        ),
        ToolMessage(content="18 °C", tool_call_id="c1"),
        AIMessage(content=[{"type": "text", "text": "It is 18 °C."}]),
        ChatMessage(role="critic", content="Good."),
    ]
    history = PyaiChatMessageHistory(backend.session())
    history.add_messages(messages)
    assert history.messages == messages

    async def async_side() -> list[BaseMessage]:
        await history.aclear()
        await history.aadd_messages(messages[:2])
        return await history.aget_messages()

    assert asyncio.run(async_side()) == messages[:2]
    history.clear()
    assert history.messages == []


def test_the_pyai_view_is_chat_format(backend: Backend) -> None:
    session = backend.session()
    PyaiChatMessageHistory(session).add_messages(
        [
            HumanMessage(content="Weather?"),
            AIMessage(content="", tool_calls=[{"name": "w", "args": {"c": "K"}, "id": "c1"}]),
            ToolMessage(content="18", tool_call_id="c1"),
        ]
    )
    stored = session.get_messages()
    assert [m.role for m in stored] == ["user", "assistant", "tool"]
    assert stored[1].tool_calls == [
        {"type": "function", "id": "c1", "function": {"name": "w", "arguments": '{"c": "K"}'}}
    ]
    assert stored[2].tool_call_id == "c1"


def test_langchain_reads_a_conversation_pyai_began(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    Runner.run_sync(Agent("pyai", session=session, model=model), "My name is Alice")
    session.add_message("critic", "a custom role")
    history = PyaiChatMessageHistory(backend.session(session.session_id))
    assert history.messages == [
        HumanMessage(content="My name is Alice"),
        AIMessage(content="Nice to meet you, Alice!"),
        ChatMessage(role="critic", content="a custom role"),
    ]
    assert PyaiChatMessageHistory(session, history_limit=1).messages == history.messages[-1:]

    chain = _chain(backend, model)
    reply = chain.invoke(
        "What's my name?", config={"configurable": {"session_id": session.session_id}}
    )
    assert reply.content == "Your name is Alice."


def test_a_pair_is_added_atomically(backend: Backend) -> None:
    session = backend.session()
    history = PyaiChatMessageHistory(session)
    with pytest.raises(ValidationError):
        history.add_messages(
            [HumanMessage(content="fine"), AIMessage(content="x", additional_kwargs={"b": b"x"})]
        )
    assert session.count() == 0
