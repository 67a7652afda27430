"""Async twins behave like the sync methods and do not block the event loop."""

from __future__ import annotations

import asyncio

from pyai.sessions import SessionEvent

from ..conftest import Backend


def test_async_twins(backend: Backend) -> None:
    async def main() -> None:
        s = backend.session()
        seen: list[int] = []
        s.on(SessionEvent.MESSAGE_ADDED, lambda m: seen.append(m.seq))
        m = await s.aadd_message("user", "hi")
        await s.aadd_messages([{"role": "assistant", "content": "hello"}])
        assert [x.content for x in await s.aget_messages()] == ["hi", "hello"]
        assert [x.content for x in await s.aget_messages(limit=1)] == ["hello"]
        assert [x.seq for x in await s.aget_messages(after=1)] == [2]
        assert await s.acount() == 2
        await s.aset("k", {"v": 1})
        assert await s.aget("k") == {"v": 1}
        assert await s.ametadata() == {"k": {"v": 1}}
        assert await s.aunset("k") is True
        popped = await s.apop_message()
        assert popped is not None and popped.content == "hello"
        doc = await s.aexport()
        other = backend.session()
        assert await other.aimport_data(doc) == 1
        await s.aclear()
        assert await s.acount() == 0
        assert await s.adelete() is True
        await s.aclose()
        assert m.seq == 1 and seen == [1, 2]

    asyncio.run(main())


def test_async_calls_run_concurrently_without_blocking_the_loop(backend: Backend) -> None:
    async def main() -> list[int]:
        s = backend.session()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.gather(*(s.aadd_message("user", str(i)) for i in range(20)))
        task.cancel()
        assert ticks > 0
        return [m.seq or 0 for m in await s.aget_messages()]

    assert sorted(asyncio.run(main())) == list(range(1, 21))
