"""A writer process killed with SIGKILL mid-stream: nothing it was told is stored is lost.

Writer processes (``_writer.py``) append to one session and log every acknowledged
position to a file they fsync. The test kills them at random moments, several rounds in
a row, then checks the history against those logs, the bookkeeping against the history,
and on SQLite the database file's own integrity check.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pyai.sessions import open_session

from ..conftest import BACKENDS
from .harness import check_history

WRITER = Path(__file__).with_name("_writer.py")
ROUNDS = 3
WRITERS = 2
ACKS_BEFORE_KILL = 12
START_TIMEOUT = 60.0


def _acknowledged(path: Path) -> dict[int, str]:
    """``seq -> content`` from a writer's log; a line cut short by the kill is ignored."""
    acked = {}
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n"):
            seq, content = line[:-1].split("\t", 1)
            acked[int(seq)] = content
    return acked


def _run_round(url: str, session_id: str, round_: int, tmp_path: Path) -> dict[int, str]:
    logs = [tmp_path / f"acks-{round_}-{w}.tsv" for w in range(WRITERS)]
    processes = []
    try:
        for w, log in enumerate(logs):
            log.touch()
            with (tmp_path / f"writer-{round_}-{w}.err").open("wb") as err:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(WRITER),
                            url,
                            session_id,
                            f"r{round_}w{w}",
                            str(log),
                            "100000",
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                    )
                )
        deadline = time.monotonic() + START_TIMEOUT
        while not all(len(_acknowledged(log)) >= ACKS_BEFORE_KILL for log in logs):
            for w, process in enumerate(processes):
                if process.poll() is not None:
                    err = (tmp_path / f"writer-{round_}-{w}.err").read_text(errors="replace")
                    pytest.fail(f"writer {w} exited ({process.returncode}) before the kill:\n{err}")
            assert time.monotonic() < deadline, "writers did not get going in time"
            time.sleep(0.005)
        # Kill them one after another at random moments: each is most likely inside a
        # write when it dies, and the other keeps writing past the first one's death.
        for process in processes:
            time.sleep(random.uniform(0, 0.05))
            process.send_signal(signal.SIGKILL)
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=30)
    assert [p.returncode for p in processes] == [-signal.SIGKILL] * WRITERS
    acked: dict[int, str] = {}
    for log in logs:
        acked.update(_acknowledged(log))
    return acked


# The SQL backends: a killed client can die inside a transaction there. (On Redis every
# write is one server-side script, which a client's death cannot interrupt.)
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_writer_killed_mid_stream_loses_nothing_acknowledged(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = BACKENDS[name](request)
    assert backend.url is not None
    session_id = f"sigkill-{uuid.uuid4().hex}"
    session = backend.session(session_id)
    acked: dict[int, str] = {}
    for round_ in range(ROUNDS):
        acked.update(_run_round(backend.url, session_id, round_, tmp_path))
        messages = session.get_messages()
        check_history(messages, acked)
        assert session.count() == len(messages)
        info = backend.repository.info(session_id, now=datetime.now(timezone.utc))
        assert info is not None
        # A killed transaction takes its position bump with it: the counter matches.
        assert (info.last_seq, info.message_count) == (len(messages), len(messages))
    assert len(acked) >= ROUNDS * WRITERS * ACKS_BEFORE_KILL

    if backend.name == "sqlite":
        database = make_url(backend.url).database
        assert database is not None
        with contextlib.closing(sqlite3.connect(database)) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == []

    # The store carries on where the killed writers left off.
    with open_session(backend.url, session_id) as after:
        assert after.add_message("user", "after the kills").seq == len(messages) + 1
