"""What is specific to the SQL store: schema, migrations, engines, plans, the CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from pyai.sessions import PostgresSession, SQLiteSession, open_session
from pyai.sessions._sql import migrate
from pyai.sessions._sql.engines import normalize_url
from pyai.sessions._sql.registry import repository_for_url
from pyai.sessions.errors import (
    BackendUnavailableError,
    ConfigurationError,
    SchemaError,
)

ROOT = Path(__file__).resolve().parents[2]


def _pyai(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "pyai", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def test_schema_revision_constant_matches_scripts() -> None:
    assert migrate.head_revision() == migrate.SCHEMA_REVISION


# -- migrations ------------------------------------------------------------------------


def _tables(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def test_upgrade_check_downgrade_upgrade(empty_db_url: str) -> None:
    url = normalize_url(empty_db_url)
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.SCHEMA_REVISION
    assert {"sessions", "messages", "metadata_kv"} <= _tables(empty_db_url)
    assert migrate.check(url) == []
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert _tables(empty_db_url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert migrate.check(url) == []


def test_alembic_command_line_from_checkout_root(empty_db_url: str) -> None:
    env = {**os.environ, "PYAI_DATABASE_URL": empty_db_url}
    alembic = [sys.executable, "-m", "alembic"]
    for args in (["upgrade", "head"], ["check"], ["downgrade", "base"]):
        done = subprocess.run(
            [*alembic, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*alembic, "-x", f"url={empty_db_url}", "upgrade", "head"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert migrate.current(normalize_url(empty_db_url)) == migrate.SCHEMA_REVISION


def test_pyai_db_commands(empty_db_url: str) -> None:
    current = _pyai("db", "current", "--url", empty_db_url)
    assert current.returncode == 0 and "no pyai schema" in current.stdout
    up = _pyai("db", "upgrade", env={"PYAI_DATABASE_URL": empty_db_url})
    assert up.returncode == 0, up.stderr
    assert migrate.SCHEMA_REVISION in up.stdout
    assert _pyai("db", "check", "--url", empty_db_url).returncode == 0
    down = _pyai("db", "downgrade", "base", "--url", empty_db_url)
    assert down.returncode == 0 and "base" in down.stdout


def test_pyai_db_errors_are_one_line() -> None:
    bad = _pyai("db", "current", "--url", "mysql://root@127.0.0.1/test")
    assert bad.returncode == 1
    assert bad.stderr.startswith("pyai: error:") and "Traceback" not in bad.stderr
    down = _pyai("db", "current", "--url", "postgresql://u:hunter2@127.0.0.1:1/x")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "hunter2" not in down.stderr + down.stdout


# -- schema policy ---------------------------------------------------------------------


def test_sqlite_brings_its_own_schema_to_head(tmp_path: Path) -> None:
    path = tmp_path / "auto.db"
    SQLiteSession(path, "s").add_message("user", "hi")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


@pytest.mark.postgres
def test_postgres_refuses_a_database_not_at_head(fresh_postgres_url: str) -> None:
    session = PostgresSession(connection_string=fresh_postgres_url, session_id="s")
    with pytest.raises(SchemaError) as info:
        session.add_message("user", "hi")
    message = str(info.value)
    assert "pyai db upgrade" in message and "alembic upgrade head" in message
    # Nothing was created behind the DBA's back.
    assert _tables(fresh_postgres_url) == set()
    created = PostgresSession(
        connection_string=fresh_postgres_url, session_id="s", create_schema=True
    )
    created.add_message("user", "hi")
    assert migrate.current(normalize_url(fresh_postgres_url)) == migrate.SCHEMA_REVISION
    assert [m.content for m in session.get_messages()] == ["hi"]


@pytest.mark.postgres
def test_postgres_at_older_revision_names_the_fix(fresh_postgres_url: str) -> None:
    url = normalize_url(fresh_postgres_url)
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="0000"):
        PostgresSession(connection_string=fresh_postgres_url, session_id="x").count()


# -- engines, URLs, secrets -------------------------------------------------------------


def test_session_objects_share_one_engine_and_do_no_io(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    sessions = [SQLiteSession(path, f"user-{i}") for i in range(10_000)]
    assert not path.exists()  # construction opened nothing
    repositories = {id(s.repository) for s in sessions}
    assert len(repositories) == 1
    engine = sessions[0].repository.engine  # type: ignore[attr-defined]
    sessions[0].add_message("user", "hi")
    sessions[1].add_message("user", "hi")
    assert engine.pool.checkedout() == 0
    assert SQLiteSession(str(path), "x").repository is sessions[0].repository
    assert open_session(f"sqlite:///{path}", "y").repository is sessions[0].repository


@pytest.mark.postgres
def test_postgres_sessions_share_one_pool(postgres_migrated_url: str) -> None:
    sessions = [
        PostgresSession(connection_string=postgres_migrated_url, session_id=f"u{i}")
        for i in range(10_000)
    ]
    assert len({id(s.repository) for s in sessions}) == 1
    engine = sessions[0].repository.engine  # type: ignore[attr-defined]
    for s in sessions[:50]:
        s.add_message("user", "hi")
    assert engine.pool.checkedout() == 0
    assert engine.pool.size() == 10  # the one pool, not one per object


def test_caller_owned_engine_is_not_disposed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    with SQLiteSession(engine=engine, session_id="s") as s:
        s.add_message("user", "hi")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 1
    engine.dispose()


def test_memory_sqlite_is_private_per_object() -> None:
    a = SQLiteSession(":memory:", "t")
    b = SQLiteSession(":memory:", "t")
    a.add_message("user", "only in a")
    assert b.count() == 0 and a.count() == 1
    a.close()
    b.close()


def test_passwords_never_shown() -> None:
    url = "postgresql://app:s3cr3t-pw@127.0.0.1:1/db"
    session = PostgresSession(connection_string=url, session_id="x")
    assert "s3cr3t-pw" not in repr(session) and "s3cr3t-pw" not in str(session)
    assert "s3cr3t-pw" not in repr(session.repository)
    with pytest.raises(BackendUnavailableError) as info:
        session.count()
    assert "s3cr3t-pw" not in str(info.value) and "127.0.0.1:1" in str(info.value)
    assert "s3cr3t-pw" not in repr(info.value)


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/test", "not a url", "oracle://x", ""])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_session(url, "x")


def test_postgres_url_defaults_to_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"


# -- ordering and plans -------------------------------------------------------------------


def test_prune_deletes_rows(tmp_path: Path) -> None:
    import time
    from datetime import datetime, timezone

    url = normalize_url(f"sqlite:///{tmp_path / 'p.db'}")
    repo = repository_for_url(url, create_schema=True)
    SQLiteSession(tmp_path / "p.db", "dying", ttl=0.2).add_message("user", "x")
    SQLiteSession(tmp_path / "p.db", "living").add_message("user", "y")
    time.sleep(0.4)
    assert repo.prune_expired(now=datetime.now(timezone.utc)) == 1
    conn = sqlite3.connect(tmp_path / "p.db")
    try:
        assert conn.execute("SELECT session_id FROM sessions").fetchall() == [("living",)]
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (1,)
    finally:
        conn.close()


@pytest.mark.postgres
def test_postgres_tail_read_uses_the_primary_key(postgres_migrated_url: str) -> None:
    """The trap from PERFORMANCE.md: after ANALYZE, with one session holding about a
    tenth of a large table, the tail read must be an index scan on (session_id, seq)."""
    url = normalize_url(postgres_migrated_url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sessions (session_id, created_at, updated_at) "
                "SELECT 'plan-' || g, now(), now() FROM generate_series(0, 9) g"
            )
        )
        conn.execute(
            text(
                "INSERT INTO messages (session_id, seq, role, content, created_at) "
                "SELECT 'plan-' || (g % 10), g, 'user', '\"x\"'::jsonb, now() "
                "FROM generate_series(1, 200000) g"
            )
        )
        conn.execute(text("ANALYZE messages"))
        conn.execute(text("ANALYZE sessions"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT m.seq FROM messages m JOIN sessions s "
                    "ON s.session_id = m.session_id WHERE m.session_id = 'plan-3' "
                    "AND (s.expires_at IS NULL OR s.expires_at > now()) "
                    "ORDER BY m.seq DESC LIMIT 20"
                )
            )
        )
        conn.execute(text("DELETE FROM sessions WHERE session_id LIKE 'plan-%'"))
    engine.dispose()
    assert "Scan Backward using pk_messages" in plan, plan
    assert "Sort" not in plan, plan


# -- the wheel ---------------------------------------------------------------------------


@pytest.mark.slow
def test_wheel_ships_migrations_and_pyai_db_upgrade_works(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("pyai-*.whl")
    target = tmp_path / "site"
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    assert (target / "pyai" / "_migrations" / "versions").is_dir()
    db = tmp_path / "from-wheel.db"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import pyai; print(pyai.__file__)"],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(target)), where
    up = _pyai(
        "db", "upgrade", "--url", f"sqlite:///{db}", env={"PYTHONPATH": str(target)}, cwd=elsewhere
    )
    assert up.returncode == 0, up.stderr
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    finally:
        conn.close()


# -- round trips -------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_append_is_one_round_trip(postgres_migrated_url: str, tmp_path: Path) -> None:
    """Counted with libpq's protocol trace: each round trip ends in ReadyForQuery."""
    import psycopg
    from sqlalchemy import event

    engine = create_engine(normalize_url(postgres_migrated_url), pool_size=1, max_overflow=0)
    trace = (tmp_path / "trace.txt").open("w")

    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection, record):  # type: ignore[no-untyped-def]
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    session = PostgresSession(engine=engine, session_id="round-trips")
    session.add_message("user", "warm-up")  # schema check and first connect

    def round_trips(action) -> int:  # type: ignore[no-untyped-def]
        trace.flush()
        before = (tmp_path / "trace.txt").read_text().count("ReadyForQuery")
        action()
        trace.flush()
        return (tmp_path / "trace.txt").read_text().count("ReadyForQuery") - before

    assert round_trips(lambda: session.add_message("user", "one")) == 1
    assert (
        round_trips(
            lambda: session.add_messages([{"role": "user", "content": str(i)} for i in range(20)])
        )
        == 1
    )
    assert round_trips(lambda: session.get_messages(limit=20)) == 1
    assert [m.seq for m in session.get_messages(limit=2)] == [21, 22]
    engine.dispose()
    trace.close()


