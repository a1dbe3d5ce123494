"""Integration helpers: run the real `leakwatch` command against a real Postgres."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakwatch.keys import generate_key_file


@dataclass
class Run:
    code: int
    out: str
    err: str


class LeakwatchCLI:
    """`leakwatch ...` in a subprocess, as a user runs it, with the test's database and key."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.env = env
        self.cwd = cwd
        self.logs: list[str] = []  # every stderr line of every run: the no-plaintext test reads them

    def __call__(self, *args: str, env: dict | None = None, timeout: float = 300) -> Run:
        proc = subprocess.run([sys.executable, "-m", "leakwatch.cli", *args], capture_output=True, text=True,
                              env={**self.env, **(env or {})}, cwd=self.cwd, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        self.logs.append(proc.stderr)
        return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def key_file(tmp_path) -> Path:
    return generate_key_file(tmp_path / "roster.key")


@pytest.fixture
def lw(db_dsn, key_file, tmp_path) -> LeakwatchCLI:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKWATCH_")}
    env.update({"DATABASE_URL": db_dsn, "LEAKWATCH_KEY_FILE": str(key_file), "LEAKWATCH_LOG_FORMAT": "json",
                "LEAKWATCH_DATA_DIR": str(tmp_path / "data")})
    return LeakwatchCLI(env, tmp_path)
