"""pyai against the raw drivers and the libraries users would pick instead, side by side.

    python -m bench.peers [--backends sqlite,postgres,redis] [--rounds 3] [--min-time 0.5]

Runs in the peers virtualenv (``make bench`` builds it), where pyai and every peer
library are installed, so all of them are measured in one process per backend, in
interleaved rounds. Every run uses a fresh SQLite directory, a PostgreSQL database of its
own and a Redis key prefix of its own, and removes them afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from bench.harness import Result
from bench.peers import concurrency, report
from bench.peers.systems import TEXT, System, batch
from bench.peers.timing import bind, call, side_by_side

POSTGRES = os.environ.get(
    "PYAI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("PYAI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TAIL_LENGTHS = (100, 1_000, 10_000, 100_000)
WHOLE = 1_000
BATCH = 100
#: Seconds of the expiring sessions' ttl (Redis), an hour as chat services often use.
TTL = 3600


def _local_only(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to benchmark against {host!r}: only 127.0.0.1 targets")


def _new_id(system: System) -> str:
    return str(uuid.uuid4()) if system.uuid_ids else uuid.uuid4().hex


def _user_op(system: System) -> Callable[[], Any]:
    fn = system.user
    if system.asynchronous:

        async def op_async() -> Any:
            return await fn(_new_id(system))

        return op_async

    def op() -> Any:
        return fn(_new_id(system))

    return op


def _log(message: str) -> None:
    print(message, flush=True)


def _show(workload: str, results: dict[str, Result]) -> None:
    parts = ", ".join(f"{name} {r.median:,.0f}/s" for name, r in results.items())
    _log(f"  {workload}: {parts}")


def measure(
    systems: list[System],
    *,
    rounds: int,
    write_rounds: int,
    min_time: float,
    lengths: tuple[int, ...],
    appends: int,
    after_fill: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Every workload for ``systems`` (one backend); returns results by workload."""
    out: dict[str, Any] = {"systems": {s.name: s.kind for s in systems}}
    timed: dict[str, dict[str, Result]] = {}

    # Reads first, so that every system's tables hold the same histories when read.
    started = time.perf_counter()
    filled: dict[str, dict[int, str]] = {}
    for s in systems:
        filled[s.name] = {}
        for n in sorted({*lengths, WHOLE}):
            sid = _new_id(s)
            s.fill(sid, n)
            filled[s.name][n] = sid
    after_fill()
    _log(
        f"  filled {len(systems)} x {sorted({*lengths, WHOLE})} in "
        f"{time.perf_counter() - started:.1f} s"
    )
    handles = {s.name: {n: s.open(sid) for n, sid in filled[s.name].items()} for s in systems}
    for s in systems:
        got = call(handles[s.name][WHOLE].read_all)
        if len(got) != WHOLE or len(call(handles[s.name][WHOLE].tail, 20)) != 20:
            raise RuntimeError(f"{s.name}: the filled history reads back wrong ({len(got)})")
    for n in lengths:
        key = f"tail_{n}"
        timed[key] = side_by_side(
            {s.name: bind(handles[s.name][n].tail, 20) for s in systems},
            rounds=rounds,
            min_time=min_time,
        )
        _show(key, timed[key])
    timed["read_all"] = side_by_side(
        {s.name: bind(handles[s.name][WHOLE].read_all) for s in systems},
        rounds=rounds,
        min_time=min_time,
    )
    _show("read_all", timed["read_all"])
    for per_system in handles.values():
        for h in per_system.values():
            call(h.close)

    def writes(
        key: str, handles: dict[str, Any], op: Callable[[Any], Callable[[], object]]
    ) -> None:
        timed[key] = side_by_side(
            {name: op(h) for name, h in handles.items()}, rounds=write_rounds, min_time=min_time
        )
        _show(key, timed[key])
        for h in handles.values():
            call(h.close)

    writes("append", {s.name: s.open(_new_id(s)) for s in systems}, lambda h: bind(h.add_one, TEXT))
    expiring = {s.name: s.open_expiring(_new_id(s), TTL) for s in systems}
    if all(h is not None for h in expiring.values()):
        writes("append_ttl", expiring, lambda h: bind(h.add_one, TEXT))
    items = batch(BATCH)
    writes(
        "batch", {s.name: s.open(_new_id(s)) for s in systems}, lambda h: bind(h.add_batch, items)
    )

    timed["users"] = side_by_side(
        {s.name: _user_op(s) for s in systems}, rounds=write_rounds, min_time=min_time
    )
    _show("users", timed["users"])

    out["timed"] = timed
    out["concurrency"] = {}
    for s in systems:
        result = concurrency.check(s, _new_id(s), n=appends)
        out["concurrency"][s.name] = result
        _log(
            f"  concurrency {s.name}: {result['acknowledged']} acknowledged, "
            f"{result['failed']} failed, {result['lost']} lost, {result['duplicated']} "
            f"duplicated, {result['reordered']} reordered ({result['seconds']} s)"
        )
    return out


