"""Throwaway PostgreSQL clusters and Redis servers on free loopback ports.

Fault tests stop, kill and restart these; the shared servers of the test run are never
touched. Each lives in a temporary directory of its own, listens on 127.0.0.1 only and
is stopped (and its directory removed) by :meth:`close`, which fixtures call in their
teardown whatever the test did. When the binaries are not installed, the constructors
skip the test with a reason naming what is missing (also in CI: there is nothing else to
run the test on).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = ["ThrowawayPostgres", "ThrowawayRedis", "free_port"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- PostgreSQL ----------------------------------------------------------------------------


def _version_key(bindir: str) -> tuple[int, ...]:
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb`` and ``pg_ctl``."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if os.access(Path(bindir, "initdb"), os.X_OK) and os.access(
            Path(bindir, "pg_ctl"), os.X_OK
        ):
            return Path(bindir)
    pg_ctl, initdb = shutil.which("pg_ctl"), shutil.which("initdb")
    if pg_ctl and initdb and Path(pg_ctl).parent == Path(initdb).parent:
        return Path(pg_ctl).parent
    return None


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own: ``initdb`` + ``pg_ctl``, loopback only.

    initdb refuses to run as root, so under root the cluster belongs to the ``postgres``
    user (or ``nobody``) and every tool runs through ``runuser``.

    Args:
        password: the ``postgres`` user's password, required by SCRAM authentication;
            without one, every connection is trusted.
    """

    def __init__(self, password: str | None = None) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bindir = bindir
        self._as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.skip("running as root and runuser is not installed (initdb refuses root)")
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    owner = pwd.getpwnam(name)
                    break
            if owner is None:
                pytest.skip("running as root and there is no postgres or nobody user for initdb")
            self._as_user = [runuser, "-u", owner.pw_name, "--"]
        # Not pytest's tmp_path: its parents are private to root, and the server runs as
        # another user.
        self.root = Path(tempfile.mkdtemp(prefix="pyai-faults-pg-"))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.password = password
        self._running = False
        try:
            auth = ["-A", "trust"]
            if password is not None:
                secret = self.root / "pwfile"
                secret.write_text(password + "\n")
                if owner is not None:
                    os.chown(secret, owner.pw_uid, owner.pw_gid)
                auth = ["-A", "scram-sha-256", f"--pwfile={secret}"]
            self._tool(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                *auth,
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            )
            if password is not None:
                secret.unlink()
            self._launch()
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """The URL of the cluster's ``postgres`` database (with the password, if any)."""
        return self.url_with(self.password)

    def url_with(self, password: str | None) -> str:
        """The URL of the ``postgres`` database with ``password`` in it."""
        user = "postgres" if password is None else f"postgres:{quote(password, safe='')}"
        return f"postgresql://{user}@{LOOPBACK}:{self.port}/postgres"

    def _tool(self, tool: str, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self._as_user, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\n{_tail(self.log)}"
            )

    def _launch(self) -> None:
        # A port found free can be taken before the server binds it; try a few.
        for attempt in range(3):
            self.port = free_port()
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(
                    f"\nport = {self.port}\nlisten_addresses = '{LOOPBACK}'\n"
                    f"unix_socket_directories = '{self.root}'\nmax_connections = 40\n"
                    "shared_buffers = 16MB\n"
                )
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self._running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean shutdown) or ``immediate`` (like a crash)."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self._running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop the server with ``mode`` and start it again (crash recovery after
        ``immediate``); returns once it accepts connections."""
        self.stop(mode)
        self.start()

    def close(self) -> None:
        """Stop the server if it runs and remove its directory. Idempotent."""
        if self._running:
            try:
                self.stop("fast")
            except (RuntimeError, subprocess.TimeoutExpired):
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# -- Redis ---------------------------------------------------------------------------------


def _redis_replies_pong(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    # "-LOADING" while the append-only file is replayed; "-NOAUTH" with requirepass.
    return reply.startswith((b"+PONG", b"-NOAUTH"))


class ThrowawayRedis:
    """A ``redis-server`` of its own on a free loopback port, in a temporary directory.

    Persistence is the append-only file with ``appendfsync always`` (and no RDB
    snapshots), so every write Redis acknowledged is on disk before the reply: it
    survives a clean ``SHUTDOWN`` and a ``SIGKILL`` alike.

    Args:
        extra: more ``redis-server`` arguments (e.g. ``["--requirepass", "pw"]``).
    """

    def __init__(self, extra: list[str] | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="pyai-faults-redis-"))
        self.log = self.root / "redis.log"
        self.extra = list(extra or [])
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        try:
            for attempt in range(3):
                self.port = free_port()
                try:
                    self.start()
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        """Start the server (replaying its append-only file) and wait for PONG."""
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.log),
                "--daemonize",
                "no",
                *self.extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"redis-server exited at start:\n{_tail(self.log)}")
            if _redis_replies_pong(self.port):
                return
            time.sleep(0.02)
        self.stop(graceful=False)
        raise RuntimeError(f"redis-server did not answer within {timeout}s:\n{_tail(self.log)}")

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM (Redis shuts down cleanly, flushing the append-only file) or SIGKILL."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)

    def restart(self, *, graceful: bool = True) -> None:
        """Stop the server and start it again on the same port and directory."""
        self.stop(graceful=graceful)
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory. Idempotent."""
        self.stop(graceful=False)
        shutil.rmtree(self.root, ignore_errors=True)
