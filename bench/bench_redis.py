"""pyai's Redis store against raw redis-py doing the same work, side by side in one run.

    .venv/bin/python bench/bench_redis.py [--url redis://127.0.0.1:6379/0] [--samples 11]
                                          [--seconds 0.3] [--cluster-url URL]

Workloads (each round runs every variant for at least ``--seconds``, taking turns, so
that drift on a shared machine hits them alike; rates are medians over the rounds, and
ratios the median of the per-round ratios, with their range):

* append one message with a ttl: ``RedisSession.add_message`` against a redis-py
  pipeline of ``RPUSH`` (the message as JSON: role, content, timestamp) + ``EXPIRE``;
* the last 20 of 10,000 messages: ``get_messages(limit=20)`` against ``LRANGE -20 -1``,
  bare and with the JSON decoded (what a caller needs to use the messages);
* the same tail read on 1,000 and 100,000 messages (cost must not grow with history),
  and a cursor page (``after=``) deep in the long history.

Only loopback servers are measured; every key the run writes is deleted at the end.
Results go to docs/benchmarks.md ("## Redis") by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import hiredis
import redis

from pyai.sessions import RedisSession
from pyai.sessions._message import Message, encode_message
from pyai.sessions._repository import WriteContext

CONTENT = "The quick brown fox jumps over the lazy dog. " * 3  # ~135 characters
TTL = 3600


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second, run for at least ``seconds``."""
    for _ in range(20):
        operation()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(25):
            operation()
        count += 25
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


class Rounds:
    """Operations per second of each variant in each round (variants take turns)."""

    def __init__(self, results: dict[str, list[float]]) -> None:
        self.results = results

    def __getitem__(self, name: str) -> float:
        """The median rate of ``name``."""
        return statistics.median(self.results[name])

    def ratio(self, fast: str, slow: str) -> str:
        """How much longer ``slow`` takes than ``fast``: the median of the per-round ratios
        (a round's variants ran back to back, so drift of a shared machine hits them
        alike) and their range."""
        ratios = sorted(f / s for f, s in zip(self.results[fast], self.results[slow], strict=True))
        return f"{statistics.median(ratios):.2f}x time (rounds {ratios[0]:.2f}-{ratios[-1]:.2f})"


def measure(
    variants: dict[str, Callable[[], Callable[[], object]]], samples: int, seconds: float
) -> Rounds:
    """Each variant's rate in each of ``samples`` rounds; ``variants`` build a fresh operation."""
    results: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(samples):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            results[name].append(rate(variants[name](), seconds))
    return Rounds(results)


def machine(raw: redis.Redis) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    server = raw.info("server")
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores (shared)",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis-py": redis.__version__,
        "hiredis": getattr(hiredis, "__version__", "?"),
        "server": f"Redis {server['redis_version']} on {server.get('tcp_port', '?')}, loopback",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def fill_raw(raw: redis.Redis, key: str, count: int) -> None:
    pipe = raw.pipeline(transaction=False)
    for start in range(0, count, 1000):
        pipe.rpush(key, *[raw_payload(i) for i in range(start, min(start + 1000, count))])
    pipe.execute()


