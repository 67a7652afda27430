"""The pyai agent demo: an agent that remembers across objects and processes.

    python examples/agent_demo.py         # run the whole demo

With ``PYAI_MODEL`` set (and ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` for its server)
it talks to that model. Without it, it starts the bundled local responder
(``local_model.py``) on 127.0.0.1: a deterministic stand-in that answers only from the
messages it is sent, so the demo runs with no network and no key.

The conversation is stored in SQLite (``sessions.db`` in the current directory, or
``$PYAI_DEMO_DB``), in session ``demo-agent``.
"""

from __future__ import annotations

import os
import subprocess
import sys

from local_model import LABEL, MODEL_NAME, LocalModelServer, Reply

from pyai import Agent, Runner
from pyai.models import ModelError
from pyai.sessions import SQLiteSession

DB = os.environ.get("PYAI_DEMO_DB", "sessions.db")
SESSION_ID = "demo-agent"
INSTRUCTIONS = "You are a helpful assistant. Answer in one short sentence."


def say(text: str) -> None:
    print(f"[agent pid={os.getpid()}] {text}", flush=True)


def turn(text: str) -> None:
    """One turn with a new Agent object, model from the environment."""
    with SQLiteSession(DB, SESSION_ID) as session:
        agent = Agent("Assistant", instructions=INSTRUCTIONS, session=session)
        say(f"you: {text}")
        say(f"assistant: {Runner.run_sync(agent, text).final_output}")


def ask_in_a_new_process(text: str) -> None:
    subprocess.run([sys.executable, os.path.abspath(__file__), "ask", text], check=True)


def show_history() -> None:
    with SQLiteSession(DB, SESSION_ID) as session:
        say(f"stored in {os.path.abspath(DB)}, session {SESSION_ID!r}:")
        for message in session.get_messages():
            print(f"    #{message.seq} {message}")


def show_failure(server: LocalModelServer) -> None:
    with SQLiteSession(DB, SESSION_ID) as session:
        before = session.count()
        server.script(*[Reply(status=500, headers={"Retry-After": "0"})] * 3)
        say("the local responder now fails with HTTP 500 (after 2 retries):")
        try:
            Runner.run_sync(Agent("Assistant", session=session), "Are you there?")
        except ModelError as exc:
            say(f"  {type(exc).__name__}: {exc}")
        say(f"  messages before: {before}, after: {session.count()} (a failed turn stores nothing)")


def main() -> None:
    with SQLiteSession(DB, SESSION_ID) as session:
        session.delete()  # start the demo from a clean slate
    server = None
    if os.environ.get("PYAI_MODEL", "").strip():
        where = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        say(f"model {os.environ['PYAI_MODEL']!r} at {where} (from PYAI_MODEL / OPENAI_BASE_URL)")
    else:
        server = LocalModelServer()
        os.environ.update(PYAI_MODEL=MODEL_NAME, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="")
        say("PYAI_MODEL is not set, so this demo uses the bundled LOCAL RESPONDER:")
        say(f"  {LABEL}")
        say(f"  at {server.base_url} (examples/local_model.py)")
        say("  set PYAI_MODEL (+ OPENAI_BASE_URL, OPENAI_API_KEY) to use a real model")
    try:
        turn("My name is Alice and I'm planning a trip to Kyoto.")
        say("a new process, a new Agent, the same session:")
        ask_in_a_new_process("What's my name?")
        show_history()
        say("the instructions went to the model as a system message; they are not stored")
        if server is not None:
            show_failure(server)
    finally:
        if server is not None:
            server.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "ask":
        turn(sys.argv[2])
    elif len(sys.argv) == 1:
        main()
    else:
        sys.exit(f"usage: {sys.argv[0]}")
