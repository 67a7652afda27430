"""Agents in other processes, on the backends those processes can reach through a URL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid

import pytest

from examples.local_model import LocalModelServer, Reply
from pyai import Agent, Runner
from pyai.models import OpenAIChatModel

from ..conftest import Backend
from .conftest import ROOT, child_env, run_python

# A child process: a new interpreter, a new session object from the URL, a new Agent.
CHILD_RUN = """
import json, sys
from pyai import Agent, Runner
from pyai.models import OpenAIChatModel
from pyai.sessions import open_session

url, session_id, base_url, text = sys.argv[1:5]
with open_session(url, session_id) as session, OpenAIChatModel(
    "local-test", base_url=base_url, api_key="", timeout=60
) as model:
    result = Runner.run_sync(Agent("Child", session=session, model=model), text)
print(json.dumps({"output": result.final_output, "seqs": [m.seq for m in result.new_messages]}))
"""


@pytest.mark.slow
def test_a_fresh_process_still_knows(
    durable_backend: Backend, model_server: LocalModelServer, model: OpenAIChatModel
) -> None:
    assert durable_backend.url is not None
    session = durable_backend.session()
    Runner.run_sync(Agent("Parent", session=session, model=model), "My name is Alice")

    proc = run_python(
        CHILD_RUN, durable_backend.url, session.session_id, model_server.base_url, "What's my name?"
    )

    assert json.loads(proc.stdout) == {"output": "Your name is Alice.", "seqs": [3, 4]}
    assert [m.content for m in session.get_messages()][2:] == [
        "What's my name?",
        "Your name is Alice.",
    ]


@pytest.mark.slow
def test_two_runs_from_two_processes_at_once_both_land_whole(
    durable_backend: Backend, model_server: LocalModelServer
) -> None:
    assert durable_backend.url is not None
    session = durable_backend.session(f"race-{uuid.uuid4().hex}")
    session.add_messages(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    )
    # The server holds both requests until both have arrived: each run has read the
    # history and called the model before either stores its turn.
    both_arrived = threading.Barrier(2)
    model_server.script(Reply(barrier=both_arrived), Reply(barrier=both_arrived))

    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD_RUN,
                durable_backend.url,
                session.session_id,
                model_server.base_url,
                f"My name is {name}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=ROOT,
        )
        for name in ("Bob", "Carol")
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(json.loads(out)["output"])

    assert sorted(outputs) == ["Nice to meet you, Bob!", "Nice to meet you, Carol!"]
    assert not both_arrived.broken
    assert [len(r.messages) for r in model_server.requests] == [3, 3]
    stored = session.get_messages()
    assert [m.seq for m in stored] == [1, 2, 3, 4, 5, 6]
    turns = [(stored[i].content, stored[i + 1].content) for i in (2, 4)]
    assert sorted(turns) == [
        ("My name is Bob", "Nice to meet you, Bob!"),
        ("My name is Carol", "Nice to meet you, Carol!"),
    ]
    assert [m.role for m in stored[2:]] == ["user", "assistant"] * 2
