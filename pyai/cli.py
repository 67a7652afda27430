"""The ``pyai`` command.

    pyai db upgrade [REV] [--url URL]     bring the schema to REV (default: head)
    pyai db downgrade REV [--url URL]     take it back (``base`` drops pyai's tables)
    pyai db current [--url URL]           print the revision the database is at
    pyai db check [--url URL]             compare the schema with the models
    pyai sessions list|show|export|import|copy|delete|prune ...
                                          operate a store (see `pyai sessions --help`)
    pyai chat --session ID [--url URL] [--model NAME]
                                          chat with an agent; every turn is stored

``--url`` defaults to ``$PYAI_DATABASE_URL``, then ``sqlite:///sessions.db``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .sessions.errors import SessionError

if TYPE_CHECKING:
    from .sessions import Session

__all__ = ["main"]

DEFAULT_URL = "sqlite:///sessions.db"


def _url(args: argparse.Namespace) -> str:
    return str(args.url or os.environ.get("PYAI_DATABASE_URL") or DEFAULT_URL)


def _db(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from .sessions._sql import migrate
    from .sessions._sql.engines import normalize_url, safe_url

    url = normalize_url(_url(args))
    where = safe_url(url)
    try:
        if args.action == "upgrade":
            migrate.upgrade(url, args.revision)
            print(f"{where}: at revision {migrate.current(url)}")
        elif args.action == "downgrade":
            migrate.downgrade(url, args.revision)
            print(f"{where}: at revision {migrate.current(url) or 'base (no pyai tables)'}")
        elif args.action == "current":
            found = migrate.current(url)
            state = "up to date" if found == migrate.SCHEMA_REVISION else "needs `pyai db upgrade`"
            print(f"{where}: {found or 'no pyai schema'} ({state})")
        else:
            diffs = migrate.check(url)
            if diffs:
                print(f"{where}: schema differs from the models:")
                for diff in diffs:
                    print(f"  {diff}")
                return 1
            print(f"{where}: schema matches the models")
    except SQLAlchemyError as exc:
        detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]
        raise SessionError(f"{where}: {detail}") from exc
    return 0


def _show_history(session: Session, window: int | None, heading: str) -> None:
    total = session.count()
    if not total:
        print(f"New session {session.session_id!r}. Type a message; /history, /exit.")
        return
    shown = session.get_messages(limit=window)
    print(f"{heading} session {session.session_id!r}: {total} stored messages.")
    if total > len(shown):
        print(f"  ... {total - len(shown)} earlier messages (outside the history window)")
    for message in shown:
        print(f"  #{message.seq} {message}")


def _read_line() -> str | None:
    if sys.stdin.isatty():
        try:
            return input("you> ")
        except EOFError:
            print()
            return None
    # Piped input: echo it, so the transcript reads like a conversation.
    line = sys.stdin.readline()
    if not line:
        return None
    print(f"you> {line.rstrip()}")
    return line


def _chat(args: argparse.Namespace) -> int:
    from .agent import Agent, Runner
    from .models import ModelError, ModelNotConfiguredError, OpenAIChatModel, resolve_model
    from .sessions import open_session

    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    url = _url(args)
    try:
        model = resolve_model(args.model)
    except ModelNotConfiguredError:
        raise ModelNotConfiguredError(
            "pyai chat needs a model: pass --model NAME or set PYAI_MODEL; the server comes "
            "from OPENAI_BASE_URL (default https://api.openai.com/v1, e.g. "
            "http://127.0.0.1:11434/v1 for Ollama) and the key from OPENAI_API_KEY"
        ) from None
    try:
        with open_session(url, args.session) as session:
            agent = Agent(
                "pyai chat",
                instructions=args.instructions,
                session=session,
                model=model,
                history_limit=args.history_limit,
            )
            print(f"pyai chat: {session!r}, model {model!r}")
            _show_history(session, agent.history_limit, "Resuming")
            while (line := _read_line()) is not None:
                text = line.strip()
                if text in ("/exit", "/quit"):
                    break
                if text == "/history":
                    _show_history(session, None, "History of")
                    continue
                if not text:
                    continue
                try:
                    result = Runner.run_sync(agent, text)
                except ModelError as exc:
                    print(f"pyai: error: {exc} (nothing was stored)", file=sys.stderr)
                    continue
                print(f"assistant> {result.final_output}", flush=True)
    finally:
        if isinstance(model, OpenAIChatModel):
            model.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyai", description="pyai sessions: durable conversation memory for AI agents."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db = commands.add_parser("db", help="manage the database schema (Alembic migrations)")
    db_actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in [
        ("upgrade", "bring the schema to a revision (default: head)"),
        ("downgrade", "take the schema back to a revision ('base' drops pyai's tables)"),
        ("current", "show the revision the database is at"),
        ("check", "compare the database schema with pyai's models"),
    ]:
        action = db_actions.add_parser(name, help=help_text, description=help_text)
        if name == "upgrade":
            action.add_argument("revision", nargs="?", default="head", help="default: head")
        elif name == "downgrade":
            action.add_argument("revision", help="a revision id, or 'base'")
        action.add_argument(
            "--url",
            help=f"database URL (default: $PYAI_DATABASE_URL, then {DEFAULT_URL})",
        )
        action.set_defaults(func=_db)

    from ._cli_sessions import register

    register(commands)

    chat_help = "chat with an agent in the terminal; every turn is stored in the session"
    chat = commands.add_parser("chat", help=chat_help, description=chat_help)
    chat.add_argument("--session", required=True, metavar="ID", help="the session id")
    chat.add_argument(
        "--url", help=f"session URL (default: $PYAI_DATABASE_URL, then {DEFAULT_URL})"
    )
    chat.add_argument(
        "--model",
        metavar="NAME",
        help="model name (default: $PYAI_MODEL); server and key from "
        "$OPENAI_BASE_URL and $OPENAI_API_KEY",
    )
    chat.add_argument("--instructions", help="the agent's instructions (never stored)")
    chat.add_argument(
        "--history-limit",
        type=int,
        default=50,
        metavar="N",
        help="how many stored messages each turn sends to the model (default: 50)",
    )
    chat.set_defaults(func=_chat)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SessionError as exc:
        print(f"pyai: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`pyai sessions show ID | head`): not an error. Point
        # stdout at devnull so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:
        # Files the user named: missing, unreadable, a full disk.
        name = f"{exc.filename}: " if exc.filename else ""
        print(f"pyai: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
