"""Helpers shared by the benchmarks: the leakwatch command, a throwaway database,
a workspace (key file, environment) and a subprocess runner that measures time and
peak memory.

The benchmarks drive leakwatch only through its command line, as a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TIME_BIN = "/usr/bin/time"


class BenchError(RuntimeError):
    """A step of a benchmark failed; the message says which and shows stderr's tail."""


# --------------------------------------------------------------------------- command


def leakwatch_command(override: str | None = None) -> list[str]:
    """How to run the CLI: --leakwatch, else the `leakwatch` script beside this Python,
    else one on PATH, else `python -c 'leakwatch.cli.main()'` from the work tree."""
    if override:
        return shlex.split(override)
    beside = Path(sys.executable).with_name("leakwatch")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("leakwatch")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from leakwatch.cli import main; sys.exit(main())"]


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """A finished command: exit code, wall seconds, peak memory, captured output."""

    argv: list[str]
    returncode: int
    seconds: float
    max_rss_kb: int | None  # largest single process (from /usr/bin/time or getrusage)
    tree_rss_kb: int | None  # largest sum over the process tree, sampled every 0.1 s
    stdout: str
    stderr: str

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


def _tree_rss_kb(root: int) -> int:
    """Sum of resident memory of `root` and its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * page_kb
        except (OSError, ValueError, IndexError):
            continue
    total, todo, seen = 0, [root], set()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    stdout_path: Path | None = None,
    ok_codes: tuple[int, ...] = (0,),
    measure: bool = False,
    timeout: float | None = None,
    what: str | None = None,
) -> Run:
    """Run a command; raise BenchError unless its exit code is in ok_codes.

    stdout goes to `stdout_path` when given (not captured), else is captured.
    With measure=True, peak RSS is taken from /usr/bin/time -v when present (else
    from getrusage(RUSAGE_CHILDREN), which is the largest child so far), and the
    whole process tree's RSS is sampled for a peak total (scans may fork workers).
    """
    what = what or " ".join(argv[:3])
    full = list(argv)
    time_file = None
    if measure and os.access(TIME_BIN, os.X_OK):
        fd, time_file = tempfile.mkstemp(prefix="lw_time_")
        os.close(fd)
        full = [TIME_BIN, "-v", "-o", time_file, *full]
    out_fh = open(stdout_path, "wb") if stdout_path else None  # noqa: SIM115
    peak_tree = 0
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            full,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_fh if out_fh else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stop = threading.Event()
        if measure:

            def sample() -> None:
                nonlocal peak_tree
                while not stop.wait(0.1):
                    peak_tree = max(peak_tree, _tree_rss_kb(proc.pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        try:
            out_b, err_b = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out_b, err_b = proc.communicate()
            raise BenchError(f"{what}: timed out after {timeout} s") from None
        finally:
            stop.set()
        seconds = time.perf_counter() - start
    finally:
        if out_fh:
            out_fh.close()
    max_rss = None
    if measure:
        if time_file:
            text = Path(time_file).read_text(errors="replace")
            os.unlink(time_file)
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            max_rss = int(m.group(1)) if m else None
        else:
            import resource

            max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = Run(
        argv=argv,
        returncode=proc.returncode,
        seconds=seconds,
        max_rss_kb=max_rss,
        tree_rss_kb=peak_tree or None,
        stdout=(out_b or b"").decode("utf-8", "replace"),
        stderr=(err_b or b"").decode("utf-8", "replace"),
    )
    if result.returncode not in ok_codes:
        raise BenchError(f"{what}: exit {result.returncode}\n{result.tail()}")
    if result.returncode and "Traceback (most recent call last)" in result.stderr:
        # An uncaught exception exits 1, which `leakwatch scan` also uses for "findings".
        raise BenchError(f"{what}: crashed (exit {result.returncode})\n{result.tail()}")
    return result


# --------------------------------------------------------------------------- database


def _quote_ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unsafe database name {name!r}")
    return f'"{name}"'


def _admin_sql(admin_url: str, sql: str) -> None:
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        asyncpg = None
    if asyncpg is not None:
        import asyncio

        async def go() -> None:
            conn = await asyncpg.connect(admin_url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(go())
        return
    if not shutil.which("psql"):
        raise BenchError("neither asyncpg nor psql is available to create a database")
    run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], what="psql")


@contextlib.contextmanager
def database(url: str | None = None, admin_url: str | None = None) -> Iterator[str]:
    """A DATABASE_URL to use: `url`, else env DATABASE_URL (both used as they are),
    else a fresh `lw_bench_<pid>` created on the admin server and dropped afterwards."""
    url = url or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    admin_url = admin_url or os.environ.get("BENCH_ADMIN_URL") or ADMIN_URL
    name = f"lw_bench_{os.getpid()}"
    ident = _quote_ident(name)
    try:
        _admin_sql(admin_url, f"DROP DATABASE IF EXISTS {ident}")
        _admin_sql(admin_url, f"CREATE DATABASE {ident}")
    except BenchError:
        raise
    except Exception as exc:  # connection refused, auth, ...
        raise BenchError(
            f"cannot create a database on {admin_url} ({exc}); set DATABASE_URL to one to use"
        ) from None
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with contextlib.suppress(Exception):
            _admin_sql(admin_url, f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")


# --------------------------------------------------------------------------- workspace


@dataclass
class Workspace:
    """A temporary directory holding the key file, with the environment for the CLI."""

    dir: Path
    env: dict[str, str]
    lw: list[str]

    @property
    def key_file(self) -> Path:
        return self.dir / "roster.key"

    def cli(self, *args: str, **kw) -> Run:
        return run([*self.lw, *args], env=self.env, what=f"leakwatch {' '.join(args[:2])}", **kw)

    def enrol(self, roster_csv: Path, *, measure: bool = False) -> Run:
        """key generate + db migrate + roster import; returns the import's Run."""
        if not self.key_file.exists():
            self.cli("key", "generate", str(self.key_file))
        self.cli("db", "migrate")
        return self.cli("roster", "import", str(roster_csv), measure=measure)

    def refs(self, roster_csv: Path) -> dict[str, str]:
        """ref -> staff_id, from `leakwatch roster refs` (lines `staff_id,ref`)."""
        return parse_refs(self.cli("roster", "refs", str(roster_csv)).stdout)


