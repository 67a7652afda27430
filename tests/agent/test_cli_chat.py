"""``pyai chat``, driven through its standard input in a child process."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from examples.local_model import LocalModelServer, Reply

from ..conftest import Backend
from .conftest import ROOT, child_env

pytestmark = pytest.mark.slow


def _chat(
    url: str, session_id: str, stdin: str, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyai", "chat", "--session", session_id, "--url", url, *options],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_chat_persists_every_turn_and_shows_the_history_when_resuming(
    durable_backend: Backend, model_server: LocalModelServer
) -> None:
    assert durable_backend.url is not None
    session_id = f"chat-{uuid.uuid4().hex}"
    env = child_env(PYAI_MODEL="local-chat", OPENAI_BASE_URL=model_server.base_url)

    first = _chat(
        durable_backend.url, session_id, "My name is Alice\n\nhow many messages?\n", env=env
    )
    assert first.returncode == 0, first.stderr
    assert f"New session {session_id!r}" in first.stdout
    assert "assistant> Nice to meet you, Alice!" in first.stdout
    assert "assistant> I was sent 3 messages." in first.stdout

    second = _chat(durable_backend.url, session_id, "What's my name?\n/exit\nignored\n", env=env)
    assert second.returncode == 0, second.stderr
    assert f"Resuming session {session_id!r}: 4 stored messages." in second.stdout
    assert "#1 user: My name is Alice" in second.stdout
    assert "#4 assistant: I was sent 3 messages." in second.stdout
    assert "assistant> Your name is Alice." in second.stdout
    assert "ignored" not in second.stdout

    stored = durable_backend.session(session_id).get_messages()
    assert [m.content for m in stored][-2:] == ["What's my name?", "Your name is Alice."]
    assert len(stored) == 6
    assert {r.body["model"] for r in model_server.requests} == {"local-chat"}


def test_chat_options_model_instructions_and_window(
    durable_backend: Backend, model_server: LocalModelServer
) -> None:
    assert durable_backend.url is not None
    session_id = f"chat-{uuid.uuid4().hex}"
    session = durable_backend.session(session_id)
    session.add_messages([{"role": "user", "content": f"m{i}"} for i in range(5)])
    env = child_env(OPENAI_BASE_URL=model_server.base_url)

    proc = _chat(
        durable_backend.url,
        session_id,
        "hello\n/history\n",
        "--model",
        "named-model",
        "--instructions",
        "Be kind.",
        "--history-limit",
        "2",
        env=env,
    )

    assert proc.returncode == 0, proc.stderr
    assert "... 3 earlier messages (outside the history window)" in proc.stdout
    assert f"History of session {session_id!r}: 7 stored messages." in proc.stdout
    (request,) = model_server.requests
    assert request.body["model"] == "named-model"
    assert request.messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "m3"},
        {"role": "user", "content": "m4"},
        {"role": "user", "content": "hello"},
    ]


def test_a_failed_turn_is_reported_and_the_chat_goes_on(
    durable_backend: Backend, model_server: LocalModelServer
) -> None:
    assert durable_backend.url is not None
    session_id = f"chat-{uuid.uuid4().hex}"
    model_server.script(*[Reply(status=500, headers={"Retry-After": "0"})] * 3)
    env = child_env(PYAI_MODEL="local", OPENAI_BASE_URL=model_server.base_url)

    proc = _chat(durable_backend.url, session_id, "My name is Alice\nMy name is Bob\n", env=env)

    assert proc.returncode == 0, proc.stderr
    assert "HTTP 500" in proc.stderr and "nothing was stored" in proc.stderr
    assert "assistant> Nice to meet you, Bob!" in proc.stdout
    stored = durable_backend.session(session_id).get_messages()
    assert [m.content for m in stored] == ["My name is Bob", "Nice to meet you, Bob!"]


def test_chat_without_a_model_says_how_to_configure_one(tmp_path: Path) -> None:
    proc = _chat(f"sqlite:///{tmp_path}/chat.db", "s", "hello\n", env=child_env())
    assert proc.returncode == 1
    assert "pyai: error: pyai chat needs a model: pass --model NAME or set PYAI_MODEL" in (
        proc.stderr
    )
    assert "OPENAI_BASE_URL" in proc.stderr and "OPENAI_API_KEY" in proc.stderr
    assert proc.stdout == ""
