"""Agent and Runner: a conversation that remembers, on top of any session.

A run has three steps, and only the middle one talks to the model::

    history = session.get_messages(limit=agent.history_limit)      # the history window
    reply = model.complete([instructions, *history, *input])         # nothing stored yet
    session.add_messages([*input, reply])                             # one atomic append

The instructions go to the model as a ``system`` message and are never stored. The input
and the reply are stored together after the model answered, so a turn lands whole (at
adjacent positions) or not at all: a failed model call stores nothing and raises a
:class:`~pyai.models.errors.ModelError`. Two runs on one session at once both land whole,
in some order; each saw the history as it was before either stored.

:class:`Agent` and :class:`Runner` depend only on the :class:`~pyai.sessions.Session`
API, never on a database. Everything without I/O (building the request, the turn to
store, the result) lives in :class:`_Turn`; ``Runner.run`` and ``Runner.run_sync`` are
thin sequences of the three calls above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .models import Model, OpenAIChatModel, resolve_model
from .models.errors import ModelError
from .sessions import Message, Session
from .sessions._message import to_message
from .sessions.errors import SessionError, ValidationError

__all__ = ["Agent", "RunInput", "RunResult", "Runner"]

DEFAULT_HISTORY_LIMIT = 50

RunInput = str | Message | dict[str, Any] | Iterable[Message | dict[str, Any]]
"""What a run accepts: text (a ``user`` message), a message, or several messages
(e.g. ``tool`` results answering the previous reply's ``tool_calls``)."""


@dataclass(eq=False)
class Agent:
    """A named assistant: instructions, a model, and (optionally) a session to remember in.

    Args:
        name: the agent's name (for messages and logs).
        instructions: sent to the model first, as a ``system`` message; never stored.
        session: where the conversation lives; without one the agent is stateless.
            ``Runner.run(..., session=...)`` overrides it for one run.
        model: a :class:`~pyai.models.Model`; a model name, served by an
            :class:`~pyai.models.OpenAIChatModel` configured from the environment; or
            None for ``$PYAI_MODEL``. Resolved at each run, so a missing model is
            reported by the run with the way to configure one.
        history_limit: how many of the latest stored messages a run sends to the model
            (None: all of them; 0: none). Older messages stay stored.

    Raises:
        ValidationError: an argument has the wrong type or value.
    """

    name: str
    instructions: str | None = None
    session: Session | None = None
    model: Model | str | None = None
    history_limit: int | None = DEFAULT_HISTORY_LIMIT

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(f"Agent name must be a non-empty string, got {self.name!r}")
        if self.instructions is not None and not isinstance(self.instructions, str):
            raise ValidationError("instructions must be a string or None")
        if self.session is not None and not isinstance(self.session, Session):
            raise ValidationError(
                "session must be a pyai.sessions.Session (e.g. SQLiteSession(...) or "
                f"open_session(url, id)), got {type(self.session).__name__}"
            )
        limit = self.history_limit
        bad_type = isinstance(limit, bool) or not isinstance(limit, int)
        if limit is not None and (bad_type or limit < 0):
            raise ValidationError(
                f"history_limit must be a non-negative integer or None, got {limit!r}"
            )


@dataclass(frozen=True)
class RunResult:
    """What a run produced.

    Attributes:
        final_output: the reply's text (``""`` when the reply holds only tool calls).
        new_messages: the turn: the input message(s), then the reply. With a session
            they are the stored messages (``seq``, ``created_at``); without one, unstored.
        session_id: the session the turn was stored in, or None for a stateless run.
        agent_name: the agent that ran.
    """

    final_output: str
    new_messages: list[Message] = field(repr=False)
    session_id: str | None
    agent_name: str

    @property
    def reply(self) -> Message:
        """The model's reply message as stored, ``tool_calls`` included as they came."""
        return self.new_messages[-1]


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts)


def _input_messages(run_input: object) -> list[Message]:
    if isinstance(run_input, str):
        return [Message(role="user", content=run_input)]
    if isinstance(run_input, Message | dict):
        return [to_message(run_input)]
    if isinstance(run_input, bytes) or not isinstance(run_input, Iterable):
        raise ValidationError(
            "input must be text, a Message, a dict in OpenAI chat format, or a list of them; "
            f"got {type(run_input).__name__}"
        )
    messages = [to_message(item) for item in run_input]
    if not messages:
        raise ValidationError("input is an empty list: give the text or messages to send")
    return messages


