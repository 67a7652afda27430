"""Agent and Runner on every backend, against the real HTTP client and the local responder."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from examples.local_model import LocalModelServer, Reply
from pyai import Agent, Runner, RunResult
from pyai.models import (
    Model,
    ModelError,
    ModelNotConfiguredError,
    ModelStatusError,
    ModelTimeoutError,
    OpenAIChatModel,
)
from pyai.sessions import Message, Session
from pyai.sessions.errors import ConfigurationError, SessionError, ValidationError

from ..conftest import Backend
from .conftest import ModelFactory

ALICE = "My name is Alice"
ASK = "What's my name?"


def _dicts(messages: list[Message]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in messages]


def _seed(session: Session, pairs: int) -> list[Message]:
    return session.add_messages(
        m
        for i in range(pairs)
        for m in (
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        )
    )


# -- the conversation that remembers ------------------------------------------------------


def test_alice_conversation(backend: Backend, model: OpenAIChatModel) -> None:
    session = backend.session()
    agent = Agent(name="Assistant", instructions="Be brief.", session=session, model=model)

    first = Runner.run_sync(agent, ALICE)
    second = Runner.run_sync(agent, ASK)

    assert isinstance(first, RunResult)
    assert first.final_output == "Nice to meet you, Alice!"
    assert second.final_output == "Your name is Alice."
    assert second.session_id == session.session_id
    stored = session.get_messages()
    assert [str(m) for m in stored] == [
        f"user: {ALICE}",
        "assistant: Nice to meet you, Alice!",
        f"user: {ASK}",
        "assistant: Your name is Alice.",
    ]
    assert [m.seq for m in stored] == [1, 2, 3, 4]
    assert second.new_messages == stored[2:]
    assert second.reply == stored[3]
    assert second.reply.metadata["finish_reason"] == "stop"
    assert second.reply.metadata["model"] == "local-test"


def test_alice_conversation_async(backend: Backend, make_model: ModelFactory) -> None:
    session = backend.session()

    async def conversation() -> tuple[RunResult, RunResult]:
        async with make_model() as model:
            agent = Agent("Assistant", session=session, model=model)
            return await Runner.run(agent, ALICE), await Runner.run(agent, ASK)

    first, second = asyncio.run(conversation())
    assert (first.final_output, second.final_output) == (
        "Nice to meet you, Alice!",
        "Your name is Alice.",
    )
    assert [m.role for m in session.get_messages()] == ["user", "assistant"] * 2


def test_a_second_agent_on_the_same_session_knows(backend: Backend, model: OpenAIChatModel) -> None:
    first = backend.session()
    Runner.run_sync(Agent("First", session=first, model=model), ALICE)

    second = Agent("Second", session=backend.session(first.session_id), model=model)
    assert Runner.run_sync(second, ASK).final_output == "Your name is Alice."
    assert first.count() == 4


def test_session_given_to_the_run_overrides_the_agents(
    backend: Backend, model: OpenAIChatModel
) -> None:
    mine, theirs = backend.session(), backend.session()
    agent = Agent("Assistant", session=theirs, model=model)
    result = Runner.run_sync(agent, ALICE, session=mine)
    assert result.session_id == mine.session_id
    assert (mine.count(), theirs.count()) == (2, 0)


def test_an_agent_without_a_session_is_stateless(
    model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    agent = Agent("Stateless", model=model)
    first = Runner.run_sync(agent, ALICE)
    assert first.session_id is None
    assert [m.seq for m in first.new_messages] == [None, None]
    assert Runner.run_sync(agent, ASK).final_output == "I don't know your name yet."
    assert model_server.requests[-1].messages == [{"role": "user", "content": ASK}]


def test_many_turns_neither_duplicate_nor_lose_history(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    agent = Agent("A", session=session, model=model, history_limit=None)
    for turn in range(5):
        Runner.run_sync(agent, f"turn {turn}")
        stored = session.get_messages()
        # The model saw every earlier message once and the new input once, and the
        # session gained exactly this turn.
        assert model_server.requests[-1].messages == [
            *_dicts(stored[:-2]),
            {"role": "user", "content": f"turn {turn}"},
        ]
        assert [m.content for m in stored[-2:]] == [f"turn {turn}", f"You said: turn {turn}"]
        assert [m.seq for m in stored] == list(range(1, 2 * turn + 3))


# -- what the model receives ---------------------------------------------------------------


def test_instructions_are_sent_first_and_never_stored(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    agent = Agent("Assistant", instructions="You are terse.", session=session, model=model)
    Runner.run_sync(agent, ALICE)
    Runner.run_sync(agent, ASK)
    assert model_server.requests[-1].messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": ALICE},
        {"role": "assistant", "content": "Nice to meet you, Alice!"},
        {"role": "user", "content": ASK},
    ]
    assert "system" not in [m.role for m in session.get_messages()]


@pytest.mark.parametrize("limit", [0, 1, 4, 7])
def test_the_model_receives_exactly_the_history_window(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel, limit: int
) -> None:
    session = backend.session()
    history = _seed(session, pairs=5)
    agent = Agent("Assistant", instructions="Rules.", session=session, model=model)
    agent.history_limit = limit

    Runner.run_sync(agent, "hello")

    window = history[len(history) - limit :] if limit else []
    assert model_server.requests[-1].messages == [
        {"role": "system", "content": "Rules."},
        *_dicts(window),
        {"role": "user", "content": "hello"},
    ]
    assert session.count() == 12  # older messages stay stored


def test_history_limit_none_sends_the_whole_history(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    history = _seed(session, pairs=30)
    Runner.run_sync(Agent("A", session=session, model=model, history_limit=None), "hi")
    assert model_server.requests[-1].messages == [
        *_dicts(history),
        {"role": "user", "content": "hi"},
    ]


def test_the_window_leaves_out_tool_results_whose_call_fell_outside_it(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    session.add_messages(
        [
            {"role": "user", "content": "call f"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
            {"role": "assistant", "content": "f says 42"},
        ]
    )
    Runner.run_sync(Agent("A", session=session, model=model, history_limit=2), "thanks")
    assert model_server.requests[-1].messages == [
        {"role": "assistant", "content": "f says 42"},
        {"role": "user", "content": "thanks"},
    ]


def test_the_default_window_is_50_messages(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    history = _seed(session, pairs=40)
    agent = Agent("A", session=session, model=model)
    assert agent.history_limit == 50
    Runner.run_sync(agent, "hi")
    assert model_server.requests[-1].messages[:-1] == _dicts(history[-50:])


# -- failures store nothing ----------------------------------------------------------------


def test_a_500_from_the_model_stores_nothing(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    session = backend.session()
    agent = Agent("A", session=session, model=make_model(max_retries=0))
    Runner.run_sync(agent, ALICE)
    model_server.script(Reply(status=500))

    with pytest.raises(ModelStatusError, match="HTTP 500") as caught:
        Runner.run_sync(agent, ASK)

    assert isinstance(caught.value, SessionError)
    assert caught.value.status_code == 500
    assert [m.content for m in session.get_messages()] == [ALICE, "Nice to meet you, Alice!"]
    # The next run works and sees only the stored turns.
    assert Runner.run_sync(agent, ASK).final_output == "Your name is Alice."
    assert session.count() == 4


def test_retries_that_run_out_store_nothing(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    session = backend.session()
    agent = Agent("A", session=session, model=make_model(max_retries=2))
    zero = {"Retry-After": "0"}
    model_server.script(*[Reply(status=503, headers=zero)] * 3)

    with pytest.raises(ModelStatusError) as caught:
        Runner.run_sync(agent, ALICE)

    assert caught.value.status_code == 503
    assert len(model_server.requests) == 3
    assert session.count() == 0


def test_a_429_then_success_is_retried_and_stored_once(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    model_server.script(Reply(status=429, headers={"Retry-After": "0"}))

    result = Runner.run_sync(Agent("A", session=session, model=model), ALICE)

    assert result.final_output == "Nice to meet you, Alice!"
    assert len(model_server.requests) == 2
    assert [m.content for m in session.get_messages()] == [ALICE, "Nice to meet you, Alice!"]


def test_a_timeout_stores_nothing(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    session = backend.session()
    agent = Agent("A", session=session, model=make_model(timeout=0.3, max_retries=0))
    model_server.script(Reply(delay=30))

    started = time.monotonic()
    with pytest.raises(ModelTimeoutError, match=r"did not answer within 0\.3s"):
        Runner.run_sync(agent, ALICE)

    assert time.monotonic() - started < 10
    assert session.count() == 0


def test_a_timeout_then_success_is_retried(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    session = backend.session()
    agent = Agent("A", session=session, model=make_model(timeout=0.3, max_retries=1))
    model_server.script(Reply(delay=30))
    assert Runner.run_sync(agent, ALICE).final_output == "Nice to meet you, Alice!"
    assert session.count() == 2


def test_an_async_failure_stores_nothing(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    session = backend.session()
    model_server.script(Reply(status=500))

    async def run() -> None:
        async with make_model(max_retries=0) as model:
            await Runner.run(Agent("A", session=session, model=model), ALICE)

    with pytest.raises(ModelStatusError):
        asyncio.run(run())
    assert session.count() == 0


class _Broken:
    def complete(self, messages: list[Message]) -> Message:
        raise RuntimeError("the GPU caught fire")

    async def acomplete(self, messages: list[Message]) -> Message:
        raise RuntimeError("the GPU caught fire")


class _Wrong:
    def complete(self, messages: list[Message]) -> Message:
        return {"role": "assistant", "content": "a dict"}  # type: ignore[return-value]

    async def acomplete(self, messages: list[Message]) -> Message:
        return self.complete(messages)


def test_a_custom_model_that_raises_gives_a_model_error(backend: Backend) -> None:
    session = backend.session()
    assert isinstance(_Broken(), Model)
    agent = Agent("A", session=session, model=_Broken())
    with pytest.raises(ModelError, match=r"GPU caught fire.*nothing was stored") as caught:
        Runner.run_sync(agent, ALICE)
    assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(ModelError, match="GPU caught fire"):
        asyncio.run(Runner.run(agent, ALICE))
    with pytest.raises(ModelError, match="not a pyai Message"):
        Runner.run_sync(Agent("B", session=session, model=_Wrong()), ALICE)
    assert session.count() == 0


# -- tool calls ----------------------------------------------------------------------------


def test_tool_calls_are_stored_as_they_came(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    calls = [
        {
            "id": "call_abc",
            "type": "function",
            "index": 0,
            "function": {"name": "get_weather", "arguments": '{"city": "Kyoto", "unit": "°C"}'},
        },
        {"id": "call_def", "type": "function", "function": {"name": "now", "arguments": "{}"}},
    ]
    model_server.script(Reply(message={"role": "assistant", "content": None, "tool_calls": calls}))
    agent = Agent("A", session=session, model=model)

    result = Runner.run_sync(agent, "Weather in Kyoto?")

    assert result.final_output == ""
    assert result.reply.tool_calls == calls
    assert result.reply.metadata["finish_reason"] == "tool_calls"
    assert session.get_messages()[-1].tool_calls == calls

    # The caller answers the calls; the tool results and the reply are stored as one turn.
    answer = Runner.run_sync(
        agent,
        [
            {"role": "tool", "tool_call_id": "call_abc", "content": "18 °C, clear"},
            {"role": "tool", "tool_call_id": "call_def", "content": "noon"},
        ],
    )
    assert answer.final_output == "The tool said: noon"
    assert [m.role for m in session.get_messages()] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    sent = model_server.requests[-1].messages
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": calls}


def test_tools_given_in_params_reach_the_server(
    backend: Backend, model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    session = backend.session()
    agent = Agent("A", session=session, model=make_model(params={"tools": [tool]}))
    result = Runner.run_sync(agent, "please lookup pyai")
    assert model_server.requests[-1].body["tools"] == [tool]
    (call,) = result.reply.tool_calls or []
    assert call["function"]["name"] == "lookup"
    assert session.get_messages()[-1].tool_calls == [call]


# -- configuration -------------------------------------------------------------------------


def test_no_model_configured_says_how_to_configure_one(backend: Backend) -> None:
    session = backend.session()
    agent = Agent("Assistant", session=session)
    with pytest.raises(ModelNotConfiguredError) as caught:
        Runner.run_sync(agent, ALICE)
    message = str(caught.value)
    for hint in ("Agent 'Assistant'", "PYAI_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        assert hint in message
    assert "model=OpenAIChatModel(" in message
    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ModelError)
    with pytest.raises(ModelNotConfiguredError):
        asyncio.run(Runner.run(agent, ALICE))
    assert session.count() == 0


def test_the_model_comes_from_the_environment(
    backend: Backend, model_server: LocalModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYAI_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env")
    session = backend.session()

    Runner.run_sync(Agent("A", session=session), ALICE)
    Runner.run_sync(Agent("B", session=session, model="by-name"), ASK)
    asyncio.run(Runner.run(Agent("C", session=session), "hi"))

    assert [r.body["model"] for r in model_server.requests] == ["from-env", "by-name", "from-env"]
    assert {r.headers["Authorization"] for r in model_server.requests} == {"Bearer sk-test-env"}
    assert session.count() == 6


def test_invalid_input_is_rejected_before_anything_is_sent(
    backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    session = backend.session()
    agent = Agent("A", session=session, model=model)
    for bad in (42, [], b"bytes", [{"role": ""}]):
        with pytest.raises(ValidationError):
            Runner.run_sync(agent, bad)  # type: ignore[arg-type]
    assert model_server.requests == []
    assert session.count() == 0


def test_agent_arguments_are_validated() -> None:
    with pytest.raises(ValidationError, match="name"):
        Agent("")
    with pytest.raises(ValidationError, match="history_limit"):
        Agent("A", history_limit=-1)
    with pytest.raises(ValidationError, match="history_limit"):
        Agent("A", history_limit=True)
    with pytest.raises(ValidationError, match=r"session must be a pyai\.sessions\.Session"):
        Agent("A", session="sqlite:///x.db")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="model must be"):
        Runner.run_sync(Agent("A", model=42), "hi")  # type: ignore[arg-type]


def test_runs_from_threads_on_one_session_each_land_whole(
    backend: Backend, model: OpenAIChatModel
) -> None:
    session = backend.session()
    names = [f"User{i}" for i in range(6)]
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            agent = Agent("A", session=backend.session(session.session_id), model=model)
            Runner.run_sync(agent, f"My name is {name}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = session.get_messages()
    assert [m.seq for m in stored] == list(range(1, 13))
    for user, reply in zip(stored[::2], stored[1::2], strict=True):
        name = str(user.content).removeprefix("My name is ")
        assert reply.content == f"Nice to meet you, {name}!"
    assert sorted(str(m.content)[11:] for m in stored[::2]) == names