@contextlib.contextmanager
def sqlite_backend() -> Iterator[tuple[list[System], Callable[[], None]]]:
    from bench.peers import sqlite_systems

    workdir = tempfile.mkdtemp(prefix="pyai-peers-")
    systems: list[System] = []
    try:
        systems = sqlite_systems.systems(workdir)
        yield systems, lambda: None
    finally:
        for s in systems:
            s.close()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def postgres_backend(server: str) -> Iterator[tuple[list[System], Callable[[], None]]]:
    import psycopg

    from bench.peers import postgres_systems

    _local_only(server)
    name, dsn = postgres_systems.create_database(server)
    systems: list[System] = []

    def analyze() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")

    try:
        systems = postgres_systems.systems(dsn)
        yield systems, analyze
    finally:
        for s in systems:
            with contextlib.suppress(Exception):
                s.close()
        postgres_systems.drop_database(server, name)


@contextlib.contextmanager
def redis_backend(url: str) -> Iterator[tuple[list[System], Callable[[], None]]]:
    from bench.peers import redis_systems

    _local_only(url)
    prefix = f"pyai-peers-{uuid.uuid4().hex[:10]}"
    systems: list[System] = []
    try:
        systems = redis_systems.systems(url, prefix)
        yield systems, lambda: None
    finally:
        for s in systems:
            with contextlib.suppress(Exception):
                s.close()
        left = redis_systems.delete_keys(url, prefix)
        _log(f"  deleted {left:,} keys under {prefix}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres,redis")
    parser.add_argument("--rounds", type=int, default=3)
    # Writes wait for fsync (SQLite, PostgreSQL): other disk users on a shared machine
    # make them the noisiest, so they get more rounds.
    parser.add_argument("--write-rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--max-length", type=int, default=max(TAIL_LENGTHS))
    parser.add_argument("--appends", type=int, default=concurrency.APPENDS)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--redis", default=REDIS)
    parser.add_argument(
        "--no-docs", action="store_true", help="do not update docs/benchmarks.md and its plot"
    )
    args = parser.parse_args(argv)
    # Peers warn about their own deprecations on import and use; the numbers are the point.
    warnings.simplefilter("ignore")

    lengths = tuple(n for n in TAIL_LENGTHS if n <= args.max_length)
    backends: dict[str, Callable[[], Any]] = {
        "sqlite": sqlite_backend,
        "postgres": lambda: postgres_backend(args.postgres),
        "redis": lambda: redis_backend(args.redis),
    }
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": report.machine(args.postgres, args.redis),
        "settings": {
            "rounds": args.rounds,
            "write_rounds": max(args.rounds, args.write_rounds),
            "min_time": args.min_time,
            "tail_lengths": list(lengths),
            "batch": BATCH,
            "whole": WHOLE,
            "processes": concurrency.PROCESSES,
            "appends": args.appends,
        },
        "backends": {},
    }
    for name in args.backends.split(","):
        _log(f"{name}:")
        t0 = time.perf_counter()
        with backends[name]() as (systems, after_fill):
            results["backends"][name] = measure(
                systems,
                rounds=args.rounds,
                write_rounds=max(args.rounds, args.write_rounds),
                min_time=args.min_time,
                lengths=lengths,
                appends=args.appends,
                after_fill=after_fill,
            )
        _log(f"  {name} took {time.perf_counter() - t0:.0f} s")
    results["seconds"] = round(time.perf_counter() - started, 1)
    report.write(results, docs=not args.no_docs)
    _log(f"done in {results['seconds']:.0f} s")
    return results
