"""Several OS processes appending to one session, on the backends they can share."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections import defaultdict

import pytest

from pyai.sessions import open_session

from ..conftest import Backend

WRITERS = 4
PER_WRITER = 250


def _writer(url: str, session_id: str, writer: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    session = open_session(url, session_id)
    start.wait()
    for i in range(PER_WRITER):
        if i % 10 == 9:
            session.add_messages(
                [
                    {"role": "user", "content": f"{writer}:{i}:a"},
                    {"role": "assistant", "content": f"{writer}:{i}:b"},
                ]
            )
        else:
            session.add_message("user", f"{writer}:{i}")
    session.close()


@pytest.mark.slow
def test_processes_appending_to_one_session(durable_backend: Backend) -> None:
    assert durable_backend.url is not None
    session_id = f"race-{uuid.uuid4().hex}"
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_writer, args=(durable_backend.url, session_id, w, start))
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    messages = durable_backend.session(session_id).get_messages()
    per_writer_messages = PER_WRITER + PER_WRITER // 10
    expected = WRITERS * per_writer_messages
    # No loss, no duplicates, contiguous positions.
    assert len(messages) == expected == durable_backend.session(session_id).count()
    assert [m.seq for m in messages] == list(range(1, expected + 1))
    contents = [str(m.content) for m in messages]
    assert len(set(contents)) == expected
    # Each writer's order is kept, and each batch is adjacent.
    order: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for position, content in enumerate(contents):
        writer, i, *part = content.split(":")
        order[writer].append((int(i), part == ["b"]))
        if part == ["a"]:
            assert contents[position + 1] == f"{writer}:{i}:b"
    for writer in map(str, range(WRITERS)):
        assert order[writer] == sorted(order[writer])
        assert len(order[writer]) == per_writer_messages
