"""A real PostgreSQL 15 for the tests: one server per session, a fresh database per test."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_VERSION_GLOB = "/usr/lib/postgresql/*/bin"


def _bindir() -> Path | None:
    """Where initdb and pg_ctl live: PostgreSQL 15's directory, pg_config's, or any version found."""
    candidates = ["/usr/lib/postgresql/15/bin"]
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    candidates += sorted(glob.glob(PG_VERSION_GLOB), reverse=True)
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1; ``stop()``/``start()`` make an outage on the same port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hmi-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            # initdb refuses to run as root: the postgres user owns the directory and runs the server.
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)

    def init(self) -> None:
        """Create the cluster: trust auth, no fsync (a test server; a commit still survives a killed server)."""
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self) -> None:
        """Start (or restart) the server on its port and wait until it accepts connections."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (mode fast or immediate); connected clients lose their connections."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        """True when the server is up."""
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True).returncode == 0

    def url(self, database: str = "postgres") -> str:
        """An SQLAlchemy URL for a database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as postgres."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(sql)

    def add_password_role(self, role: str, password: str, database: str) -> str:
        """A login role that must give its password (SCRAM over TCP), owning a new database; its URL, no password.

        Additive: one pg_hba.conf line for this role alone goes ahead of the trust lines, so every
        other user keeps trust authentication. The server is sent the SCRAM verifier, never the password.
        """
        import time

        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
            conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{verifier}'")
            conn.execute(f'CREATE DATABASE "{database}" OWNER "{role}"')
        hba = self.data / "pg_hba.conf"
        line = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
        text = hba.read_text()
        if line not in text:
            hba.write_text(line + text)
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "reload")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # reload is asynchronous: wait until the role is asked for its password
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user={role} dbname={database}").close()
            except psycopg.OperationalError:
                break
            time.sleep(0.05)
        return f"postgresql+psycopg://{role}@127.0.0.1:{self.port}/{database}"

    def watch(self, pid: int) -> None:
        """Stop the server and remove its directory when process ``pid`` ends without teardown (killed pytest)."""
        pg_ctl = f"{self.bindir / 'pg_ctl'} -D {self.data} -m immediate -w stop"
        if self._as_postgres:
            pg_ctl = f"runuser -u postgres -- {pg_ctl}"
        script = f"while kill -0 {pid} 2>/dev/null; do sleep 1; done; {pg_ctl} >/dev/null 2>&1; rm -rf {self.root}"
        subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def destroy(self) -> None:
        """Stop the server if it runs and remove its directory."""
        try:
            if self.is_running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server; skipped without the binaries, but a failure when CI is set."""
    bindir = _bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (apt-get install -y postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer(bindir)
    try:
        server.init()
        server.start()
        server.watch(os.getpid())
    except (subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        server.destroy()
        pytest.fail(f"could not start PostgreSQL from {bindir}: {detail.strip()[:500]}", pytrace=False)
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    if not pg_server.is_running():
        pg_server.start()
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.admin(f'CREATE DATABASE "{name}"')
    yield pg_server.url(name)
    if not pg_server.is_running():
        pg_server.start()
    pg_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
