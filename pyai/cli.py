"""The ``pyai`` command.

    pyai db upgrade [REV] [--url URL]     bring the schema to REV (default: head)
    pyai db downgrade REV [--url URL]     take it back (``base`` drops pyai's tables)
    pyai db current [--url URL]           print the revision the database is at
    pyai db check [--url URL]             compare the schema with the models

``--url`` defaults to ``$PYAI_DATABASE_URL``, then ``sqlite:///sessions.db``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .sessions.errors import SessionError

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SessionError as exc:
        print(f"pyai: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