def _window(history: list[Message]) -> list[Message]:
    # A window that starts inside a tool exchange would begin with tool results whose
    # assistant tool_calls message fell outside it; OpenAI-compatible servers reject such
    # orphans, so they are left out.
    start = 0
    while start < len(history) and history[start].role == "tool":
        start += 1
    return history[start:]


@dataclass(frozen=True)
class _Turn:
    """One run without its I/O: what to read, what to send, what to store."""

    agent: Agent
    session: Session | None
    inputs: list[Message]
    model: Model
    owns_model: bool

    @classmethod
    def start(cls, agent: object, run_input: object, session: Session | None) -> _Turn:
        if not isinstance(agent, Agent):
            raise ValidationError(f"expected an Agent, got {type(agent).__name__}")
        agent._check()
        if session is not None and not isinstance(session, Session):
            raise ValidationError(
                f"session must be a pyai.sessions.Session, got {type(session).__name__}"
            )
        inputs = _input_messages(run_input)
        model = resolve_model(agent.model, owner=f"Agent {agent.name!r}")
        return cls(
            agent=agent,
            session=session if session is not None else agent.session,
            inputs=inputs,
            model=model,
            owns_model=model is not agent.model,
        )

    @property
    def reads_history(self) -> bool:
        return self.session is not None and self.agent.history_limit != 0

    def request(self, history: list[Message]) -> list[Message]:
        instructions = self.agent.instructions
        head = [Message(role="system", content=instructions)] if instructions else []
        return [*head, *_window(history), *self.inputs]

    def failed(self, exc: Exception) -> ModelError:
        return ModelError(
            f"Agent {self.agent.name!r}: the model call failed ({type(exc).__name__}: {exc}); "
            "nothing was stored"
        )

    def checked(self, reply: object) -> Message:
        if not isinstance(reply, Message):
            raise ModelError(
                f"Agent {self.agent.name!r}: {self.model!r} returned "
                f"{type(reply).__name__}, not a pyai Message; nothing was stored"
            )
        return reply

    def to_store(self, reply: Message) -> list[Message]:
        return [*self.inputs, reply]

    def result(self, turn: list[Message]) -> RunResult:
        return RunResult(
            final_output=_text(turn[-1].content),
            new_messages=turn,
            session_id=None if self.session is None else self.session.session_id,
            agent_name=self.agent.name,
        )


class Runner:
    """Runs an :class:`Agent` for one turn. Holds no state; call its class methods."""

    @staticmethod
    async def run(agent: Agent, input: RunInput, *, session: Session | None = None) -> RunResult:
        """Run one turn without blocking the event loop.

        Args:
            agent: the agent.
            input: the user's text, or one or more messages in OpenAI chat format.
            session: remember in this session instead of ``agent.session``.

        Returns:
            The result; with a session, the input and the reply are stored by then.

        Raises:
            ModelNotConfiguredError: the agent has no model and none is configured.
            ModelError: the model call failed (its subclasses tell how); nothing stored.
            ValidationError: the input is malformed; nothing was sent or stored.
            SessionError: the session could not be read or written.
        """
        turn = _Turn.start(agent, input, session)
        try:
            history = []
            if turn.reads_history and turn.session is not None:
                history = await turn.session.aget_messages(limit=turn.agent.history_limit)
            try:
                reply = await turn.model.acomplete(turn.request(history))
            except SessionError:
                raise
            except Exception as exc:
                raise turn.failed(exc) from exc
        finally:
            if turn.owns_model and isinstance(turn.model, OpenAIChatModel):
                await turn.model.aclose()
        stored = turn.to_store(turn.checked(reply))
        if turn.session is not None:
            stored = await turn.session.aadd_messages(stored)
        return turn.result(stored)

    @staticmethod
    def run_sync(agent: Agent, input: RunInput, *, session: Session | None = None) -> RunResult:
        """Blocking twin of :meth:`run` (no event loop involved). Same arguments and errors."""
        turn = _Turn.start(agent, input, session)
        try:
            history = []
            if turn.reads_history and turn.session is not None:
                history = turn.session.get_messages(limit=turn.agent.history_limit)
            try:
                reply = turn.model.complete(turn.request(history))
            except SessionError:
                raise
            except Exception as exc:
                raise turn.failed(exc) from exc
        finally:
            if turn.owns_model and isinstance(turn.model, OpenAIChatModel):
                turn.model.close()
        stored = turn.to_store(turn.checked(reply))
        if turn.session is not None:
            stored = turn.session.add_messages(stored)
        return turn.result(stored)
