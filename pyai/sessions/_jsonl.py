"""The streaming export format for many sessions: JSON Lines.

::

    {"format": "pyai.sessions.jsonl", "version": 1, "source": "...", "created_at": "...",
     "count": N}                                            (one line in the file)
    {<session document, as Session.export() gives it>}
    ...
    {"checksum": "sha256:<hex>", "count": N}

Line 1 is the header; every following line but the last is one session document; the
last line is the trailer, with the number of documents and the SHA-256 of their lines
(bytes, including each newline). :func:`verify` reads a file once and checks all of it
(structure, every document, count and checksum) without writing anything, so an import
can refuse a truncated or tampered file before it writes a single session.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from ._export import parse_document
from .errors import ImportFormatError

__all__ = ["JSONL_FORMAT", "JSONL_VERSION", "Verified", "read_documents", "verify", "write"]

JSONL_FORMAT = "pyai.sessions.jsonl"
JSONL_VERSION = 1


def _line(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write(out: IO[bytes], documents: Iterable[dict[str, Any]], *, source: str, count: int) -> int:
    """Write header, documents and trailer to a binary stream.

    Args:
        out: where to write.
        documents: session documents (streamed; memory stays flat).
        source: where they come from (a URL with the password hidden).
        count: the number of documents expected (for the header; the trailer records
            the number actually written).

    Returns:
        The number of documents written.
    """
    out.write(
        _line(
            {
                "format": JSONL_FORMAT,
                "version": JSONL_VERSION,
                "source": source,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "count": count,
            }
        )
    )
    digest = hashlib.sha256()
    written = 0
    for document in documents:
        line = _line(document)
        digest.update(line)
        out.write(line)
        written += 1
    out.write(_line({"checksum": f"sha256:{digest.hexdigest()}", "count": written}))
    return written


@dataclass(frozen=True)
class Verified:
    """What :func:`verify` found in a file that passed."""

    header: dict[str, Any]
    count: int


def _parse(raw: bytes, number: int) -> Any:
    if not raw.endswith(b"\n"):
        raise ImportFormatError(
            f"line {number}: truncated (no end of line): the file is incomplete"
        )
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"line {number}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise ImportFormatError(f"line {number}: not UTF-8 text") from None


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    yield from enumerate(stream, start=1)


def verify(stream: IO[bytes]) -> Verified:
    """Check a whole file without writing anything.

    Raises:
        ImportFormatError: naming the line: a bad header, a line that is not JSON or
            not a valid session document, a missing trailer (truncated file), or a count
            or checksum that does not match (tampered file).
    """
    lines = _lines(stream)
    first = next(lines, None)
    if first is None:
        raise ImportFormatError("line 1: the file is empty")
    header = _parse(first[1], 1)
    if not isinstance(header, dict) or header.get("format") != JSONL_FORMAT:
        raise ImportFormatError(f"line 1: not a {JSONL_FORMAT} file (bad header)")
    version = header.get("version")
    if not isinstance(version, int) or version > JSONL_VERSION or version < 1:
        raise ImportFormatError(
            f"line 1: file version {version!r} is not supported (this pyai reads up to "
            f"{JSONL_VERSION}); upgrade pyai"
        )
    digest = hashlib.sha256()
    count = 0
    pending: tuple[int, bytes, Any] | None = None
    for number, raw in lines:
        if pending is not None:
            _check_document(pending)
            digest.update(pending[1])
            count += 1
        pending = (number, raw, _parse(raw, number))
    if pending is None or not (isinstance(pending[2], dict) and "checksum" in pending[2]):
        last = pending[0] if pending else 1
        raise ImportFormatError(f"line {last}: the trailer is missing: the file is truncated")
    number, _, trailer = pending
    if trailer.get("count") != count:
        raise ImportFormatError(
            f"line {number}: the trailer counts {trailer.get('count')!r} sessions but the "
            f"file holds {count}: the file was altered"
        )
    if trailer.get("checksum") != f"sha256:{digest.hexdigest()}":
        raise ImportFormatError(
            f"line {number}: checksum mismatch: the file was altered after export"
        )
    return Verified(header, count)


def _check_document(entry: tuple[int, bytes, Any]) -> None:
    number, _, document = entry
    if isinstance(document, dict) and "checksum" in document:
        raise ImportFormatError(f"line {number}: a trailer before the end of the file")
    try:
        parse_document(document)
    except ImportFormatError as exc:
        raise ImportFormatError(f"line {number}: {exc}") from None


def read_documents(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The documents of a file that :func:`verify` accepted, with their line numbers."""
    lines = _lines(stream)
    next(lines, None)  # header
    previous: tuple[int, bytes] | None = None
    for number, raw in lines:
        if previous is not None:
            yield previous[0], json.loads(previous[1])
        previous = (number, raw)
