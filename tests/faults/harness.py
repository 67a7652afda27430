"""Writers that keep appending while a test breaks the server under them, and the checks
every fault test makes afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyai.sessions import Message, Session
from pyai.sessions.errors import BackendError

__all__ = ["Attempt", "Workload", "check_history"]

#: A writer pauses this long after a failed call, so a down server is not hammered.
PAUSE_AFTER_FAILURE = 0.02
#: Upper bound on the calls one thread makes, whatever happens to the stop signal.
MAX_CALLS = 50_000


@dataclass(frozen=True)
class Attempt:
    """One call a thread made: when it returned, what it stored, or what it raised."""

    at: float
    stored: tuple[tuple[int, str], ...] = ()
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Workload:
    """Writer threads, each appending through its own session object, plus one reader.

    Every writer appends ``w<i>:<n>`` (every fifth call a batch of two, ``...:a`` and
    ``...:b``) and records each call. Nothing is retried here: a failed call is recorded
    and the writer moves on to its next message, like an application would.
    """

    writers: list[Session]
    reader: Session | None = None
    log: dict[str, list[Attempt]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for index, session in enumerate(self.writers):
            name = f"w{index}"
            self.log[name] = []
            self._threads.append(
                threading.Thread(target=self._write, args=(name, session), daemon=True)
            )
        if self.reader is not None:
            self.log["reader"] = []
            self._threads.append(threading.Thread(target=self._read, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        stuck = [t.name for t in self._threads if t.is_alive()]
        assert not stuck, f"threads still blocked {timeout}s after stop: {stuck}"

    def _record(self, name: str, attempt: Attempt) -> None:
        self.log[name].append(attempt)
        if not attempt.ok:
            time.sleep(PAUSE_AFTER_FAILURE)

    def _write(self, name: str, session: Session) -> None:
        for n in range(1, MAX_CALLS + 1):
            if self._stop.is_set():
                return
            content = f"{name}:{n}"
            try:
                if n % 5 == 0:
                    stored = session.add_messages(
                        [
                            {"role": "user", "content": f"{content}:a"},
                            {"role": "assistant", "content": f"{content}:b"},
                        ]
                    )
                else:
                    stored = [session.add_message("user", content)]
            except Exception as exc:
                self._record(name, Attempt(time.monotonic(), error=exc))
            else:
                pairs = tuple((m.seq, str(m.content)) for m in stored if m.seq is not None)
                self._record(name, Attempt(time.monotonic(), stored=pairs))

    def _read(self) -> None:
        assert self.reader is not None
        for _ in range(MAX_CALLS):
            if self._stop.is_set():
                return
            try:
                self.reader.get_messages(limit=5)
                self.reader.count()
            except Exception as exc:
                self._record("reader", Attempt(time.monotonic(), error=exc))
            else:
                self._record("reader", Attempt(time.monotonic()))
            time.sleep(0.005)

    # -- what happened ----------------------------------------------------------------

    def successes(self, name: str, since: float = 0.0) -> int:
        return sum(1 for a in self.log.get(name, ()) if a.ok and a.at > since)

    def wait_until_each_succeeds(self, times: int, *, since: float, timeout: float) -> None:
        """Block until every thread has ``times`` successful calls after ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.successes(name, since) >= times for name in self.log):
                return
            time.sleep(0.02)
        counts = {name: self.successes(name, since) for name in self.log}
        raise AssertionError(
            f"not every thread succeeded {times} times within {timeout}s: {counts}; "
            f"last errors: {self.last_errors()}"
        )

    def errors(self) -> list[BaseException]:
        return [a.error for log in self.log.values() for a in log if a.error is not None]

    def last_errors(self) -> dict[str, str]:
        out = {}
        for name, log in self.log.items():
            failed = [a.error for a in log if a.error is not None]
            if failed:
                out[name] = f"{type(failed[-1]).__name__}: {failed[-1]}"
        return out

    def failures_before_recovery(self, since: float) -> dict[str, int]:
        """Per thread: failed calls after ``since`` before its first success after it."""
        out = {}
        for name, log in self.log.items():
            count = 0
            for attempt in log:
                if attempt.at <= since:
                    continue
                if attempt.ok:
                    break
                count += 1
            out[name] = count
        return out

    def acknowledged(self) -> dict[int, str]:
        acked: dict[int, str] = {}
        for log in self.log.values():
            for attempt in log:
                for seq, content in attempt.stored:
                    assert seq not in acked, f"position {seq} acknowledged twice"
                    acked[seq] = content
        return acked

    def check_errors_are_clear(self, server: str) -> None:
        """Every failure is a pyai BackendError that names the server, never a driver's."""
        for error in self.errors():
            assert isinstance(error, BackendError), (
                f"a raw {type(error).__module__}.{type(error).__name__} leaked: {error!r}"
            )
            assert server in str(error), f"the error does not name {server}: {error}"


def check_history(messages: Iterable[Message], acknowledged: dict[int, str]) -> None:
    """What every fault test asserts about a session's history afterwards.

    Positions are exactly 1..N, every acknowledged message is there with the content it
    was acknowledged with, each writer's messages keep its order and a batch is never
    split.
    """
    stored = {m.seq: str(m.content) for m in messages}
    seqs = sorted(s for s in stored if s is not None)
    assert seqs == list(range(1, len(seqs) + 1)), "positions are not contiguous from 1"
    lost = {seq: text for seq, text in acknowledged.items() if stored.get(seq) != text}
    assert not lost, f"{len(lost)} acknowledged messages lost or changed, e.g. {list(lost)[:5]}"
    last_n: dict[str, int] = {}
    for seq in seqs:
        writer, n, *part = stored[seq].split(":")
        assert int(n) >= last_n.get(writer, 0), f"{writer}'s messages out of order at {seq}"
        last_n[writer] = int(n)
        if part == ["a"]:
            assert stored.get(seq + 1) == f"{writer}:{n}:b", f"batch split at position {seq}"
        if part == ["b"]:
            assert stored.get(seq - 1) == f"{writer}:{n}:a", f"batch split at position {seq}"
