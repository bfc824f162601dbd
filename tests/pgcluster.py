"""A throwaway PostgreSQL cluster for tests: Debian's initdb and pg_ctl, a temp directory, a loopback port.

PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` user (made by Debian's
package) or else ``nobody``, and every server command runs through ``runuser``. Trust authentication on
127.0.0.1 only, fsync off: nothing here outlives the test run.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import free_port


def pg_binary(name: str) -> str:
    """``name`` on PATH, else in the newest /usr/lib/postgresql/*/bin (where Debian puts it)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not candidates:
        pytest.fail(f"{name} not found: apt-get install postgresql (tests/run.sh installs it)", pytrace=False)
    return candidates[-1]


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    pytest.fail("running as root with neither a 'postgres' nor a 'nobody' user to run PostgreSQL as", pytrace=False)


class PgCluster:
    """initdb'd on construction; ``start``, ``stop``, ``dsn`` and ``create_database``; ``remove`` deletes it."""

    USER = "faqbot"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="faqbot-pg-"))
        self.data = self.dir / "data"
        self.user = _run_as()
        if self.user:
            shutil.chown(self.dir, user=self.user)
        self.port = free_port()
        self._n = 0
        self._cmd([pg_binary("initdb"), "-D", str(self.data), "-U", self.USER, "--auth=trust", "--no-sync",
                   "-E", "UTF8", "--no-locale"])

    def _cmd(self, args: list[str]) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        done = subprocess.run(prefix + args, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{tail}")

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -F -c max_connections=50"
        self._cmd([pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                   "-o", options, "start"])

    def stop(self, mode: str = "fast") -> None:
        self._cmd([pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._n += 1
        name = f"log{self._n}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)
