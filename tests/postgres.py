"""A throwaway PostgreSQL server (Debian's package) on 127.0.0.1 for the test run."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from browser.harness import free_port


def server_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL's server is not installed: run scripts/setup.sh --test "
                           "(installs Debian's postgresql)")
    return Path(initdb).parent


class PostgresServer:
    """``initdb`` in a temporary folder, ``pg_ctl start`` on a free port; as root, the
    server runs as the ``postgres`` user, which Debian's package creates."""

    def __init__(self):
        self.bin = server_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="geolabel-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command) -> None:
        done = subprocess.run([*self.as_user, *map(str, command)], capture_output=True,
                              text=True, timeout=120)
        if done.returncode:
            log = self.root / "log"
            raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stdout}"
                               f"{done.stderr}\n{log.read_text() if log.exists() else ''}")

    def __enter__(self) -> "PostgresServer":
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-U", "geolabel", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        self.start()
        return self

    def start(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=100", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-w", "-m", mode, "stop")

    def __exit__(self, *exc) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://geolabel@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        name = "t_" + secrets.token_hex(6)
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        return self.url(name)