@contextlib.contextmanager
def workspace(
    database_url: str,
    *,
    lw: list[str],
    force_domains: list[str] | tuple[str, ...] = (),
    force_names: list[str] | tuple[str, ...] = (),
    keep: Path | None = None,
) -> Iterator[Workspace]:
    """Environment for the CLI: DATABASE_URL, a fresh key file, the force's domains/names."""
    tmp = Path(tempfile.mkdtemp(prefix="lw_bench_")) if keep is None else keep
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKWATCH_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "LEAKWATCH_KEY_FILE": str(tmp / "roster.key"),
            "LEAKWATCH_DATA_DIR": str(tmp / "data"),
            "LEAKWATCH_LOG_FORMAT": "text",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    if force_domains:
        env["LEAKWATCH_MATCH_FORCE_DOMAINS"] = ",".join(force_domains)
    if force_names:
        env["LEAKWATCH_MATCH_FORCE_NAMES"] = ",".join(force_names)
    try:
        yield Workspace(tmp, env, lw)
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- parsing


def parse_refs(text: str) -> dict[str, str]:
    """`staff_id,ref` lines (a header line is skipped) -> {ref: staff_id}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        staff_id, sep, ref = line.partition(",")
        if not sep or staff_id.strip().lower() == "staff_id":
            continue
        out[ref.strip()] = staff_id.strip()
    return out


def read_jsonl(path: Path) -> list[dict]:
    """Objects of a JSON-lines file; a line that is not a JSON object is skipped."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
