"""OpenAIChatModel over real HTTP: retries, errors, secrets, configuration, imports."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest

import pyai
import pyai.models
from examples.local_model import LocalModelServer, Reply
from pyai.models import (
    Model,
    ModelError,
    ModelNotConfiguredError,
    ModelStatusError,
    OpenAIChatModel,
    resolve_model,
)
from pyai.sessions import Message
from pyai.sessions.errors import ConfigurationError

from .conftest import ModelFactory, child_env, run_python

SECRET = "sk-proj-VERY-SECRET-0123456789"
HELLO = [Message(role="user", content="hello")]


def test_public_names() -> None:
    assert pyai.__all__ == sorted(pyai.__all__) == ["Agent", "RunResult", "Runner"]
    assert pyai.models.__all__ == sorted(pyai.models.__all__)
    for name in pyai.models.__all__:
        assert getattr(pyai.models, name) is not None


def test_a_reply_is_a_message_with_its_metadata(make_model: ModelFactory) -> None:
    reply = make_model().complete([{"role": "user", "content": "My name is Zoë"}])
    assert isinstance(reply, Message)
    assert (reply.role, reply.content, reply.seq, reply.tool_calls) == (
        "assistant",
        "Nice to meet you, Zoë!",
        None,
        None,
    )
    assert reply.metadata["model"] == "local-test"
    assert reply.metadata["response_id"].startswith("chatcmpl-local-")
    assert reply.metadata["usage"]["total_tokens"] > 0


def test_the_api_key_is_sent_and_never_shown(
    model_server: LocalModelServer, make_model: ModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    model = make_model(api_key=SECRET, max_retries=1)
    model.complete(HELLO)
    assert model_server.requests[-1].headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(model) and SECRET not in str(model)
    assert SECRET not in repr(vars(model))
    assert "api_key='***'" in repr(model)

    # A server that echoes the key in its error: retried, logged, raised; never shown.
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {SECRET}"}}).encode()
    model_server.script(Reply(status=500, body=echo, headers={"Retry-After": "0"}))
    model_server.script(Reply(status=401, body=echo))
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelStatusError) as caught:
        model.complete(HELLO)
    assert caught.value.status_code == 401
    assert "check the API key" in str(caught.value)
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert "retrying" in caplog.text
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text


def test_no_key_sends_no_authorization(
    model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    make_model(api_key="").complete(HELLO)
    assert "Authorization" not in model_server.requests[-1].headers


def test_a_server_that_requires_a_key_rejects_a_wrong_one(make_model: ModelFactory) -> None:
    with LocalModelServer(api_key="right") as server:
        assert make_model(base_url=server.base_url, api_key="right").complete(HELLO).content
        with pytest.raises(ModelStatusError, match="401"):
            make_model(base_url=server.base_url, api_key="wrong").complete(HELLO)


def test_retry_after_is_honoured(model_server: LocalModelServer, make_model: ModelFactory) -> None:
    model_server.script(Reply(status=429, headers={"Retry-After": "1"}))
    model_server.script(Reply(status=503, headers={"retry-after-ms": "300"}))
    started = time.monotonic()
    assert make_model(max_retries=2).complete(HELLO).content == "You said: hello"
    assert time.monotonic() - started >= 1.25
    assert len(model_server.requests) == 3


def test_client_errors_are_not_retried(
    model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    model_server.script(Reply(status=400))
    with pytest.raises(ModelStatusError, match="HTTP 400 Bad Request: scripted HTTP 400"):
        make_model(max_retries=3).complete(HELLO)
    assert len(model_server.requests) == 1
    model_server.script(Reply(status=404))
    with pytest.raises(ModelStatusError, match="base_url ends with /v1"):
        make_model(max_retries=3).complete(HELLO)


def test_unreadable_replies_are_model_errors(
    model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    model = make_model(max_retries=0)
    model_server.script(Reply(body=b"<html>not json</html>"))
    with pytest.raises(ModelError, match="not JSON"):
        model.complete(HELLO)
    model_server.script(Reply(body=b'{"choices": []}'))
    with pytest.raises(ModelError, match=r"without choices\[0\].message"):
        model.complete(HELLO)
    model_server.script(Reply(body=b'{"choices": [{"message": {"content": 42}}]}'))
    with pytest.raises(ModelError, match="cannot read"):
        model.complete(HELLO)


def test_an_unreachable_server_is_a_model_error(make_model: ModelFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(ModelError, match="could not be reached"):
        model.complete(HELLO)


def test_params_are_sent_and_reserved_ones_refused(
    model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    make_model(params={"temperature": 0, "max_tokens": 5}).complete(HELLO)
    body = model_server.requests[-1].body
    assert (body["temperature"], body["max_tokens"], body["model"]) == (0, 5, "local-test")
    for reserved in ("model", "messages", "stream"):
        with pytest.raises(ConfigurationError, match="params may not set"):
            OpenAIChatModel("m", base_url="http://127.0.0.1:1/v1", params={reserved: 1})


def test_arguments_are_validated() -> None:
    url = "http://127.0.0.1:1/v1"
    with pytest.raises(ConfigurationError, match="base_url"):
        OpenAIChatModel("m", base_url="127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="timeout"):
        OpenAIChatModel("m", base_url=url, timeout=0)
    with pytest.raises(ConfigurationError, match="max_retries"):
        OpenAIChatModel("m", base_url=url, max_retries=-1)
    with pytest.raises(ModelNotConfiguredError, match="PYAI_MODEL"):
        OpenAIChatModel(base_url=url)


def test_configuration_from_the_environment(
    model_server: LocalModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYAI_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.base_url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with OpenAIChatModel() as model:
        assert (model.model, model.base_url) == ("env-model", model_server.base_url)
        model.complete(HELLO)
    assert model_server.requests[-1].headers["Authorization"] == f"Bearer {SECRET}"
    with OpenAIChatModel("explicit", api_key="") as model:
        model.complete(HELLO)
    assert model_server.requests[-1].body["model"] == "explicit"
    assert "Authorization" not in model_server.requests[-1].headers

    built = resolve_model()
    assert isinstance(built, OpenAIChatModel) and isinstance(built, Model)
    assert built.model == "env-model"
    assert resolve_model(built) is built
    monkeypatch.delenv("PYAI_MODEL")
    with pytest.raises(ModelNotConfiguredError, match="no model is configured"):
        resolve_model()


def test_the_default_server_is_openai() -> None:
    model = OpenAIChatModel("gpt-4o-mini")
    assert model.base_url == "https://api.openai.com/v1"
    password_url = "https://user:hunter2@proxy.example/v1"
    assert "hunter2" not in repr(OpenAIChatModel("m", base_url=password_url))


def test_a_closed_model_says_so(make_model: ModelFactory) -> None:
    model = make_model()
    model.complete(HELLO)
    model.close()
    model.close()
    assert model.closed
    with pytest.raises(ModelError, match="is closed"):
        model.complete(HELLO)


def test_async_calls_from_several_event_loops(
    model_server: LocalModelServer, make_model: ModelFactory
) -> None:
    model = make_model()

    async def ask(text: str) -> str:
        return str((await model.acomplete([Message(role="user", content=text)])).content)

    async def ask_twice_then_close() -> list[str]:
        answers = [await ask("one"), await ask("two")]
        await model.aclose()
        return answers

    assert asyncio.run(ask("first loop")) == "You said: first loop"
    # The pooled async client belongs to the first loop, which has ended: a later loop
    # gets one of its own.
    assert asyncio.run(ask_twice_then_close()) == ["You said: one", "You said: two"]
    assert len(model_server.requests) == 3


def test_concurrent_async_calls(make_model: ModelFactory) -> None:
    async def many() -> list[str]:
        async with make_model() as model:
            replies = await asyncio.gather(
                *(model.acomplete([Message(role="user", content=f"n{i}")]) for i in range(8))
            )
        return [str(r.content) for r in replies]

    assert asyncio.run(many()) == [f"You said: n{i}" for i in range(8)]


# -- httpx is optional ---------------------------------------------------------------------


def test_importing_pyai_does_not_import_httpx() -> None:
    proc = run_python("import sys, pyai, pyai.models, pyai.agent; print('httpx' in sys.modules)")
    assert proc.stdout.strip() == "False"


def test_without_httpx_the_error_names_the_extra() -> None:
    code = """
import sys
sys.modules["httpx"] = None  # as if it were not installed
from pyai import Agent, Runner
from pyai.models import OpenAIChatModel
from pyai.sessions.errors import ConfigurationError
for attempt in (lambda: OpenAIChatModel("m"), lambda: Runner.run_sync(Agent("A", model="m"), "hi")):
    try:
        attempt()
    except ConfigurationError as exc:
        print(exc)
"""
    proc = run_python(code, env=child_env())
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("pip install 'pyai[models]'" in line for line in lines)


def test_a_custom_model_needs_no_httpx(model_server: LocalModelServer) -> None:
    code = """
import sys
sys.modules["httpx"] = None
from pyai import Agent, Runner
from pyai.sessions import InMemorySession, Message

class Echo:
    def complete(self, messages):
        return Message(role="assistant", content=str(len(messages)))
    async def acomplete(self, messages):
        return self.complete(messages)

agent = Agent("A", instructions="x", session=InMemorySession("s"), model=Echo())
Runner.run_sync(agent, "one")
print(Runner.run_sync(agent, "two").final_output)
"""
    assert run_python(code).stdout.strip() == "4"
