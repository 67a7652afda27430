"""Tables, the tail-read plot and the machine description for a peers run.

Writes ``bench/results/peers.json`` (the numbers and the tables) on every run and,
unless told not to, puts the tables into ``docs/benchmarks.md`` between its
``<!-- peers:begin -->`` and ``<!-- peers:end -->`` markers and redraws
``docs/benchmarks-tail-read.png``.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.harness import RESULTS, Result

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-tail-read.png"
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"

BACKENDS = {"sqlite": "SQLite (file)", "postgres": "PostgreSQL", "redis": "Redis"}
WORKLOADS = {
    "append": ("append 1 message, durable", "appends"),
    "append_ttl": ("append 1 message with a ttl", "appends"),
    "batch": ("append a batch of 100 messages", "batches"),
    "tail_100": ("last 20 of 100", "reads"),
    "tail_1000": ("last 20 of 1,000", "reads"),
    "tail_10000": ("last 20 of 10,000", "reads"),
    "tail_100000": ("last 20 of 100,000", "reads"),
    "read_all": ("whole history of 1,000", "reads"),
    "users": ("user: new object, 1 turn, read back", "users"),
}
#: The rows of the main table (the plot shows every tail length).
TABLE = ("append", "append_ttl", "batch", "tail_10000", "tail_100000", "read_all", "users")
PACKAGES = (
    "pyai",
    "SQLAlchemy",
    "pydantic",
    "psycopg",
    "psycopg-binary",
    "redis",
    "hiredis",
    "openai-agents",
    "aiosqlite",
    "asyncpg",
    "langchain-core",
    "langchain-community",
    "langchain-postgres",
    "matplotlib",
)


# -- the machine -------------------------------------------------------------------------


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _server_versions(postgres: str, redis_url: str) -> dict[str, str]:
    found: dict[str, str] = {"SQLite": f"{sqlite3.sqlite_version} (library)"}
    try:
        import psycopg

        with psycopg.connect(postgres, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            found["PostgreSQL"] = str(row[0]) if row else "?"
    except Exception as exc:
        found["PostgreSQL"] = f"unavailable ({type(exc).__name__})"
    try:
        import redis

        r = redis.Redis.from_url(redis_url, socket_timeout=5)
        info = r.info("server")
        persistence = r.config_get("appendonly").get("appendonly", "?")
        found["Redis"] = f"{info['redis_version']} (appendonly {persistence})"
        r.close()
    except Exception as exc:
        found["Redis"] = f"unavailable ({type(exc).__name__})"
    return found


def machine(postgres: str, redis_url: str) -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "memory": _memory_gib(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "servers": _server_versions(postgres, redis_url),
        "packages": versions,
    }


# -- numbers -----------------------------------------------------------------------------


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2f}"


def per_op(ops_per_second: float) -> str:
    seconds = 1 / ops_per_second
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.1f} ms"
    return f"{seconds:,.2f} s"


def _result(data: Any) -> Result:
    if isinstance(data, Result):
        return data
    return Result(data["name"], list(data["samples"]))


def _timed(backend: dict[str, Any]) -> dict[str, dict[str, Result]]:
    return {w: {name: _result(r) for name, r in per.items()} for w, per in backend["timed"].items()}


def _raw_name(backend: dict[str, Any]) -> str:
    return next(n for n, kind in backend["systems"].items() if kind == "raw")


def _peers(backend: dict[str, Any]) -> list[str]:
    return [n for n, kind in backend["systems"].items() if kind == "peer"]


def backend_table(backend: dict[str, Any]) -> str:
    """Every workload x system of one backend: medians, min-max, ratios."""
    timed = _timed(backend)
    raw = _raw_name(backend)
    lines = [
        "| workload | system | median /s [min-max] | per op | x raw | pyai vs this |",
        "|---|---|---|---|---|---|",
    ]
    for w in TABLE:
        if w not in timed:
            continue
        label, _ = WORKLOADS[w]
        per = timed[w]
        floor = per[raw].median
        ours = per["pyai"].median if "pyai" in per else None
        for i, (name, r) in enumerate(per.items()):
            versus = ""
            if ours is not None and backend["systems"][name] == "peer":
                versus = (
                    f"**{ours / r.median:,.2f}x**"
                    if ours >= r.median
                    else (f"{ours / r.median:.2f}x (slower)")
                )
            shown = f"**{name}**" if name == "pyai" else name
            lines.append(
                f"| {label if i == 0 else ''} | {shown} | {_rate(r.median)} "
                f"[{_rate(min(r.samples))}-{_rate(max(r.samples))}] | {per_op(r.median)} "
                f"| {r.median / floor:.2f} | {versus} |"
            )
    return "\n".join(lines)


def summary_table(results: dict[str, Any]) -> str:
    """pyai against the raw driver and against the fastest peer, per workload and backend."""
    names = [b for b in BACKENDS if b in results["backends"]]
    head = "| workload | " + " | ".join(BACKENDS[b] for b in names) + " |"
    lines = [head, "|---|" + "---|" * len(names)]
    for w in TABLE:
        cells = []
        for b in names:
            backend = results["backends"][b]
            timed = _timed(backend)
            per = timed.get(w, {})
            if "pyai" not in per:
                cells.append("n/a")
                continue
            ours = per["pyai"].median
            raw = per[_raw_name(backend)].median
            peers = [(per[p].median, p) for p in _peers(backend) if p in per]
            best, who = max(peers)
            mark = "ahead" if ours >= best else "**behind**"
            cells.append(f"{ours / raw:.2f} of raw; {ours / best:.2f}x {who} ({mark})")
        lines.append(f"| {WORKLOADS[w][0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def concurrency_table(results: dict[str, Any]) -> str:
    lines = [
        "| backend | system | acknowledged | failed calls | lost | duplicated | reordered "
        "| wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b, backend in results["backends"].items():
        for name, c in backend["concurrency"].items():
            lines.append(
                f"| {BACKENDS[b]} | {name} | {c['acknowledged']} | {c['failed']} | {c['lost']} "
                f"| {c['duplicated']} | {c['reordered']} | {c['seconds']:.2f} s |"
            )
    errors = [
        f"- {BACKENDS[b]}, {name}: {e}"
        for b, backend in results["backends"].items()
        for name, c in backend["concurrency"].items()
        for e in c["errors"]
    ]
    if errors:
        lines += ["", "Errors raised to the callers:", "", *errors]
    return "\n".join(lines)


def machine_table(m: dict[str, Any]) -> str:
    rows = [
        ("CPU", f"{m['cpu']}, {m['cores']} cores"),
        ("memory", m["memory"]),
        ("OS", m["platform"]),
        ("Python", m["python"]),
        *m["servers"].items(),
        *(m["packages"].items()),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    intro = (
        f"Measured by `make bench` in {results['seconds']:.0f} s: {s['rounds']} interleaved "
        f"rounds ({s.get('write_rounds', s['rounds'])} for the appends and users) of "
        f"samples of at least {s['min_time']} s each; medians, "
        "[min-max] over the rounds. *x raw*: throughput as a fraction of the raw driver "
        "doing the same work; *pyai vs this*: pyai's throughput divided by the peer's "
        "(above 1: pyai is faster)."
    )
    parts = [
        textwrap.fill(intro, 88),
        "",
        "### pyai against the raw driver and the fastest peer",
        "",
        summary_table(results),
    ]
    for b, backend in results["backends"].items():
        parts += ["", f"### {BACKENDS[b]}", "", backend_table(backend)]
    parts += [
        "",
        f"### Concurrency: {s['processes']} processes x {s['appends']} appends to one session",
        "",
        concurrency_table(results),
        "",
        "### Machine and versions",
        "",
        machine_table(results["machine"]),
    ]
    return "\n".join(parts) + "\n"


# -- plot --------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [b for b in BACKENDS if b in results["backends"]]
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.6), squeeze=False)
    for ax, b in zip(axes[0], names, strict=True):
        backend = results["backends"][b]
        timed = _timed(backend)
        lengths = sorted(int(w.split("_")[1]) for w in timed if w.startswith("tail_"))
        peer_colors = iter(("C0", "C1", "C2", "C4", "C5", "C6"))
        for name, kind in backend["systems"].items():
            xs = [n for n in lengths if name in timed[f"tail_{n}"]]
            ys = [1000 / timed[f"tail_{n}"][name].median for n in xs]
            color = {"raw": "black", "pyai": "C3"}.get(kind) or next(peer_colors)
            ax.plot(
                xs,
                ys,
                "--" if kind == "raw" else "-",
                color=color,
                marker="o",
                linewidth=2.4 if kind == "pyai" else 1.4,
                label=name,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{BACKENDS[b]}: last 20 messages")
        ax.set_xlabel("messages in the session")
        ax.set_ylabel("time per read (ms, median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- output ------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Result):
        return value.summary()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def write(results: dict[str, Any], *, docs: bool) -> None:
    text = markdown(results)
    RESULTS.mkdir(exist_ok=True)
    payload = {**_encode(results), "markdown": text}
    (RESULTS / "peers.json").write_text(json.dumps(payload, indent=2), "utf-8")
    print(text)
    print(f"saved {RESULTS / 'peers.json'}")
    if not docs:
        return
    plot(results, PLOT)
    print(f"saved {PLOT}")
    if DOC.exists():
        doc = DOC.read_text("utf-8")
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", "utf-8")
            print(f"updated the tables in {DOC}")
