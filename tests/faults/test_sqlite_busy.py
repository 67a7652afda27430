"""Another process holds SQLite's write lock: wait up to busy_timeout, then a clear error."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyai.sessions import SQLiteSession
from pyai.sessions.errors import BackendError

# Takes the write lock (BEGIN IMMEDIATE) and keeps it until a line arrives on stdin (or
# stdin closes, or a minute passes, so it never outlives a stuck test).
LOCKER = """
import signal, sqlite3, sys
signal.alarm(60)
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
con.execute("COMMIT")
con.close()
"""


@contextlib.contextmanager
def lock_held(database: Path) -> Iterator[Callable[[], None]]:
    """Another process holds the database's write lock; call the yielded function (or
    leave the block) to release it."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdin is not None and locker.stdout is not None
    released = threading.Lock()

    def release() -> None:
        with released:
            if not locker.stdin.closed:  # type: ignore[union-attr]
                locker.stdin.write("\n")  # type: ignore[union-attr]
                locker.stdin.close()  # type: ignore[union-attr]

    try:
        assert locker.stdout.readline().strip() == "locked"
        yield release
    finally:
        release()
        try:
            locker.wait(timeout=30)
        finally:
            locker.stdout.close()
    assert locker.returncode == 0


@pytest.mark.timeout(60)
def test_writer_gives_up_after_busy_timeout_with_a_clear_error(tmp_path: Path) -> None:
    database = tmp_path / "busy.db"
    session = SQLiteSession(database, "busy", busy_timeout=0.5)
    session.add_message("user", "before")
    with lock_held(database):
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            session.add_message("user", "while locked")
        waited = time.monotonic() - started
        assert 0.4 <= waited < 3.0, f"waited {waited:.2f}s with busy_timeout=0.5"
        assert "lock" in str(info.value), str(info.value)
        assert str(database) in str(info.value)
        # WAL: readers are not blocked by another process's write lock.
        assert [m.content for m in session.get_messages()] == ["before"]
        assert session.count() == 1
    # Once the lock is released the same object writes again; the failed call took no
    # position.
    assert session.add_message("user", "after").seq == 2
    assert [m.content for m in session.get_messages()] == ["before", "after"]


@pytest.mark.timeout(60)
def test_writer_waits_for_a_lock_released_within_busy_timeout(tmp_path: Path) -> None:
    database = tmp_path / "busy.db"
    session = SQLiteSession(database, "busy", busy_timeout=10)
    session.add_message("user", "before")
    with lock_held(database) as release:
        timer = threading.Timer(0.5, release)
        timer.start()
        started = time.monotonic()
        try:
            stored = session.add_message("user", "waited")
        finally:
            timer.cancel()
        waited = time.monotonic() - started
    assert stored.seq == 2
    assert 0.3 <= waited < 8.0, f"waited {waited:.2f}s for a lock released after 0.5s"


@pytest.mark.timeout(60)
def test_busy_timeout_of_a_later_session_object_on_the_same_file(tmp_path: Path) -> None:
    database = tmp_path / "busy.db"
    SQLiteSession(database, "patient").add_message("user", "default busy timeout (30 s)")
    impatient = SQLiteSession(database, "impatient", busy_timeout=0.5)
    outcome: dict[str, object] = {}

    def write() -> None:
        try:
            impatient.add_message("user", "x")
        except BackendError as exc:
            outcome["error"] = exc

    with lock_held(database) as release:
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(2.5)
        gave_up_in_time = not writer.is_alive()
        release()
        writer.join(30)
    assert gave_up_in_time, "still waiting 2.5 s into a 0.5 s busy_timeout"
    assert isinstance(outcome.get("error"), BackendError)
