"""Fixtures for the agent tests: the bundled local responder on 127.0.0.1, models bound
to it, and child Python processes.

The responder (``examples/local_model.py``) is a real HTTP server speaking the OpenAI
chat-completions protocol: the real httpx client talks to it over loopback, nothing in
the HTTP layer is mocked. It answers only from the messages it is sent, so a reply that
knows the user's name proves the history reached the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.local_model import LocalModelServer
from pyai.models import OpenAIChatModel

ROOT = Path(__file__).resolve().parents[2]
MODEL_ENV = ("PYAI_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def _no_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's PYAI_MODEL / OPENAI_* must never send test traffic anywhere."""
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def model_server() -> Iterator[LocalModelServer]:
    """The local responder on a free port of 127.0.0.1."""
    with LocalModelServer() as server:
        yield server


ModelFactory = Callable[..., OpenAIChatModel]


@pytest.fixture
def make_model(model_server: LocalModelServer) -> Iterator[ModelFactory]:
    """Build OpenAIChatModels bound to the responder; the sync ones are closed afterwards
    (async tests close theirs with ``async with``)."""
    made: list[OpenAIChatModel] = []

    def make(**options: Any) -> OpenAIChatModel:
        options.setdefault("base_url", model_server.base_url)
        options.setdefault("api_key", "")
        options.setdefault("timeout", 10)
        model = OpenAIChatModel(options.pop("model", "local-test"), **options)
        made.append(model)
        return model

    yield make
    for model in made:
        model.close()


@pytest.fixture
def model(make_model: ModelFactory) -> OpenAIChatModel:
    """A model bound to the responder, with fast retries."""
    return make_model(max_retries=2)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no model configuration unless given."""
    env = {k: v for k, v in os.environ.items() if k not in MODEL_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_python(
    code: str, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; fails the test if it fails."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or child_env(),
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stderr}"
    return proc
