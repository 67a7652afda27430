"""Store benchmarks: `pyai sessions copy` throughput and memory, list_sessions page time.

    python -m bench.bench_store [--postgres URL] [--redis URL] [--sizes 1000,10000]

* copy: N sessions x 20 messages from a SQLite file to a fresh PostgreSQL database, with
  the real command in a subprocess; sessions/s and the child's peak RSS (getrusage). The
  copy streams one session at a time, so peak memory should not grow with N.
* list: the time of one `list_sessions(limit=50)` page (first page and a page deep in the
  cursor chain) on stores of 1,000 and 100,000 sessions, per backend.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import machine, save, side_by_side
from pyai.sessions import open_store
from pyai.sessions._sql.engines import normalize_url

MESSAGES = [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}: " + "x" * 80}
    for i in range(20)
]


def _pg_database(server_url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text

    server = normalize_url(server_url)
    name = f"pyai_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from pyai.sessions import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def bench_copy(server_url: str, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        workdir = Path(tempfile.mkdtemp(prefix="pyai-copy-"))
        source = f"sqlite:///{workdir / 'source.db'}"
        with open_store(source) as store:
            for i in range(n):
                store.session(f"user-{i:06d}", user_id=f"owner-{i % 100}").add_messages(MESSAGES)
        target, drop = _pg_database(server_url)
        try:
            subprocess.run(
                [sys.executable, "-m", "pyai", "db", "upgrade", "--url", target],
                check=True,
                capture_output=True,
            )
            start = time.perf_counter()
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pyai",
                    "sessions",
                    "copy",
                    "--from",
                    source,
                    "--to",
                    target,
                    "--json",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - start
            out = child.stdout.read().decode() if child.stdout else ""
            assert os.waitstatus_to_exitcode(status) == 0, out
            rows.append(
                {
                    "sessions": n,
                    "messages": n * len(MESSAGES),
                    "seconds": round(elapsed, 2),
                    "sessions_per_s": round(n / elapsed),
                    "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
                    "result": out.strip().replace("\n", " "),
                }
            )
        finally:
            drop()
    return rows


def _fill_sessions(url: str, n: int) -> None:
    with open_store(url) as store:
        for i in range(n):
            store.session(f"user-{i:06d}", user_id=f"owner-{i % 100}").add_message("user", "hi")


def _first_page(store: Any) -> Any:
    return lambda: store.list_sessions(limit=50)


def _deep_page(store: Any) -> Any:
    page = store.list_sessions(limit=50)
    for _ in range(5):
        page = store.list_sessions(limit=50, cursor=page.next_cursor)
    cursor = page.next_cursor
    return lambda: store.list_sessions(limit=50, cursor=cursor)


def bench_list(make_url: dict[str, Any], sizes: tuple[int, int], min_time: float) -> dict[str, Any]:
    """Each size gets a store of its own (a file, a database, a key prefix)."""
    out: dict[str, Any] = {}
    small, large = sizes
    for name, make in make_url.items():
        stores = {}
        for n in (small, large):
            url = make(n)
            _fill_sessions(url, n)
            stores[n] = open_store(url)
        res = side_by_side(
            {
                f"first page, {small:,}": _first_page(stores[small]),
                f"first page, {large:,}": _first_page(stores[large]),
                f"7th page, {small:,}": _deep_page(stores[small]),
                f"7th page, {large:,}": _deep_page(stores[large]),
            },
            rounds=3,
            min_time=min_time,
        )
        out[name] = {k: round(1000 / v.median, 3) for k, v in res.items()}  # ms per page
        for store in stores.values():
            store.close()
    return out


def _delete_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=os.environ.get("PYAI_TEST_POSTGRES_URL"))
    parser.add_argument("--redis", default=os.environ.get("PYAI_TEST_REDIS_URL"))
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--list-sizes", default="1000,100000")
    parser.add_argument("--min-time", type=float, default=0.5)
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine()}
    if args.postgres:
        result["copy"] = bench_copy(args.postgres, [int(x) for x in args.sizes.split(",")])
        print("copy SQLite -> PostgreSQL (pyai sessions copy, 20 messages per session):")
        for row in result["copy"]:
            print(
                f"  {row['sessions']:>6,} sessions: {row['seconds']} s, "
                f"{row['sessions_per_s']:,} sessions/s, peak RSS {row['peak_rss_mib']} MiB"
            )
    drops: list[Any] = []
    makers: dict[str, Any] = {
        "sqlite": lambda n: f"sqlite:///{Path(tempfile.mkdtemp()) / f'list{n}.db'}"
    }
    if args.postgres:
        from pyai.sessions._sql import migrate

        def pg_store(n: int) -> str:
            url, drop = _pg_database(args.postgres)
            drops.append(drop)
            migrate.upgrade(normalize_url(url))
            return url

        makers["postgres"] = pg_store
    if args.redis:
        run = uuid.uuid4().hex[:8]
        sep = "&" if "?" in args.redis else "?"
        makers["redis"] = lambda n: f"{args.redis}{sep}key_prefix=benchlist{run}x{n}"
    small, large = (int(x) for x in args.list_sizes.split(","))
    try:
        result["list_ms_per_page"] = bench_list(makers, (small, large), args.min_time)
    finally:
        for drop in drops:
            drop()
        if args.redis:
            _delete_redis_prefix(args.redis, f"benchlist{run}")
    print("list_sessions(limit=50), ms per page (median):")
    for name, row in result["list_ms_per_page"].items():
        print(f"  {name}: " + ", ".join(f"{k}: {v}" for k, v in row.items()))
    print(f"saved {save('store', result)}")


if __name__ == "__main__":
    main()
