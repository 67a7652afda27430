"""``pyai sessions ...``: operate a store from the command line.

Human output uses rich tables and progress bars (extra ``cli``); ``--json`` gives
machine output. Errors are one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .sessions import SessionStore, open_store
from .sessions._jsonl import read_documents, verify, write
from .sessions.errors import ConfigurationError, SessionError, ValidationError

__all__ = ["register"]

DEFAULT_URL = "sqlite:///sessions.db"


def _url(args: argparse.Namespace) -> str:
    return str(args.url or os.environ.get("PYAI_DATABASE_URL") or DEFAULT_URL)


def _rich() -> Any:
    try:
        import rich  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigurationError(
            "the sessions commands need rich for their output: pip install 'pyai[cli]' "
            "(or use --json)"
        ) from None
    from rich.console import Console

    # Piped output is not cut to 80 columns: ids and content stay whole for grep.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def _progress(total: int | None, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    try:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
    except ModuleNotFoundError:
        yield lambda n: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_err_console(),
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _keys(args: argparse.Namespace) -> list[str] | None:
    keys = list(getattr(args, "key", None) or [])
    if not keys and os.environ.get("PYAI_ENCRYPTION_KEY"):
        keys = [k.strip() for k in os.environ["PYAI_ENCRYPTION_KEY"].split(",") if k.strip()]
    return keys or None


def _open(url: str, keys: list[str] | None = None) -> SessionStore:
    return open_store(url, encryption_key=keys)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _info_json(info: Any) -> dict[str, Any]:
    return {
        "session_id": info.session_id,
        "user_id": info.user_id,
        "created_at": info.created_at.isoformat(),
        "updated_at": info.updated_at.isoformat(),
        "expires_at": None if info.expires_at is None else info.expires_at.isoformat(),
        "message_count": info.message_count,
    }


# -- list / show ---------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    console: Any = None if args.json else _rich()
    with _open(_url(args), _keys(args)) as store:
        page = store.list_sessions(args.prefix, args.user, args.limit, args.cursor)
        if args.json:
            _print_json(
                {"items": [_info_json(i) for i in page.items], "next_cursor": page.next_cursor}
            )
            return 0
        from rich.table import Table

        table = Table(title=f"sessions in {store.location}", title_justify="left")
        for column in ("session", "owner", "messages", "last activity (UTC)", "expires"):
            table.add_column(column, justify="right" if column == "messages" else "left")
        for info in page.items:
            table.add_row(
                info.session_id,
                info.user_id or "",
                str(info.message_count),
                info.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
                "" if info.expires_at is None else info.expires_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
        console.print(table)
        if not page.items:
            console.print("no sessions" + (f" with prefix {args.prefix!r}" if args.prefix else ""))
        if page.next_cursor:
            console.print(f"more: pyai sessions list --cursor {page.next_cursor}")
    return 0


def _show(args: argparse.Namespace) -> int:
    console: Any = None if args.json else _rich()
    with _open(_url(args), _keys(args)) as store:
        document = store.export_session(args.session_id)
        if document is None:
            raise SessionError(f"no session {args.session_id!r} in {store.location}")
        if args.json:
            _print_json(document)
            return 0
        from rich.table import Table

        messages = document["messages"]
        if args.limit is not None:
            messages = messages[-args.limit :] if args.limit else []
        owner = f", owner {document['user_id']}" if document["user_id"] else ""
        table = Table(
            title=f"session {args.session_id} ({len(document['messages'])} messages{owner})",
            title_justify="left",
            show_lines=True,
        )
        table.add_column("#", justify="right")
        table.add_column("role")
        table.add_column("content", overflow="fold")
        table.add_column("time (UTC)")
        for m in messages:
            content = m["content"]
            if not isinstance(content, str):
                content = json.dumps(content, ensure_ascii=False)
            if m.get("tool_calls"):
                content = f"{content or ''} [tool_calls: {json.dumps(m['tool_calls'])}]".strip()
            table.add_row(str(m["seq"]), m["role"], content, m["created_at"][:19].replace("T", " "))
        console.print(table)
        if document["metadata"]:
            console.print("metadata: " + json.dumps(document["metadata"], ensure_ascii=False))
    return 0


# -- export / import -----------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    if bool(args.session_ids) == bool(args.all or args.prefix):
        raise ValidationError("name sessions to export, or use --all / --prefix (not both)")
    with _open(_url(args), _keys(args)) as store:
        named: list[str] = list(args.session_ids)
        for sid in named:
            if store.info(sid) is None:
                raise SessionError(f"no session {sid!r} in {store.location}")
        count = len(named) if named else sum(1 for _ in store.session_ids(args.prefix))

        def documents(advance: Callable[[int], None]) -> Iterator[dict[str, Any]]:
            if named:
                for sid in named:
                    document = store.export_session(sid)
                    if document is not None:
                        advance(1)
                        yield document
            else:
                for document in store.export_all(args.prefix):
                    advance(1)
                    yield document

        show = bool(args.output) and not args.json
        with _output(args.output) as out, _progress(count, "exporting", show) as advance:
            written = write(out, documents(advance), source=store.location, count=count)
    summary = {"exported": written, "file": args.output or "-"}
    if args.json:
        print(json.dumps(summary), file=sys.stderr if not args.output else sys.stdout)
    elif args.output:
        print(f"exported {written} session(s) to {args.output}")
    return 0


@contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    if not path or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    # Write beside the target and rename at the end: a failed export never leaves a
    # file that looks complete.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".pyai-export-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@contextmanager
def _input(path: str) -> Iterator[IO[bytes]]:
    if path != "-":
        with open(path, "rb") as f:
            yield f
        return
    # stdin can be read once; it is verified and then imported, so spool it first.
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.seek(0)
        yield spool


def _import(args: argparse.Namespace) -> int:
    show = not args.json and sys.stderr.isatty()
    with _input(args.file) as f:
        verified = verify(f)
        f.seek(0)
        imported = 0
        with (
            _open(_url(args), _keys(args)) as store,
            _progress(verified.count, "importing", show) as advance,
        ):
            for number, document in read_documents(f):
                try:
                    store.session(document["session_id"]).import_data(document, args.mode)
                except SessionError as exc:
                    raise SessionError(
                        f"line {number} (session {document['session_id']!r}): {exc}; "
                        f"{imported} sessions before it were imported"
                    ) from exc
                imported += 1
                advance(1)
    if args.json:
        _print_json({"imported": imported})
    else:
        print(f"imported {imported} session(s) from {args.file} (mode {args.mode})")
    return 0


# -- copy ------------------------------------------------------------------------------------


def _copy(args: argparse.Namespace) -> int:
    if args.source == args.target:
        raise ValidationError("--from and --to are the same store")
    with _open(args.source, _keys(args)) as source, _open(args.target, _keys(args)) as target:
        total = sum(1 for _ in source.session_ids(args.prefix))
        copied = skipped = messages = 0
        show = not args.json
        with _progress(total, f"copying to {target.location}", show) as advance:
            for sid in source.session_ids(args.prefix):
                document = source.export_session(sid)
                if document is None:
                    continue
                present = target.info(sid)
                last = document["messages"][-1]["seq"] if document["messages"] else 0
                if (
                    present is not None
                    and present.message_count == len(document["messages"])
                    and present.last_seq >= last
                ):
                    # Already copied by an earlier run: copy is resumable.
                    skipped += 1
                else:
                    target.session(sid).import_data(document, args.mode)
                    copied += 1
                messages += len(document["messages"])
                advance(1)
        # Verify on the target: every source session there with as many messages.
        expected = found = 0
        missing: list[str] = []
        for sid in source.session_ids(args.prefix):
            info = source.info(sid)
            if info is None:
                continue
            there = target.info(sid)
            expected += info.message_count
            if there is None or there.message_count != info.message_count:
                missing.append(sid)
            else:
                found += there.message_count
    result = {
        "sessions": total,
        "copied": copied,
        "already_there": skipped,
        "messages_verified": found,
        "messages_expected": expected,
        "mismatched_sessions": missing[:20],
    }
    if args.json:
        _print_json(result)
    else:
        print(
            f"copied {copied} sessions ({skipped} already there); verified on the target: "
            f"{found} of {expected} messages in {total - len(missing)} of {total} sessions"
        )
    if missing:
        raise SessionError(
            f"{len(missing)} sessions differ on the target (e.g. {missing[0]!r}); "
            "run the copy again to resume"
        )
    return 0


# -- rekey -----------------------------------------------------------------------------------


def _rekey(args: argparse.Namespace) -> int:
    keys = [args.new_key, *(args.old_key or [])]
    with _open(_url(args), keys) as reader, _open(_url(args), [args.new_key]) as writer:
        total = sum(1 for _ in reader.session_ids(args.prefix))
        done = 0
        with _progress(total, "re-encrypting", not args.json) as advance:
            for sid in reader.session_ids(args.prefix):
                before = reader.info(sid)
                document = reader.export_session(sid)  # decrypts with any given key
                if document is None or before is None:
                    continue
                if reader.info(sid) != before:
                    raise SessionError(
                        f"session {sid!r} changed while it was re-encrypted; stop writers "
                        f"and run rekey again ({done} sessions were re-encrypted)"
                    )
                writer.session(sid).import_data(document, "replace")
                done += 1
                advance(1)
    if args.json:
        _print_json({"rekeyed": done})
    else:
        print(f"re-encrypted {done} sessions with the new key")
    return 0


# -- delete / prune --------------------------------------------------------------------------


def _delete(args: argparse.Namespace) -> int:
    with _open(_url(args), _keys(args)) as store:
        missing = [sid for sid in args.session_ids if not store.delete_session(sid)]
    deleted = len(args.session_ids) - len(missing)
    if args.json:
        _print_json({"deleted": deleted, "not_found": missing})
    else:
        print(f"deleted {deleted} session(s)")
    if missing:
        raise SessionError(
            f"no session {missing[0]!r}"
            + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return 0


def _prune(args: argparse.Namespace) -> int:
    with _open(_url(args), _keys(args)) as store:
        pruned = store.prune_expired()
    if args.json:
        _print_json({"pruned": pruned})
    else:
        print(f"pruned {pruned} expired session(s)")
    return 0


# -- the parser ------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``pyai sessions ...`` to the ``pyai`` parser's subcommands."""
    url_help = f"store URL (default: $PYAI_DATABASE_URL, then {DEFAULT_URL})"
    group = commands.add_parser(
        "sessions",
        help="list, show, export, import, copy, delete and prune sessions",
        description="Operate a session store: sqlite:///file.db, postgresql://..., "
        "redis://... or memory://.",
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int], *, url: bool = True
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(
            name, help=help_text, description=help_text
        )
        if url:
            parser.add_argument("--url", help=url_help)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.set_defaults(func=func)
        return parser

    key_help = (
        "encryption key (repeat for rotation: the first encrypts, all decrypt); "
        "default: $PYAI_ENCRYPTION_KEY, comma-separated"
    )
    p = action("list", "list sessions, newest activity first", _list)
    p.add_argument("--prefix", help="only ids starting with this text")
    p.add_argument("--user", help="only sessions of this owner")
    p.add_argument("--limit", type=int, default=50, help="page size (default 50)")
    p.add_argument("--cursor", help="continue from a previous page")

    p = show_parser = action("show", "show one conversation as a table", _show)
    p.add_argument("session_id", metavar="ID")
    p.add_argument("--limit", type=int, help="only the last N messages")

    p = export_parser = action(
        "export", "export sessions as JSON Lines (header, one session per line, checksum)", _export
    )
    p.add_argument("session_ids", nargs="*", metavar="ID", help="sessions to export")
    p.add_argument("--all", action="store_true", help="export every session")
    p.add_argument("--prefix", help="export the sessions whose id starts with this text")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")

    p = import_parser = action(
        "import", "import a JSON Lines export (verified whole before anything is written)", _import
    )
    p.add_argument("file", metavar="FILE", help="the export file, or - for standard input")
    p.add_argument(
        "--mode",
        choices=["error", "replace", "append"],
        default="error",
        help="when a session already has messages: error (default), replace or append",
    )

    p = copy_parser = action(
        "copy", "copy sessions between stores (resumable, verified on the target)", _copy, url=False
    )
    p.add_argument("--from", dest="source", required=True, metavar="URL", help="source store URL")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="target store URL")
    p.add_argument("--prefix", help="only sessions whose id starts with this text")
    p.add_argument(
        "--mode",
        choices=["error", "replace", "append"],
        default="error",
        help="for sessions that differ on the target (default: error)",
    )

    for parser in (show_parser, export_parser, import_parser, copy_parser):
        parser.add_argument("--key", action="append", metavar="KEY", help=key_help)

    p = action(
        "rekey",
        "re-encrypt every session with a new key (run while no one writes)",
        _rekey,
    )
    p.add_argument("--key", dest="new_key", required=True, metavar="NEW", help="the new key")
    p.add_argument(
        "--old-key", action="append", metavar="OLD", help="a key the data is encrypted with now"
    )
    p.add_argument("--prefix", help="only sessions whose id starts with this text")

    p = action("delete", "delete sessions entirely (messages and metadata)", _delete)
    p.add_argument("session_ids", nargs="+", metavar="ID")

    action("prune", "delete every expired session", _prune)
