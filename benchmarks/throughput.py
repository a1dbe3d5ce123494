#!/usr/bin/env python3
"""Scan throughput and memory against grep, and enrolment cost, per roster size.

    python benchmarks/throughput.py --staff 47000 250000

For each roster size this generates (or reuses, when already made with the same
parameters) a roster and a mixed corpus of about --mb megabytes: mostly background
pastes (logs, code, configs, prose, other people's lists and combolists, random
numbers) with a few leaks of the roster in it. Then it

* writes PATTERNS: the roster's plaintext full names ("forename surname"), pay
  numbers and warrant numbers, one a line;
* times the baseline `LC_ALL=C grep -F -i -c -f PATTERNS -r DIR` (-c counts the
  matching lines; output must not go to /dev/null, where GNU grep stops at the
  first match);
* enrols the roster (`leakwatch key generate`, `db migrate`, `roster import`),
  timing the import and its peak memory;
* times `leakwatch scan --format jsonl DIR > out` with peak memory: once right after the
  import (it builds the index snapshot), then --repeat times (default 3), each followed by
  grep again; the figures compare the medians (this machine's speed drifts between runs).

It prints MB/s for grep and for the scan, the ratio of scan time to grep time, the
scan's peak RSS (largest single process, from /usr/bin/time -v, and the sampled
total over its process tree, which counts worker processes), and the enrolment
seconds and peak RSS.

The database is DATABASE_URL when set (one size per run then: the roster would be
imported on top of the last), else a fresh `lw_bench_<pid>` per size on
postgresql://postgres@127.0.0.1:5432, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import corpus as C  # noqa: E402
from benchmarks._common import (  # noqa: E402
    BenchError,
    database,
    leakwatch_command,
    read_jsonl,
    run,
    workspace,
)

FORMAT_VERSION = 1  # bump when the corpus recipe changes, so old corpora are remade

# Share of documents of each kind (by count; sizes differ per kind). Leaks are few.
MIX = {
    "log": 0.24, "code": 0.10, "config": 0.06, "prose": 0.16,
    "other_combolist": 0.12, "other_people_list": 0.12, "random_numbers": 0.08,
    "leak": 0.12,
}
LEAK_KINDS = {
    "bulk_with_ids": C.gen_bulk_with_ids, "single_officer": C.gen_single_officer,
    "hidden_few": C.gen_hidden_few, "combolist_force": C.gen_combolist_force,
    "psni_style": C.gen_psni_style,
}


def _size(rng: random.Random, kind: str) -> int:
    if kind in ("log", "code", "config", "prose"):
        return C.log_uniform(rng, 20_000, 6_000_000)  # pastes, some large dumps
    return 0


def make_corpus(out: Path, staff: int, seed: int, mb: float) -> dict:
    """Roster + corpus of about `mb` MB under `out`; reuses one made with the same parameters."""
    params = {"version": FORMAT_VERSION, "staff": staff, "seed": seed, "mb": mb}
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("params") == params:
            return old
    if out.exists():
        shutil.rmtree(out)
    docs = out / "docs"
    docs.mkdir(parents=True)
    t0 = time.perf_counter()
    roster = C.make_roster(random.Random(f"{seed}:roster:{staff}"), staff, C.FORCE)
    C.write_roster(out / "roster.csv", roster)
    ctx = C.Context.build(roster, C.make_roster(random.Random(f"{seed}:other"), 2000, C.OTHER_FORCE), seed)
    rng = random.Random(f"{seed}:throughput:{staff}")
    target = int(mb * 1_000_000)
    total, n, leaks, kinds = 0, 0, 0, {}
    leak_staff: set[str] = set()
    while total < target:
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        doc_rng = random.Random(rng.getrandbits(64))
        if kind in ("log", "code", "config", "prose"):
            size = min(_size(doc_rng, kind), max(1000, target - total))
            text = {
                "log": lambda: C.background_log(doc_rng, size),
                "code": lambda: C.background_code(doc_rng, size),
                "config": lambda: C.background_config(doc_rng, size),
                "prose": lambda: C.background_prose(ctx, doc_rng, size),
            }[kind]()
            ext = {"log": "log", "code": "py", "config": "toml", "prose": "txt"}[kind]
            data = text.encode("utf-8")
        elif kind == "leak":
            leak_kind = doc_rng.choice(sorted(LEAK_KINDS))
            doc = LEAK_KINDS[leak_kind](ctx, doc_rng)
            ext, data = doc.ext, doc.data
            leaks += 1
            leak_staff.update(doc.staff_ids)
            kind = f"leak:{leak_kind}"
        else:
            doc = {
                "other_combolist": C.gen_other_combolist, "other_people_list": C.gen_other_people_list,
                "random_numbers": C.gen_random_numbers,
            }[kind](ctx, doc_rng)
            ext, data = doc.ext, doc.data
        (docs / f"{n:05d}.{ext}").write_bytes(data)
        total += len(data)
        n += 1
        kinds[kind] = kinds.get(kind, 0) + 1
    with open(out / "PATTERNS", "w", encoding="utf-8") as fh:
        for s in roster:
            fh.write(f"{s.forename} {s.surname}\n{s.pay_number}\n")
            if s.warrant_number:
                fh.write(f"{s.warrant_number}\n")
    manifest = {
        "params": params, "documents": n, "bytes": total, "leak_documents": leaks,
        "leaked_staff": len(leak_staff), "kinds": kinds,
        "force_domain": C.FORCE.domain, "force_names": list(C.FORCE.names),
        "generation_seconds": round(time.perf_counter() - t0, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def time_grep(patterns: Path, docs: Path, work: Path) -> tuple[float, int]:
    counts = work / "grep.counts"
    cmd = f"LC_ALL=C grep -F -i -c -f {shlex.quote(str(patterns))} -r {shlex.quote(str(docs))} > {shlex.quote(str(counts))}"
    r = run(["bash", "-c", cmd], ok_codes=(0, 1), what="grep")
    matches = 0
    for line in counts.read_text(errors="replace").splitlines():
        _, _, c = line.rpartition(":")
        if c.isdigit():
            matches += int(c)
    counts.unlink()
    return r.seconds, matches


def mb(n_bytes: float) -> float:
    return n_bytes / 1e6


def bench_size(staff: int, args, lw: list[str]) -> dict:
    out = args.out / f"staff_{staff}"
    t0 = time.perf_counter()
    manifest = make_corpus(out, staff, args.seed, args.mb)
    print(f"[{staff}] corpus: {manifest['documents']} documents, {mb(manifest['bytes']):.0f} MB, "
          f"{manifest['leak_documents']} leaks ({manifest['leaked_staff']} staff) "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    docs = out / "docs"
    size = dir_bytes(docs)
    result: dict = {"staff": staff, "bytes": size, "documents": manifest["documents"]}
    grep_times: list[float] = []
    if not args.no_grep:
        grep_s, grep_matches = time_grep(out / "PATTERNS", docs, out)
        grep_times.append(grep_s)
        result.update(grep_seconds=grep_s, grep_mb_s=mb(size) / grep_s, grep_matching_lines=grep_matches)
        print(f"[{staff}] grep -F -i: {grep_s:.1f} s, {mb(size) / grep_s:.1f} MB/s, "
              f"{grep_matches} matching lines ({sum(1 for _ in open(out / 'PATTERNS'))} patterns)", flush=True)
    with database(args.database_url) as url, workspace(
        url, lw=lw, force_domains=[C.FORCE.domain], force_names=list(C.FORCE.names)
    ) as ws:
        enrol = ws.enrol(out / "roster.csv", measure=True)
        result.update(
            enrol_seconds=enrol.seconds,
            enrol_peak_rss_mb=(enrol.max_rss_kb or 0) / 1024,
            enrol_tree_rss_mb=(enrol.tree_rss_kb or 0) / 1024,
        )
        print(f"[{staff}] roster import: {enrol.seconds:.1f} s, peak RSS {result['enrol_peak_rss_mb']:.0f} MiB", flush=True)
        scan_out = out / "scan.jsonl"
        # The first scan after an import sorts the hashed index and writes its snapshot
        # (leakwatch/snapshot.py); later scans map it. Both are timed; the figures are the later one's.
        cold = ws.cli("scan", "--format", "jsonl", *args.scan_arg, str(docs), stdout_path=scan_out,
                      ok_codes=(0, 1, 2), measure=True)
        result.update(cold_scan_seconds=cold.seconds, cold_scan_peak_rss_mb=(cold.max_rss_kb or 0) / 1024)
        print(f"[{staff}] first scan (builds the index snapshot): {cold.seconds:.1f} s, "
              f"{mb(size) / cold.seconds:.1f} MB/s, peak RSS {result['cold_scan_peak_rss_mb']:.0f} MiB", flush=True)
        # Later scans, each followed by another grep: this machine's speed drifts (other work,
        # caches), so both are timed several times, interleaved, and their medians compared.
        scans = []
        for k in range(args.repeat):
            scan = ws.cli("scan", "--format", "jsonl", *args.scan_arg, str(docs), stdout_path=scan_out,
                          ok_codes=(0, 1, 2), measure=True)
            scans.append(scan)
            line = f"[{staff}] scan {k + 1}/{args.repeat}: {scan.seconds:.1f} s"
            if not args.no_grep:
                grep_s, _ = time_grep(out / "PATTERNS", docs, out)
                grep_times.append(grep_s)
                line += f"; grep {grep_s:.1f} s"
            print(line, flush=True)
        scan_times = [sc.seconds for sc in scans]
        scan = max(scans, key=lambda sc: sc.max_rss_kb or 0)  # peak memory: the largest of the runs
        scan.seconds = statistics.median(scan_times)
        scan.tree_rss_kb = max((sc.tree_rss_kb or 0) for sc in scans) or None
        result["scan_runs_seconds"] = scan_times
        if grep_times:
            grep_s = statistics.median(grep_times)
            result.update(grep_seconds=grep_s, grep_mb_s=mb(size) / grep_s, grep_runs_seconds=grep_times)
    if scan.returncode == 2:
        print(f"[{staff}] note: scan exited 2 (some input could not be read):\n{scan.tail(10)}", file=sys.stderr)
    findings = read_jsonl(scan_out)
    if not findings:
        print(f"[{staff}] warning: the scan printed nothing; its stderr ends:\n{scan.tail(10)}", file=sys.stderr)
    pages = sum(1 for f in findings if str(f.get("severity")).lower() in ("high", "critical"))
    result.update(
        scan_seconds=scan.seconds,
        scan_mb_s=mb(size) / scan.seconds,
        scan_peak_rss_mb=(scan.max_rss_kb or 0) / 1024,
        scan_tree_rss_mb=(scan.tree_rss_kb or 0) / 1024,
        scan_objects=len(findings),
        scan_pages=pages,
        leak_documents=manifest["leak_documents"],
    )
    if "grep_seconds" in result:
        result["scan_grep_ratio"] = scan.seconds / result["grep_seconds"]
        result["cold_scan_grep_ratio"] = cold.seconds / result["grep_seconds"]
    print(f"[{staff}] scan: {scan.seconds:.1f} s, {result['scan_mb_s']:.1f} MB/s, peak RSS "
          f"{result['scan_peak_rss_mb']:.0f} MiB (tree {result['scan_tree_rss_mb']:.0f} MiB), "
          f"{pages} paged of {len(findings)} objects ({manifest['leak_documents']} leak documents)", flush=True)
    return result


def table(results: list[dict]) -> str:
    head = (f"{'staff':>8} {'MB':>6} {'grep MB/s':>10} {'scan MB/s':>10} {'scan/grep':>10} "
            f"{'first/grep':>10} {'scan RSS':>9} {'tree RSS':>9} {'enrol s':>8} {'enrol RSS':>10} {'pages':>6} {'leaks':>6}")
    lines = [head, "-" * len(head)]
    for r in results:
        def f(key, fmt):
            v = r.get(key)
            return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)
        lines.append(
            f"{r['staff']:>8} {mb(r['bytes']):>6.0f} {f('grep_mb_s', '.1f'):>10} {f('scan_mb_s', '.1f'):>10} "
            f"{f('scan_grep_ratio', '.2f'):>10} {f('cold_scan_grep_ratio', '.2f'):>10} {f('scan_peak_rss_mb', '.0f'):>9} {f('scan_tree_rss_mb', '.0f'):>9} "
            f"{f('enrol_seconds', '.1f'):>8} {f('enrol_peak_rss_mb', '.0f'):>10} {f('scan_pages', 'd'):>6} {f('leak_documents', 'd'):>6}"
        )
    lines.append("RSS in MiB: scan RSS = largest single process (/usr/bin/time -v); tree RSS = sampled "
                 "peak total over the scan's processes. scan/grep = scan seconds / grep seconds (a scan with the index "
                 "snapshot in place); first/grep = the first scan after the import, which builds it.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staff", type=int, nargs="+", default=[47_000, 250_000], metavar="N",
                        help="roster sizes (default 47000 250000)")
    parser.add_argument("--mb", type=float, default=200.0, help="corpus size in MB (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "throughput",
                        help="where rosters and corpora go, one folder per size; reused when the parameters "
                        "match (default benchmarks/out/throughput)")
    parser.add_argument("--leakwatch", metavar="CMD", help="command to run leakwatch (default: the leakwatch "
                        "script beside this Python, else on PATH, else python -c 'leakwatch.cli.main()')")
    parser.add_argument("--database-url", help="database to use instead of DATABASE_URL or a fresh one")
    parser.add_argument("--scan-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `leakwatch scan` (repeatable)")
    parser.add_argument("--no-grep", action="store_true", help="skip the grep baseline")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="time the scan N times, each followed by grep, and compare medians (default 3)")
    parser.add_argument("--generate-only", action="store_true", help="make the corpora and PATTERNS, run nothing")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if (args.database_url or os.environ.get("DATABASE_URL")) and len(args.staff) > 1 and not args.generate_only:
        parser.error("DATABASE_URL names one database: run one --staff size at a time (or unset it)")
    if not args.no_grep and not shutil.which("grep"):
        parser.error("grep not found (use --no-grep)")

    results = []
    try:
        for staff in args.staff:
            if args.generate_only:
                m = make_corpus(args.out / f"staff_{staff}", staff, args.seed, args.mb)
                print(f"[{staff}] {m['documents']} documents, {mb(m['bytes']):.0f} MB in {args.out / f'staff_{staff}'}")
                continue
            results.append(bench_size(staff, args, leakwatch_command(args.leakwatch)))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if results:
        print()
        print(table(results))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
