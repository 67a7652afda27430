"""`pyai sessions ...` driven as a real subprocess against real stores."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyai.sessions import SessionStore

from ..conftest import Backend


def pyai(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYAI_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "pyai", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _fill(store: SessionStore, prefix: str, n: int = 3) -> None:
    for i in range(n):
        s = store.session(f"{prefix}{i}", user_id="alice" if i % 2 else "bob")
        s.add_messages(
            [
                {"role": "user", "content": f"question {i} ✓"},
                {"role": "assistant", "content": [{"type": "text", "text": f"answer {i}"}]},
            ]
        )
        s.set("title", f"chat {i}")


def _docs(store: SessionStore, prefix: str) -> list[dict]:
    docs = list(store.export_all(prefix))
    for d in docs:
        for key in ("created_at", "updated_at", "expires_at", "ttl"):
            d.pop(key)
    return docs


def test_list_show_delete_prune(durable_backend: Backend, tmp_path: Path) -> None:
    url = durable_backend.url
    assert url
    store = SessionStore(durable_backend.repository)
    prefix = f"cli-{tmp_path.name}-"
    _fill(store, prefix)
    listed = json.loads(pyai("sessions", "list", "--url", url, "--prefix", prefix, "--json").stdout)
    assert [i["session_id"] for i in listed["items"]] == [f"{prefix}2", f"{prefix}1", f"{prefix}0"]
    assert listed["items"][0]["message_count"] == 2 and listed["next_cursor"] is None
    page = json.loads(
        pyai("sessions", "list", "--url", url, "--prefix", prefix, "--limit", "2", "--json").stdout
    )
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = json.loads(
        pyai(
            "sessions",
            "list",
            "--url",
            url,
            "--prefix",
            prefix,
            "--cursor",
            page["next_cursor"],
            "--json",
        ).stdout
    )
    assert [i["session_id"] for i in rest["items"]] == [f"{prefix}0"]
    by_user = json.loads(pyai("sessions", "list", "--url", url, "--user", "alice", "--json").stdout)
    assert f"{prefix}1" in [i["session_id"] for i in by_user["items"]]
    assert all(i["user_id"] == "alice" for i in by_user["items"])

    table = pyai("sessions", "list", "--url", url, "--prefix", prefix)
    assert table.returncode == 0 and f"{prefix}2" in table.stdout
    shown = pyai("sessions", "show", f"{prefix}1", "--url", url)
    assert shown.returncode == 0
    assert "question 1 ✓" in shown.stdout and "answer 1" in shown.stdout
    as_json = json.loads(pyai("sessions", "show", f"{prefix}1", "--url", url, "--json").stdout)
    assert as_json["metadata"] == {"title": "chat 1"}

    deleted = pyai("sessions", "delete", f"{prefix}0", "--url", url)
    assert deleted.returncode == 0
    assert store.session(f"{prefix}0").count() == 0
    again = pyai("sessions", "delete", f"{prefix}0", "--url", url)
    assert again.returncode == 1 and again.stderr.startswith("pyai: error: no session")
    pruned = pyai("sessions", "prune", "--url", url, "--json")
    assert pruned.returncode == 0 and "pruned" in json.loads(pruned.stdout)


def test_export_import_file_and_stdin(durable_backend: Backend, tmp_path: Path) -> None:
    url = durable_backend.url
    assert url
    store = SessionStore(durable_backend.repository)
    prefix = f"exp-{tmp_path.name}-"
    _fill(store, prefix, 4)
    before = _docs(store, prefix)
    out = tmp_path / "export.jsonl"
    done = pyai("sessions", "export", "--prefix", prefix, "-o", str(out), "--url", url)
    assert done.returncode == 0, done.stderr
    lines = out.read_bytes().splitlines()
    header, trailer = json.loads(lines[0]), json.loads(lines[-1])
    assert header["format"] == "pyai.sessions.jsonl" and header["count"] == 4
    assert trailer["count"] == 4 and trailer["checksum"].startswith("sha256:")
    from pyai.sessions import open_store

    with open_store(url) as opened:
        assert header["source"] == opened.location  # the URL, password hidden

    for i in range(4):
        store.delete_session(f"{prefix}{i}")
    imported = pyai("sessions", "import", str(out), "--url", url)
    assert imported.returncode == 0, imported.stderr
    assert _docs(store, prefix) == before
    refused = pyai("sessions", "import", str(out), "--url", url)
    assert refused.returncode == 1 and "line 2" in refused.stderr
    replaced = pyai(
        "sessions", "import", "-", "--mode", "replace", "--url", url, stdin=out.read_bytes()
    )
    assert replaced.returncode == 0, replaced.stderr
    assert _docs(store, prefix) == before
    one = pyai("sessions", "export", f"{prefix}1", "--url", url)
    assert one.returncode == 0 and len(one.stdout.splitlines()) == 3


@pytest.mark.parametrize("damage", ["truncate", "tamper", "drop-trailer", "garbage", "empty"])
def test_damaged_files_write_nothing(tmp_path: Path, damage: str) -> None:
    source = f"sqlite:///{tmp_path / 'src.db'}"
    target = f"sqlite:///{tmp_path / 'dst.db'}"
    from pyai.sessions import open_store

    with open_store(source) as store:
        _fill(store, "d-", 3)
    out = tmp_path / "export.jsonl"
    assert pyai("sessions", "export", "--all", "-o", str(out), "--url", source).returncode == 0
    data = out.read_bytes()
    lines = data.splitlines(keepends=True)
    damaged = {
        "truncate": data[: len(data) - len(lines[-1]) - 40],
        "tamper": data.replace(b"question 2", b"question 9"),
        "drop-trailer": b"".join(lines[:-1]),
        "garbage": b"".join([*lines[:2], b"{not json\n", *lines[2:]]),
        "empty": b"",
    }[damage]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(damaged)
    done = pyai("sessions", "import", str(bad), "--url", target)
    assert done.returncode == 1
    assert done.stderr.startswith("pyai: error: line ")
    with open_store(target) as store:
        assert list(store.session_ids()) == []


def test_bad_input_is_one_line_never_a_traceback(tmp_path: Path) -> None:
    cases = [
        ("sessions", "list", "--url", "mysql://root@127.0.0.1/x"),
        ("sessions", "list", "--url", "postgresql://u:hunter2@127.0.0.1:1/x"),
        ("sessions", "list", "--url", "redis://:hunter2@127.0.0.1:1/0"),
        ("sessions", "list", "--url", "no-such-scheme://x"),
        ("sessions", "show", "missing", "--url", f"sqlite:///{tmp_path / 'x.db'}"),
        (
            "sessions",
            "import",
            str(tmp_path / "missing.jsonl"),
            "--url",
            f"sqlite:///{tmp_path / 'x.db'}",
        ),
        ("sessions", "list", "--limit", "0", "--url", f"sqlite:///{tmp_path / 'x.db'}"),
        ("sessions", "list", "--cursor", "garbage", "--url", f"sqlite:///{tmp_path / 'x.db'}"),
        (
            "sessions",
            "copy",
            "--from",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--to",
            f"sqlite:///{tmp_path / 'x.db'}",
        ),
        ("db", "current", "--url", "postgresql://u:hunter2@127.0.0.1:1/x"),
    ]
    for args in cases:
        done = pyai(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("pyai: error:"), (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
        assert "hunter2" not in done.stderr + done.stdout


def test_help_reads_well() -> None:
    top = pyai("--help")
    assert top.returncode == 0 and "sessions" in top.stdout and "db" in top.stdout
    for sub in ("list", "show", "export", "import", "copy", "delete", "prune"):
        done = pyai("sessions", sub, "--help")
        assert done.returncode == 0 and "--json" in done.stdout
    assert "python -m pyai" not in pyai("sessions", "--help").stdout


@pytest.mark.postgres
@pytest.mark.redis
def test_copy_between_backends_ends_where_it_started(
    postgres_migrated_url: str, redis_test_url: str, tmp_path: Path
) -> None:
    """SQLite -> PostgreSQL -> Redis -> SQLite: the sessions come back equal."""
    from pyai.sessions import open_store

    prefix = f"copy-{tmp_path.name}-"
    start = f"sqlite:///{tmp_path / 'start.db'}"
    end = f"sqlite:///{tmp_path / 'end.db'}"
    chain = [start, postgres_migrated_url, redis_test_url, end]
    with open_store(start) as store:
        _fill(store, prefix, 5)
        expected = _docs(store, prefix)
    for source, target in itertools.pairwise(chain):
        done = pyai(
            "sessions", "copy", "--from", source, "--to", target, "--prefix", prefix, "--json"
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["copied"] == 5 and result["messages_verified"] == 10
    resumed = pyai(
        "sessions", "copy", "--from", chain[-2], "--to", end, "--prefix", prefix, "--json"
    )
    assert json.loads(resumed.stdout)["already_there"] == 5
    with open_store(end) as store:
        assert _docs(store, prefix) == expected
    for url in chain[1:-1]:
        with open_store(url) as store:
            for i in range(5):
                store.delete_session(f"{prefix}{i}")


def test_rekey_and_keys_never_printed(tmp_path: Path) -> None:
    from pyai.sessions import SQLiteSession, generate_key

    old, new = generate_key(), generate_key()
    url = f"sqlite:///{tmp_path / 'k.db'}"
    s = SQLiteSession(tmp_path / "k.db", "k1", encryption_key=old)
    s.add_messages(
        [{"role": "user", "content": "secret one"}, {"role": "user", "content": "secret two"}]
    )
    s.set("meta", "secret three")
    locked = pyai("sessions", "show", "k1", "--url", url)
    assert locked.returncode == 1 and "encrypted" in locked.stderr
    done = pyai("sessions", "rekey", "--key", new, "--old-key", old, "--url", url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rekeyed": 1}
    with_new = pyai("sessions", "show", "k1", "--url", url, "--key", new, "--json")
    assert [m["content"] for m in json.loads(with_new.stdout)["messages"]] == [
        "secret one",
        "secret two",
    ]
    with_old = pyai("sessions", "show", "k1", "--url", url, "--key", old)
    assert with_old.returncode == 1
    for out in (locked, done, with_new, with_old):
        assert old not in out.stdout + out.stderr and new not in out.stdout + out.stderr
    assert SQLiteSession(tmp_path / "k.db", "k1", encryption_key=new).metadata() == {
        "meta": "secret three"
    }


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    from pyai.sessions import SQLiteSession

    SQLiteSession(tmp_path / "p.db", "big").add_messages(
        [{"role": "user", "content": "x" * 200}] * 2000
    )
    url = f"sqlite:///{tmp_path / 'p.db'}"
    done = subprocess.run(
        f"{sys.executable} -m pyai sessions show big --json --url {url} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "{\n"
    assert done.stderr == ""
