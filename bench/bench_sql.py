"""SQL store benchmarks: pyai against the raw driver doing the same work, side by side.

    python -m bench.bench_sql [--postgres URL] [--rounds 3] [--min-time 0.5]

Workloads (issue: SQL session store):
* append one message, durable on return: pyai ``add_message`` vs the raw driver
  assigning the next position and inserting the row in one transaction (SQLite:
  BEGIN IMMEDIATE, UPDATE ... RETURNING, INSERT, COMMIT; PostgreSQL: the same as one
  autocommit statement, the fastest form the driver allows);
* ``get_messages(limit=20)`` on a 1,000- and a 100,000-message session, vs the raw
  indexed SELECT and json decoding of the same rows;
* 10,000 session objects for distinct users: time, and pools opened.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.harness import Result, machine, ratio_table, save, side_by_side
from pyai.sessions import PostgresSession, SQLiteSession
from pyai.sessions._sql import migrate
from pyai.sessions._sql.engines import normalize_url
from pyai.sessions._sql.types import sqlite_datetime

TEXT = "What is the capital of France? Please answer in one short sentence."


def _fill(session: Any, n: int) -> None:
    batch = [
        {"role": "user" if i % 2 else "assistant", "content": f"{TEXT} #{i}"} for i in range(1000)
    ]
    for _ in range(n // 1000):
        session.add_messages(batch)


# -- SQLite -------------------------------------------------------------------------------


def sqlite_raw_append(path: Path, session_id: str) -> Any:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    now = sqlite_datetime(datetime.now(timezone.utc))
    conn.execute(
        "INSERT INTO sessions (session_id, created_at, updated_at, last_seq, message_count) "
        "VALUES (?, ?, ?, 0, 0)",
        (session_id, now, now),
    )
    content = json.dumps(TEXT)

    def append() -> None:
        now = sqlite_datetime(datetime.now(timezone.utc))
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        (seq,) = cur.execute(
            "UPDATE sessions SET last_seq = last_seq + 1, message_count = message_count + 1, "
            "updated_at = ? WHERE session_id = ? RETURNING last_seq",
            (now, session_id),
        ).fetchone()
        cur.execute(
            "INSERT INTO messages (session_id, seq, role, content, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_id, seq, "user", content, now),
        )
        cur.execute("COMMIT")

    return append


def sqlite_raw_tail(path: Path, session_id: str) -> Any:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def tail() -> list[Any]:
        rows = conn.execute(
            "SELECT seq, created_at, role, content FROM messages WHERE session_id = ? "
            "ORDER BY seq DESC LIMIT 20",
            (session_id,),
        ).fetchall()
        rows.reverse()
        return [(s, c, r, json.loads(x)) for s, c, r, x in rows]

    return tail


def bench_sqlite(rounds: int, min_time: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pyai-bench-"))
    path = workdir / "bench.db"
    ours = SQLiteSession(path, "append-pyai")
    ours.add_message("user", "warm-up")
    raw = sqlite_raw_append(path, "append-raw")
    append = side_by_side(
        {"pyai": lambda: ours.add_message("user", TEXT), "raw": raw},
        rounds=rounds,
        min_time=min_time,
    )
    small, large = SQLiteSession(path, "tail-1k"), SQLiteSession(path, "tail-100k")
    _fill(small, 1_000)
    _fill(large, 100_000)
    tails = side_by_side(
        {
            "pyai 1k": lambda: small.get_messages(limit=20),
            "pyai 100k": lambda: large.get_messages(limit=20),
            "raw 100k": sqlite_raw_tail(path, "tail-100k"),
        },
        rounds=rounds,
        min_time=min_time,
    )
    return {
        "append": append,
        "tail": tails,
        "objects": objects(lambda i: SQLiteSession(path, f"u{i}")),
    }


# -- PostgreSQL ---------------------------------------------------------------------------


def pg_raw_append(url: str, session_id: str) -> Any:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    now = datetime.now(timezone.utc)
    conn.execute(
        "INSERT INTO sessions (session_id, created_at, updated_at) VALUES (%s, %s, %s)",
        (session_id, now, now),
    )
    content = json.dumps(TEXT)
    sql = (
        "WITH s AS (UPDATE sessions SET last_seq = last_seq + 1, message_count = "
        "message_count + 1, updated_at = %(now)s WHERE session_id = %(sid)s RETURNING last_seq) "
        "INSERT INTO messages (session_id, seq, role, content, created_at) "
        "SELECT %(sid)s, s.last_seq, 'user', CAST(%(content)s AS JSONB), %(now)s FROM s"
    )

    def append() -> None:
        conn.execute(
            sql, {"sid": session_id, "now": datetime.now(timezone.utc), "content": content}
        )

    return append


def pg_raw_tail(url: str, session_id: str) -> Any:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def tail() -> list[Any]:
        rows = conn.execute(
            "SELECT seq, created_at, role, CAST(content AS TEXT) FROM messages "
            "WHERE session_id = %s ORDER BY seq DESC LIMIT 20",
            (session_id,),
        ).fetchall()
        rows.reverse()
        return [(s, c, r, json.loads(x)) for s, c, r, x in rows]

    return tail


def bench_postgres(server_url: str, rounds: int, min_time: float) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    server = normalize_url(server_url)
    name = f"pyai_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        ours = PostgresSession(url_text, "append-pyai")
        ours.add_message("user", "warm-up")
        append = side_by_side(
            {
                "pyai": lambda: ours.add_message("user", TEXT),
                "raw": pg_raw_append(url_text, "append-raw"),
            },
            rounds=rounds,
            min_time=min_time,
        )
        small, large = PostgresSession(url_text, "tail-1k"), PostgresSession(url_text, "tail-100k")
        _fill(small, 1_000)
        _fill(large, 100_000)
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
        tails = side_by_side(
            {
                "pyai 1k": lambda: small.get_messages(limit=20),
                "pyai 100k": lambda: large.get_messages(limit=20),
                "raw 100k": pg_raw_tail(url_text, "tail-100k"),
            },
            rounds=rounds,
            min_time=min_time,
        )
        objs = objects(lambda i: PostgresSession(url_text, f"u{i}"))
    finally:
        from pyai.sessions import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return {"append": append, "tail": tails, "objects": objs}


def objects(make: Any, n: int = 10_000) -> dict[str, Any]:
    start = time.perf_counter()
    sessions = [make(i) for i in range(n)]
    elapsed = time.perf_counter() - start
    repositories = {id(s.repository) for s in sessions}
    sessions[0].add_message("user", "x")
    return {
        "objects": n,
        "seconds": round(elapsed, 3),
        "per_second": round(n / elapsed),
        "distinct_engines": len(repositories),
    }


def report(label: str, res: dict[str, Any]) -> str:
    a: dict[str, Result] = res["append"]
    t: dict[str, Result] = res["tail"]
    rows = [
        (f"{label}: append 1 message, durable", a["pyai"], a["raw"]),
        (f"{label}: last 20 of 100,000", t["pyai 100k"], t["raw 100k"]),
    ]
    flat = t["pyai 1k"].median / t["pyai 100k"].median
    objs = res["objects"]
    return (
        ratio_table(rows)
        + f"\n\n{label}: tail read cost at 100,000 vs 1,000 messages: {flat:.2f}x "
        f"({t['pyai 100k'].median:,.0f} vs {t['pyai 1k'].median:,.0f} reads/s)."
        + f"\n{label}: {objs['objects']:,} session objects in {objs['seconds']} s "
        f"({objs['per_second']:,}/s), {objs['distinct_engines']} engine(s) and pool(s)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=os.environ.get("PYAI_TEST_POSTGRES_URL"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5)
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": machine()}
    text_parts = []
    sqlite_res = bench_sqlite(args.rounds, args.min_time)
    text_parts.append(report("SQLite", sqlite_res))
    out["sqlite"] = sqlite_res
    if args.postgres:
        pg_res = bench_postgres(args.postgres, args.rounds, args.min_time)
        text_parts.append(report("PostgreSQL", pg_res))
        out["postgres"] = pg_res
    print("\n\n".join(text_parts))

    def encode(value: Any) -> Any:
        if isinstance(value, Result):
            return value.summary()
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        return value

    print(f"\nsaved {save('sql', encode(out))}")


if __name__ == "__main__":
    main()
