"""A throw-away PostgreSQL 15 cluster on loopback, started from the installed server binaries.

The server refuses to run as root, so as root the cluster is created and run as `postgres`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from claimflow_local._process import free_port, port_open, wait_until


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise FileNotFoundError(f"PostgreSQL server binary {name!r} not found")
    return candidates[-1]


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _traversable_by_server(path: Path) -> None:
    """The server runs as `postgres`: every folder above its data must let it through."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o011)


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class PostgresCluster:
    home: Path
    port: int
    user: str = "claimflow"
    password: str = "claimflow"

    @property
    def data(self) -> Path:
        return self.home / "data"

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self, *, timeout: float = 60.0) -> PostgresCluster:
        self.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.home, pg.pw_uid, pg.pw_gid)
            _traversable_by_server(self.home.parent)
        if not (self.data / "PG_VERSION").exists():
            pwfile = self.home / "pw"
            pwfile.write_text(self.password + "\n")
            if os.geteuid() == 0:
                os.chown(pwfile, pg.pw_uid, pg.pw_gid)
            _run(
                _as_server_user(
                    [
                        _bin("initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        self.user,
                        f"--pwfile={pwfile}",
                        "-A",
                        "scram-sha-256",
                        "-E",
                        "UTF8",
                        "--no-sync",
                        "--locale=C",
                    ]
                ),
                "initdb",
            )
            pwfile.unlink()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} "
            "-c max_connections=300 -c fsync=on -c shared_buffers=128MB"
        )
        _run(
            _as_server_user(
                [
                    _bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.home / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "start",
                ]
            ),
            "pg_ctl start",
        )
        wait_until(lambda: port_open(self.port), timeout=timeout, what="PostgreSQL")
        return self

    def create_database(self, name: str) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        exists = subprocess.run(
            [
                _bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname='{name}'",
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name],
                check=True,
                capture_output=True,
                env=env,
            )

    def stop(self, mode: str = "fast") -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        subprocess.run(
            _as_server_user([_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False,
            capture_output=True,
        )


def new_cluster(home: Path, port: int | None = None) -> PostgresCluster:
    return PostgresCluster(home=home, port=port or free_port())
