"""The OpenAI Agents SDK's real Runner, remembering in a pyai session, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from examples.local_model import LocalModelServer
from pyai import Agent, Runner
from pyai.models import OpenAIChatModel
from pyai.sessions import Session

from ..conftest import Backend

agents = pytest.importorskip("agents", reason="the openai-agents extra is not installed")
openai = pytest.importorskip("openai", reason="the openai-agents extra is not installed")

from pyai.integrations.openai_agents import (  # noqa: E402
    ITEM_KEY,
    OpenAIAgentsSession,
    item_to_message,
    message_to_items,
)

T = TypeVar("T")

# Traces would be exported to OpenAI's servers; these tests talk to 127.0.0.1 only.
agents.set_tracing_disabled(True)
NO_TRACING = agents.RunConfig(tracing_disabled=True)


def _with_sdk_agent(
    server: LocalModelServer, body: Callable[[Any], Awaitable[T]], **agent_options: Any
) -> T:
    """Run ``body(sdk_agent)`` in an event loop, with an SDK agent on the local responder."""

    async def main() -> T:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
        try:
            model = agents.OpenAIChatCompletionsModel(model="local-sdk", openai_client=client)
            agent = agents.Agent(name="Assistant", model=model, **agent_options)
            return await body(agent)
        finally:
            await client.close()

    return asyncio.run(main())


def test_the_sdk_runner_remembers_in_a_pyai_session(
    backend: Backend, model_server: LocalModelServer
) -> None:
    pyai_session = backend.session()

    async def conversation(agent: Any) -> list[str]:
        session = OpenAIAgentsSession(pyai_session)
        first = await agents.Runner.run(
            agent, "My name is Alice", session=session, run_config=NO_TRACING
        )
        # A new SDK session object over a new pyai session object, same id.
        again = OpenAIAgentsSession(backend.session(pyai_session.session_id))
        second = await agents.Runner.run(
            agent, "What's my name?", session=again, run_config=NO_TRACING
        )
        return [first.final_output, second.final_output]

    outputs = _with_sdk_agent(model_server, conversation, instructions="Be brief.")

    assert outputs == ["Nice to meet you, Alice!", "Your name is Alice."]
    assert model_server.requests[-1].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Alice"},
        {"role": "assistant", "content": "Nice to meet you, Alice!"},
        {"role": "user", "content": "What's my name?"},
    ]
    # The pyai view: a plain chat transcript.
    assert [str(m) for m in pyai_session.get_messages()] == [
        "user: My name is Alice",
        "assistant: Nice to meet you, Alice!",
        "user: What's my name?",
        "assistant: Your name is Alice.",
    ]


def test_sdk_items_round_trip_exactly(backend: Backend) -> None:
    items: list[Any] = [
        {"role": "user", "content": "plain"},
        {"role": "user", "content": [{"type": "input_text", "text": "parts"}]},
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "hi", "annotations": [], "logprobs": []}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"x": 1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "…"}]},
    ]
    pyai_session = backend.session()
    session = OpenAIAgentsSession(pyai_session)

    async def check() -> None:
        await session.add_items(items)
        assert await session.get_items() == items
        assert await session.get_items(limit=2) == items[-2:]
        assert await session.get_items(limit=0) == []
        assert await session.pop_item() == items[-1]
        assert await session.get_items() == items[:-1]
        await session.clear_session()
        assert await session.get_items() == []
        assert await session.pop_item() is None

    asyncio.run(check())
    assert pyai_session.count() == 0


def test_the_pyai_view_of_sdk_items() -> None:
    call = item_to_message(
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}  # type: ignore[typeddict-item]
    )
    assert (call.role, call.content) == ("assistant", None)
    assert call.tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    output = item_to_message({"type": "function_call_output", "call_id": "c1", "output": "42"})  # type: ignore[typeddict-item]
    assert (output.role, output.tool_call_id, output.content) == ("tool", "c1", "42")
    plain = item_to_message({"role": "user", "content": "hi"})
    assert plain.metadata == {}
    assert ITEM_KEY in call.metadata


def test_the_sdk_continues_a_conversation_pyai_began(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    pyai_session = backend.session()
    Runner.run_sync(Agent("pyai", session=pyai_session, model=model), "My name is Alice")
    pyai_session.add_messages(
        [
            {"role": "user", "content": [{"type": "text", "text": "a list"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c9", "type": "function", "function": {"name": "g", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c9", "content": "done"},
            {"role": "assistant", "content": "ok"},
        ]
    )
    converted = [i for m in pyai_session.get_messages() for i in message_to_items(m)]
    assert converted[2:] == [
        {"role": "user", "content": [{"type": "input_text", "text": "a list"}]},
        {"type": "function_call", "call_id": "c9", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c9", "output": "done"},
        {"role": "assistant", "content": "ok"},
    ]

    async def ask(agent: Any) -> str:
        session = OpenAIAgentsSession(pyai_session)
        result = await agents.Runner.run(
            agent, "What's my name?", session=session, run_config=NO_TRACING
        )
        return str(result.final_output)

    assert _with_sdk_agent(model_server, ask) == "Your name is Alice."
    sent = model_server.requests[-1].messages
    assert sent[0] == {"role": "user", "content": "My name is Alice"}
    assert sent[-1] == {"role": "user", "content": "What's my name?"}


def test_an_sdk_tool_loop_is_stored_whole(backend: Backend, model_server: LocalModelServer) -> None:
    calls: list[str] = []

    @agents.function_tool
    def lookup(text: str) -> str:
        """Look something up."""
        calls.append(text)
        return "pyai stores conversations"

    pyai_session: Session = backend.session()

    async def run(agent: Any) -> str:
        result = await agents.Runner.run(
            agent,
            "please lookup pyai",
            session=OpenAIAgentsSession(pyai_session),
            run_config=NO_TRACING,
        )
        return str(result.final_output)

    output = _with_sdk_agent(model_server, run, tools=[lookup])

    assert output == "The tool said: pyai stores conversations"
    assert calls == ["please lookup pyai"]
    stored = pyai_session.get_messages()
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    (call,) = stored[1].tool_calls or []
    assert call["function"]["name"] == "lookup"
    assert stored[2].tool_call_id == call["id"]
    assert stored[2].content == "pyai stores conversations"
