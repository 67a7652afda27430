"""Correctness under concurrency: 4 processes x 250 appends to one session, every system.

Each process builds its own session object the way the library's documentation does,
waits at a barrier so that all of them write at the same time, and appends messages
``p<k>-<i>`` one call at a time. Afterwards a fresh object reads the whole history:

* **lost**: acknowledged (the call returned) but not in the history;
* **duplicated**: in the history more than once;
* **reordered**: a process's message stored before one it appended earlier;
* **failed**: calls that raised (the caller knows: not a silent loss).
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections import Counter
from typing import Any

from bench.peers.systems import System, rebuild
from bench.peers.timing import call

PROCESSES = 4
APPENDS = 250


def _worker(spec: Any, session_id: str, k: int, n: int, barrier: Any, out: Any) -> None:
    acked: list[int] = []
    errors: list[str] = []
    elapsed = 0.0
    try:
        system = rebuild(spec)
        handle = system.open(session_id)
        barrier.wait(timeout=120)
        start = time.perf_counter()
        for i in range(n):
            try:
                call(handle.add_one, f"p{k}-{i:04d}")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            else:
                acked.append(i)
        elapsed = time.perf_counter() - start
        call(handle.close)
        system.close()
    except Exception:
        errors.append(traceback.format_exc(limit=3)[-400:])
    out.put((k, acked, errors, elapsed))


def check(
    system: System, session_id: str, procs: int = PROCESSES, n: int = APPENDS
) -> dict[str, Any]:
    """Run the concurrent appends for ``system`` and compare the history with the acks."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(procs)
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(system.spec(), session_id, k, n, barrier, out))
        for k in range(procs)
    ]
    for w in workers:
        w.start()
    reports = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    acked = {f"p{k}-{i:04d}" for k, done, _, _ in reports for i in done}
    failed = sum(n - len(done) for _, done, _, _ in reports)
    errors = sorted({e for _, _, errs, _ in reports for e in errs})

    reader = system.open(session_id)
    try:
        history = [str(c) for c in call(reader.contents)]
    finally:
        call(reader.close)
    seen = Counter(history)
    lost = sum(1 for m in acked if seen[m] == 0)
    duplicated = sum(count - 1 for count in seen.values() if count > 1)
    reordered = 0
    last: dict[str, int] = {}
    for m in history:
        proc, _, i = m.partition("-")
        if proc in last and int(i) < last[proc]:
            reordered += 1
        last[proc] = int(i)
    return {
        "processes": procs,
        "appends_per_process": n,
        "acknowledged": len(acked),
        "failed": failed,
        "stored": len(history),
        "lost": lost,
        "duplicated": duplicated,
        "reordered": reordered,
        "unexpected": sum(1 for m in seen if m not in acked),
        "seconds": round(max(r[3] for r in reports), 3),
        "errors": errors[:5],
    }
