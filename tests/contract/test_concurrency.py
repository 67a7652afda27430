"""Threads writing one session through separate handles: nothing lost or duplicated."""

from __future__ import annotations

import threading

from ..conftest import Backend


def test_threads_appending_to_one_session(backend: Backend) -> None:
    sid = backend.session().session_id
    writers, per_writer = 4, 25
    errors: list[BaseException] = []

    def write(w: int) -> None:
        s = backend.session(sid)
        try:
            for i in range(per_writer):
                if i % 5 == 4:
                    s.add_messages(
                        [
                            {"role": "user", "content": f"{w}:{i}:a"},
                            {"role": "user", "content": f"{w}:{i}:b"},
                        ]
                    )
                else:
                    s.add_message("user", f"{w}:{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    msgs = backend.session(sid).get_messages()
    expected = writers * (per_writer + per_writer // 5)
    assert len(msgs) == expected == backend.session(sid).count()
    assert [m.seq for m in msgs] == list(range(1, expected + 1))
    contents = [m.content for m in msgs]
    assert len(set(contents)) == expected
    for w in range(writers):
        mine = [c for c in contents if isinstance(c, str) and c.startswith(f"{w}:")]
        keys = [(int(c.split(":")[1]), c.endswith(":b")) for c in mine]
        assert keys == sorted(keys)
    # A batch lands contiguously.
    for i, c in enumerate(contents):
        if isinstance(c, str) and c.endswith(":a"):
            assert contents[i + 1] == c[:-1] + "b"


def test_cursor_reader_never_misses_a_message_committed_later(backend: Backend) -> None:
    """A reader paging with after= while writers append sees every position, in order."""
    sid = backend.session().session_id
    writers, per_writer = 3, 30
    total = writers * per_writer
    seen: list[int] = []
    done = threading.Event()

    def write(w: int) -> None:
        s = backend.session(sid)
        for i in range(per_writer):
            s.add_message("user", f"{w}:{i}")

    def read() -> None:
        s = backend.session(sid)
        cursor = 0
        while len(seen) < total:
            page = s.get_messages(after=cursor, limit=7)
            for m in page:
                seen.append(m.seq or 0)
            if page:
                cursor = page[-1].seq or cursor
            elif done.is_set() and s.count() == len(seen):
                break

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert seen == list(range(1, total + 1))
