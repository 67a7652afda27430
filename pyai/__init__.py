"""pyai: durable conversation memory for AI agents.

from pyai import Agent, Runner
from pyai.sessions import SQLiteSession

agent = Agent("Assistant", instructions="Be brief.", session=SQLiteSession("s.db", "user-1"))
Runner.run_sync(agent, "My name is Alice")
Runner.run_sync(agent, "What's my name?").final_output
"""

from __future__ import annotations

from .agent import Agent, Runner, RunResult

__all__ = ["Agent", "RunResult", "Runner"]
