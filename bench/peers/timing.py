"""Interleaved, time-based sampling for sync and async variants.

Like :func:`bench.harness.side_by_side`, but each variant may be a coroutine function
(awaited back to back inside one running event loop, the way an async application
calls it), and the clock is read after every operation, so an operation slower than the
sample time gives a one-operation sample instead of eight.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
from collections.abc import Callable
from typing import Any

from bench.harness import Result

#: One event loop for the whole run: async clients and engines are bound to the loop
#: they were created on.
LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(LOOP)


def run(awaitable: Any) -> Any:
    """Run a coroutine on the benchmark's event loop (setup, fills, checks)."""
    return LOOP.run_until_complete(awaitable)


def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async function once (awaiting what it returns, if awaitable)."""
    result = fn(*args)
    return run(result) if inspect.isawaitable(result) else result


def bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """A zero-argument operation calling ``fn(*args)``: a coroutine function if ``fn`` is."""
    if inspect.iscoroutinefunction(fn):

        async def op_async() -> Any:
            return await fn(*args)

        return op_async

    def op() -> Any:
        return fn(*args)

    return op


def _sample_sync(op: Callable[[], Any], min_time: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + min_time
    while True:
        op()
        n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


async def _sample_async(op: Callable[[], Any], min_time: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + min_time
    while True:
        await op()
        n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def sample(op: Callable[[], Any], min_time: float) -> float:
    """Operations per second of ``op``, run for at least ``min_time`` seconds."""
    gc.collect()
    if inspect.iscoroutinefunction(op):
        return float(run(_sample_async(op, min_time)))
    return _sample_sync(op, min_time)


def side_by_side(
    variants: dict[str, Callable[[], Any]], *, rounds: int, min_time: float
) -> dict[str, Result]:
    """Interleave the variants for ``rounds`` rounds after one short warm-up round.

    The order rotates every round so that no variant always runs first (right after a
    fill, or after a slow neighbour's garbage).
    """
    results = {name: Result(name) for name in variants}
    names = list(variants)
    for name in names:
        sample(variants[name], min_time / 5)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            results[name].samples.append(sample(variants[name], min_time))
    return results