def raw_payload(i: int | str) -> str:
    return json.dumps(
        {
            "role": "user",
            "content": f"{CONTENT}{i}",
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
    )


def fill_pyai(session: RedisSession, count: int) -> None:
    for start in range(0, count, 1000):
        session.add_messages(
            [
                {"role": "user", "content": f"{CONTENT}{i}"}
                for i in range(start, min(start + 1000, count))
            ]
        )


def run(url: str, samples: int, seconds: float, label: str) -> list[tuple[str, str, str]]:
    """The workloads on one server; returns table rows (workload, numbers, ratio)."""
    prefix = f"pyai-bench-{uuid.uuid4().hex[:8]}"
    cluster = "cluster=true" in urlsplit(url).query
    target = url + ("&" if "?" in url else "?") + f"key_prefix={prefix}"
    if cluster:
        raw: Any = redis.cluster.RedisCluster.from_url(url.split("?")[0], decode_responses=True)
    else:
        raw = redis.Redis.from_url(url, decode_responses=True)
    rows: list[tuple[str, str, str]] = []
    try:
        print(f"[{label}] append ...", file=sys.stderr)

        def raw_append(transaction: bool) -> Callable[[], Callable[[], object]]:
            def build() -> Callable[[], object]:
                key = f"{prefix}:raw:{{{uuid.uuid4().hex}}}"

                def append() -> None:
                    pipe = raw.pipeline(transaction=transaction)
                    pipe.rpush(key, raw_payload(""))
                    pipe.expire(key, TTL)
                    pipe.execute()

                return append

            return build

        def pyai_append() -> Callable[[], object]:
            session = RedisSession(uuid.uuid4().hex, url=target, ttl=TTL)
            return lambda: session.add_message("user", CONTENT)

        def repository_append() -> Callable[[], object]:
            # Below the session facade: no validation, no Message objects; shows where
            # the time goes (facade / repository and script).
            session = RedisSession(uuid.uuid4().hex, url=target, ttl=TTL)
            record = encode_message(Message(role="user", content=CONTENT))
            repository, sid = session.repository, session.session_id

            def append() -> None:
                repository.append(sid, [record], WriteContext(datetime.now(timezone.utc), TTL))

            return append

        variants = {"raw": raw_append(False), "pyai": pyai_append, "repository": repository_append}
        if not cluster:
            variants["raw MULTI"] = raw_append(True)
        appends = measure(variants, samples, seconds)
        rows.append(
            (
                "append 1 message (ttl)",
                f"raw RPUSH+EXPIRE pipeline {appends['raw']:,.0f}/s; pyai "
                f"{appends['pyai']:,.0f}/s"
                + (f"; raw in MULTI {appends['raw MULTI']:,.0f}/s" if not cluster else ""),
                appends.ratio("raw", "pyai"),
            )
        )
        rows.append(
            (
                "append, repository only (no validation)",
                f"{appends['repository']:,.0f}/s",
                appends.ratio("raw", "repository"),
            )
        )

        print(f"[{label}] tail of 10,000 ...", file=sys.stderr)
        list_key = f"{prefix}:raw:{{tail}}"
        fill_raw(raw, list_key, 10_000)
        tail = RedisSession("tail-10k", url=target)
        fill_pyai(tail, 10_000)
        reads = measure(
            {
                "raw": lambda: lambda: raw.lrange(list_key, -20, -1),
                "raw+json": lambda: lambda: [json.loads(m) for m in raw.lrange(list_key, -20, -1)],
                "pyai": lambda: lambda: tail.get_messages(limit=20),
            },
            samples,
            seconds,
        )
        rows.append(
            (
                "last 20 of 10,000",
                f"raw LRANGE {reads['raw']:,.0f}/s; raw LRANGE + json.loads "
                f"{reads['raw+json']:,.0f}/s; pyai {reads['pyai']:,.0f}/s",
                f"vs LRANGE + json.loads: {reads.ratio('raw+json', 'pyai')}; "
                f"vs bare LRANGE: {reads.ratio('raw', 'pyai')}",
            )
        )

        print(f"[{label}] tail of 1,000 vs 100,000 ...", file=sys.stderr)
        short = RedisSession("tail-1k", url=target)
        fill_pyai(short, 1_000)
        long = RedisSession("tail-100k", url=target)
        fill_pyai(long, 100_000)
        lengths = measure(
            {
                "1k": lambda: lambda: short.get_messages(limit=20),
                "100k": lambda: lambda: long.get_messages(limit=20),
                "1k after": lambda: lambda: short.get_messages(after=500, limit=20),
                "100k after": lambda: lambda: long.get_messages(after=50_000, limit=20),
            },
            samples,
            seconds,
        )
        rows.append(
            (
                "last 20: 100,000 vs 1,000 messages",
                f"1,000: {lengths['1k']:,.0f}/s; 100,000: {lengths['100k']:,.0f}/s",
                lengths.ratio("1k", "100k"),
            )
        )
        rows.append(
            (
                "20 after a cursor: 100,000 vs 1,000",
                f"1,000: {lengths['1k after']:,.0f}/s; 100,000: {lengths['100k after']:,.0f}/s",
                lengths.ratio("1k after", "100k after"),
            )
        )
        for session in (tail, short, long):
            session.delete()
    finally:
        if cluster:
            for node in raw.get_primaries():
                _delete_prefix(raw.get_redis_connection(node), prefix)
        else:
            _delete_prefix(raw, prefix)
        raw.close()
        RedisSession.dispose_clients()
    return rows


def _delete_prefix(client: Any, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        for key in keys[start : start + 500]:
            client.unlink(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--cluster-url", help="a loopback Redis Cluster node, e.g. redis://127.0.0.1:7000"
    )
    parser.add_argument("--samples", type=int, default=11)
    parser.add_argument("--seconds", type=float, default=0.3)
    args = parser.parse_args()
    for url in filter(None, (args.url, args.cluster_url)):
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error(f"only loopback servers are benchmarked, got {url}")

    info_client = redis.Redis.from_url(args.url)
    try:
        about = machine(info_client)
    finally:
        info_client.close()
    rows = run(args.url, args.samples, args.seconds, "server")
    if args.cluster_url:
        url = args.cluster_url + ("&" if "?" in args.cluster_url else "?") + "cluster=true"
        rows += [
            (f"cluster: {w}", n, r) for w, n, r in run(url, args.samples, args.seconds, "cluster")
        ]

    print(
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {args.samples} rounds, each "
        f"variant at least {args.seconds}s per round; rates are medians, ratios the median "
        "of the per-round ratios (range in brackets).\n"
    )
    for key, value in about.items():
        print(f"- {key}: {value}")
    print("\n| workload | measured | pyai vs raw |\n|---|---|---|")
    for workload, numbers, ratio in rows:
        print(f"| {workload} | {numbers} | {ratio} |")


if __name__ == "__main__":
    main()
