"""``python -m bench``: what ``make bench`` runs, in the peers virtualenv.

First pyai against the raw drivers and the peer libraries on SQLite, PostgreSQL and
Redis (:mod:`bench.peers`: the tables and plot of docs/benchmarks.md), then the per-store
benchmarks against the raw driver (:mod:`bench.bench_sql`, :mod:`bench.bench_redis`).
Arguments go to :mod:`bench.peers` (``--help`` lists them); ``--peers-only`` skips the
per-store benchmarks, ``--store`` adds :mod:`bench.bench_store` (copy and listing; not
in the default run, which stays within 15 minutes on 2 cores).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from bench.peers.run import POSTGRES, REDIS
from bench.peers.run import main as peers


def main() -> int:
    argv = sys.argv[1:]
    ours = {"--peers-only", "--store"}
    peers([a for a in argv if a not in ours])
    if "--peers-only" in argv:
        return 0
    per_store = [
        ("bench.bench_sql", ["--postgres", POSTGRES]),
        ("bench.bench_redis", ["--url", REDIS]),
    ]
    if "--store" in argv:
        per_store.append(("bench.bench_store", ["--postgres", POSTGRES, "--redis", REDIS]))
    failed = []
    for module, args in per_store:
        if importlib.util.find_spec(module) is None:
            continue
        print(f"\n{module}:", flush=True)
        if subprocess.run([sys.executable, "-m", module, *args], check=False).returncode:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# Guarded: the concurrency check spawns processes, which import this module again.
if __name__ == "__main__":
    sys.exit(main())