def test_sqlite_timestamps_match_sqlalchemy_storage_format(tmp_path: Path) -> None:
    """pyai writes SQLite timestamps itself; the ORM models must read them back equal."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy.orm import Session as OrmSession

    from pyai.sessions._sql.models import MessageRow, SessionRow
    from pyai.sessions._sql.types import SQLITE_DATETIME_FORMAT, sqlite_datetime

    for moment in (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-7))),
    ):
        expected = moment.astimezone(timezone.utc).strftime(SQLITE_DATETIME_FORMAT)
        assert sqlite_datetime(moment) == expected
    session = SQLiteSession(tmp_path / "orm.db", "orm")
    stored = session.add_message("user", "hi", metadata={"k": 3})
    engine = create_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    with OrmSession(engine) as orm:
        row = orm.get(MessageRow, ("orm", 1))
        assert row is not None
        assert row.created_at == stored.created_at
        assert row.content == "hi" and row.metadata_ == {"k": 3}
        head = orm.get(SessionRow, "orm")
        assert head is not None and head.last_seq == 1 and head.message_count == 1
    engine.dispose()


# -- encryption at rest --------------------------------------------------------------------


def test_sqlite_file_holds_no_plaintext(tmp_path: Path) -> None:
    from pyai.sessions import generate_key

    path = tmp_path / "enc.db"
    s = SQLiteSession(path, "user-9", encryption_key=generate_key())
    s.add_message("user", "PLAINTEXT-CANARY in a message", metadata={"m": "PLAINTEXT-CANARY"})
    s.set("profile", {"name": "PLAINTEXT-CANARY"})
    s.close()
    SQLiteSession(path, "x").count()  # checkpointing aside, scan every file SQLite wrote
    blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"PLAINTEXT-CANARY" not in blobs
    assert b"user-9" in blobs  # ids stay readable for indexing


@pytest.mark.postgres
def test_postgres_rows_hold_no_plaintext(postgres_migrated_url: str) -> None:
    from pyai.sessions import generate_key

    s = PostgresSession(postgres_migrated_url, "enc-pg", encryption_key=generate_key())
    s.add_message("user", "PLAINTEXT-CANARY", tool_calls=[{"id": "PLAINTEXT-CANARY"}])
    s.set("k", "PLAINTEXT-CANARY")
    engine = create_engine(normalize_url(postgres_migrated_url))
    with engine.connect() as conn:
        dump = conn.execute(
            text(
                "SELECT string_agg(m::text, '') FROM messages m WHERE session_id = 'enc-pg' "
                "UNION ALL SELECT string_agg(kv::text, '') FROM metadata_kv kv "
                "WHERE session_id = 'enc-pg'"
            )
        ).all()
    engine.dispose()
    text_dump = " ".join(str(row[0]) for row in dump)
    assert "PLAINTEXT-CANARY" not in text_dump and "$pyai" in text_dump


def test_a_new_file_switches_to_wal_even_while_another_process_holds_a_lock(
    tmp_path: Path,
) -> None:
    """Switching a file to WAL fails at once (SQLite's busy handler is not used) while
    another connection holds a lock; pyai waits up to its busy timeout instead."""
    import threading

    path = tmp_path / "rollback-journal.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other_app (x)")  # an existing file, not yet in WAL mode
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other_app VALUES (1)")
    timer = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        SQLiteSession(path, "waits", busy_timeout=10).add_message("user", "after the lock")
    finally:
        timer.join()
        holder.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
