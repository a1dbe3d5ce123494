"""Run `leakwatch run` as users do (a subprocess with a TOML file), and read what it logs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from synthetic import make_rows, write_roster_csv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leak_csv(rows, n: int, offset: int = 0) -> str:
    """A staff list as a leak would have it: names, ranks, pay numbers."""
    out = ["name,rank,pay no,unit"]
    for r in rows[offset:offset + n]:
        out.append(f"{r.forenames} {r.surname},{r.rank},{r.pay_number},{r.unit}")
    return "\n".join(out) + "\n"


def enrol(lw, tmp_path: Path, n: int = 400):
    rows = make_rows(n, seed=31)
    res = lw("roster", "import", str(write_roster_csv(tmp_path / "roster.csv", rows)))
    assert res.code == 0, res.err
    return rows


PIPELINE = """
[pipeline]
match_workers = 1
batch = 2
lease_seconds = {lease}
idle_poll = 0.2
retry_delay = 0.5
shutdown_grace = 10

[web]
listen = "127.0.0.1:{port}"
"""


def source_toml(name: str, base_url: str, kind: str = "pastebin", interval: float = 0.3, **extra) -> str:
    lines = ["[[sources]]", f'kind = "{kind}"', f'name = "{name}"', f'base_url = "{base_url}"',
             f"interval = {interval}"]
    if kind == "pastebin":
        extra.setdefault("pace", 0)
    for k, v in extra.items():
        lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


class Daemon:
    """One `leakwatch run` process with its own config, web port and log file."""

    def __init__(self, env: dict, tmp_path: Path, sources: str, *, name: str = "d1", lease: float = 30,
                 command: str = "run", extra_env: dict | None = None):
        self.port = free_port()
        self.dir = tmp_path / name
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "leakwatch.toml"
        self.config.write_text(PIPELINE.format(lease=lease, port=self.port) + sources)
        self.env = {**env, **(extra_env or {})}
        self.command = command
        self.log_path = self.dir / "log.jsonl"
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> "Daemon":
        self.runs += 1
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "leakwatch.cli", "--config", str(self.config),
                                      self.command], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines() if self.log_path.exists() else []

    def events(self) -> list[dict]:
        out = []
        for line in self.lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"daemon exited {self.proc.returncode}:\n" + "\n".join(self.lines()[-30:]))
                try:
                    async with http.get(self.url + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("daemon not ready:\n" + "\n".join(self.lines()[-30:]))

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http:
            async with http.get(self.url + path) as r:
                return r.status, await r.text()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    async def stop(self, timeout: float = 40) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds taken)."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        while self.proc.poll() is None and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("daemon did not stop within %ss" % timeout)
        return self.proc.returncode, time.monotonic() - t0

    def rss_peak_kib(self) -> int:
        """VmHWM of the main process (call while it runs)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0


def metric(text: str, name: str, **labels) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def wait_until(predicate, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
