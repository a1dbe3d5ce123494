"""What a match worker process does with one document: extract, match, aggregate. Pure CPU.

Runs in forked worker processes that share the hashed roster (loaded once in the parent)
copy-on-write. Returns plain dicts (pickled back to the parent), refs and public words only.
"""

from __future__ import annotations

import time

from leakwatch.models import Finding, Severity

_scanner = None
_limits = None


def install(scanner, limits) -> None:
    """Set the scanner the forked workers will use (call before the pool forks)."""
    global _scanner, _limits
    _scanner, _limits = scanner, limits


def die_with_parent(parent: int) -> None:
    """In a forked worker process: die with the parent. A forked pool worker holds both ends of
    its task pipe, so it would never see the parent go (kill -9, OOM) and would live on as an orphan."""
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's shutdown still ends the pool
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


# Matching makes millions of short-lived containers (evidence, tuples, per-record dicts) beside
# large long-lived caches. At the default thresholds (700, 10, 10) the cyclic collector ran
# 16,385 times over 98 MB of the benchmark corpus, and the scan took 35.2 s against 27.5 s with
# the collector off; at these it runs about 600 times and the scan took 27.2 s. What matching
# makes seldom forms a cycle: reference counting frees it as before.
GC_THRESHOLDS = (100_000, 50, 100)


def tune_gc() -> None:
    """Set the collector's thresholds for matching (in a process that matches documents)."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)


def init_worker(parent: int) -> None:
    """Match worker start-up: die with the daemon; leave Ctrl-C to the daemon, which stops the pool."""
    import signal

    die_with_parent(parent)
    tune_gc()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm(_: int = 0) -> int:
    """Run in each worker once at start so every process exists before the event loop does."""
    import os

    return os.getpid()


def aggregate(findings: list[Finding]) -> dict:
    """One verdict for a fetched document from the verdicts on its parts (archive members)."""
    worst = max((f.severity for f in findings), default=Severity.NONE)
    staff: dict[str, dict] = {}
    credentials: list[dict] = []
    reasons: list[str] = []
    rejections: list[str] = []
    parts = []
    notable = [f for f in findings if f.severity >= Severity.LOW]
    for f in findings:
        rejections.extend(f"{f.source}: {r}" for r in f.rejections)
    for f in notable:
        parts.append({"part": f.source, "severity": str(f.severity), "score": round(f.score, 2),
                      "staff": len(f.staff)})
        prefix = f"{f.source}: " if len(notable) > 1 else ""
        reasons.extend(prefix + r for r in f.reasons)
        credentials.extend(f.credentials)
        for s in f.staff:
            cur = staff.get(s.ref)
            if cur is None:
                staff[s.ref] = {"ref": s.ref, "kinds": sorted(s.kinds), "confidence": round(s.confidence, 3),
                                "rank": s.rank, "unit": s.unit, "sensitive": s.sensitive, "leaver": s.leaver}
            else:
                cur["kinds"] = sorted(set(cur["kinds"]) | set(s.kinds))
                cur["confidence"] = max(cur["confidence"], round(s.confidence, 3))
    return {
        "severity": int(worst),
        "score": round(max((f.score for f in findings), default=0.0), 2),
        "staff": sorted(staff.values(), key=lambda s: -s["confidence"]),
        "credentials": credentials[:1000],
        "reasons": reasons[:200],
        "parts": parts[:500],
        "rejections": rejections[:100],
    }


def match_document(body: bytes, name: str) -> tuple[dict, float]:
    """(aggregated verdict, seconds spent) for one fetched document."""
    assert _scanner is not None, "install() was not called before the pool forked"
    t0 = time.perf_counter()
    findings = _scanner.scan_bytes(body, name, _limits)
    return aggregate(findings), time.perf_counter() - t0
