#!/usr/bin/env python3
"""Score leakwatch on a labelled corpus made by benchmarks/corpus.py.

    python benchmarks/evaluate.py benchmarks/out/corpus

Runs the real command line in subprocesses, as a user would:

    leakwatch key generate KEYFILE
    leakwatch db migrate
    leakwatch roster import roster.csv
    leakwatch roster refs roster.csv          -> staff_id,ref lines
    leakwatch scan --format jsonl docs        -> one JSON object per document

then compares the findings with labels.jsonl and prints, per class: documents,
how many were paged (severity high or critical), page recall (positive classes)
or false pages (negative classes), staff precision and recall (refs reported vs
the staff labelled present, micro-averaged), and the severity spread; then the
overall page precision and recall, staff recall on the bulk classes, and page
recall by damage kind. An archive counts as paged if any member pages; its staff
are the union of its members'.

The scan output and the refs are kept beside the labels (CORPUS/scan.jsonl,
CORPUS/refs.csv) so the scoring can be re-run with --findings.

The database is DATABASE_URL when set (used as it is: give an empty one), else a
fresh `lw_bench_<pid>` on postgresql://postgres@127.0.0.1:5432 (BENCH_ADMIN_URL
names another server), dropped afterwards. The force's e-mail domain and names
are read from CORPUS/manifest.json and passed as LEAKWATCH_MATCH_FORCE_DOMAINS and
LEAKWATCH_MATCH_FORCE_NAMES.

With --findings (and --refs) no command is run: an existing scan output is scored,
which is how the scoring itself is tested.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import (  # noqa: E402
    BenchError,
    database,
    leakwatch_command,
    parse_refs,
    read_jsonl,
    workspace,
)

SEVERITIES = ("none", "low", "medium", "high", "critical")
PAGED = frozenset({"high", "critical"})
BULK_CLASSES = ("bulk_with_ids", "bulk_names_only", "psni_style", "zipped_bulk")
# Report order (the corpus's); classes not listed follow in order of appearance.
CLASS_ORDER = (
    "bulk_with_ids", "bulk_names_only", "psni_style", "hidden_few", "single_officer",
    "combolist_force", "zipped_bulk", "other_people_list", "other_force_list",
    "random_numbers", "benign_prose", "background", "other_combolist",
)


# --------------------------------------------------------------------------- inputs


def load_labels(corpus: Path) -> list[dict]:
    path = corpus / "labels.jsonl"
    if not path.exists():
        raise BenchError(f"{path}: not found (make a corpus with benchmarks/corpus.py)")
    labels = read_jsonl(path)
    for i, lab in enumerate(labels, 1):
        missing = {"path", "class", "page", "staff_ids"} - set(lab)
        if missing:
            raise BenchError(f"{path}: line {i}: missing {', '.join(sorted(missing))}")
    return labels


def doc_key(source: str) -> str:
    """The document a finding belongs to: the file name of its outermost source.

    `docs/0007.zip!leak/part1.csv` and `/abs/docs/0007.zip` both give `0007.zip`
    (the corpus's document names are unique)."""
    outer = source.split("!", 1)[0]
    return outer.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def aggregate(findings: list[dict]) -> dict[str, dict]:
    """Per document: the highest severity of it and its members, and the union of refs."""
    out: dict[str, dict] = {}
    for f in findings:
        key = doc_key(str(f.get("source", "")))
        sev = str(f.get("severity", "none")).lower()
        if sev not in SEVERITIES:
            sev = "none"
        agg = out.setdefault(key, {"severity": "none", "refs": set(), "objects": 0, "score": None})
        agg["objects"] += 1
        if SEVERITIES.index(sev) > SEVERITIES.index(agg["severity"]):
            agg["severity"] = sev
        score = f.get("score")
        if isinstance(score, (int, float)):
            agg["score"] = score if agg["score"] is None else max(agg["score"], score)
        for s in f.get("staff") or ():
            if isinstance(s, dict) and s.get("ref"):
                agg["refs"].add(str(s["ref"]))
    return out


# --------------------------------------------------------------------------- scoring


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def score(labels: list[dict], findings: list[dict], refs: dict[str, str]) -> dict:
    """Metrics per class and overall. refs maps ref -> staff_id."""
    per_doc = aggregate(findings)
    classes: dict[str, dict] = {}
    overall = Counter()
    damage: dict[str, Counter] = {}
    bulk = Counter()
    missing = 0
    for lab in labels:
        key = doc_key(lab["path"])
        got = per_doc.get(key)
        if got is None:
            missing += 1
            got = {"severity": "none", "refs": set()}
        paged = got["severity"] in PAGED
        truth = bool(lab["page"])
        labelled = set(lab["staff_ids"])
        reported = {refs.get(r, f"?{r}") for r in got["refs"]}
        correct = len(reported & labelled)
        c = classes.setdefault(lab["class"], {
            "positive": truth, "n": 0, "paged": 0, "severity": Counter(),
            "staff_labelled": 0, "staff_reported": 0, "staff_correct": 0, "missing": 0,
        })
        c["n"] += 1
        c["paged"] += paged
        c["severity"][got["severity"]] += 1
        c["staff_labelled"] += len(labelled)
        c["staff_reported"] += len(reported)
        c["staff_correct"] += correct
        c["missing"] += key not in per_doc
        overall["tp" if truth and paged else "fn" if truth else "fp" if paged else "tn"] += 1
        overall["staff_labelled"] += len(labelled)
        overall["staff_reported"] += len(reported)
        overall["staff_correct"] += correct
        if lab["class"] in BULK_CLASSES:
            bulk["labelled"] += len(labelled)
            bulk["correct"] += correct
        if truth:
            for kind in lab.get("damage") or ["(none)"]:
                d = damage.setdefault(kind, Counter())
                d["n"] += 1
                d["paged"] += paged
    order = {name: i for i, name in enumerate(CLASS_ORDER)}
    classes = dict(sorted(classes.items(), key=lambda kv: order.get(kv[0], len(order))))
    for c in classes.values():
        c["page_recall"] = _ratio(c["paged"], c["n"]) if c["positive"] else None
        c["false_pages"] = None if c["positive"] else c["paged"]
        c["staff_precision"] = _ratio(c["staff_correct"], c["staff_reported"])
        c["staff_recall"] = _ratio(c["staff_correct"], c["staff_labelled"])
        c["severity"] = dict(c["severity"])
    return {
        "documents": len(labels),
        "missing_from_scan": missing,
        "classes": classes,
        "page_precision": _ratio(overall["tp"], overall["tp"] + overall["fp"]),
        "page_recall": _ratio(overall["tp"], overall["tp"] + overall["fn"]),
        "false_pages": overall["fp"],
        "negatives": overall["fp"] + overall["tn"],
        "positives": overall["tp"] + overall["fn"],
        "staff_precision": _ratio(overall["staff_correct"], overall["staff_reported"]),
        "staff_recall": _ratio(overall["staff_correct"], overall["staff_labelled"]),
        "bulk_staff_recall": _ratio(bulk["correct"], bulk["labelled"]),
        "damage_page_recall": {k: _ratio(v["paged"], v["n"]) for k, v in sorted(damage.items())},
        "damage_n": {k: v["n"] for k, v in sorted(damage.items())},
    }


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def report(m: dict) -> str:
    lines = []
    head = f"{'class':<18} {'docs':>5} {'paged':>6} {'recall':>7} {'false':>6} {'staff P':>8} {'staff R':>8} {'staff rep':>9}  severity none/low/med/high/crit"
    lines.append(head)
    lines.append("-" * len(head))
    for positive in (True, False):
        for name, c in m["classes"].items():
            if c["positive"] != positive:
                continue
            sev = "/".join(str(c["severity"].get(s, 0)) for s in SEVERITIES)
            lines.append(
                f"{name:<18} {c['n']:>5} {c['paged']:>6} {_pct(c['page_recall']):>7} "
                f"{'' if c['false_pages'] is None else c['false_pages']:>6} "
                f"{_pct(c['staff_precision']):>8} {_pct(c['staff_recall']):>8} {c['staff_reported']:>9}  {sev}"
            )
        lines.append("")
    lines.append(
        f"overall: page precision {_pct(m['page_precision']).strip()}, page recall {_pct(m['page_recall']).strip()} "
        f"({m['positives']} positives), false pages {m['false_pages']} of {m['negatives']} negatives"
    )
    lines.append(
        f"staff: precision {_pct(m['staff_precision']).strip()}, recall {_pct(m['staff_recall']).strip()}; "
        f"recall on bulk classes ({', '.join(BULK_CLASSES)}) {_pct(m['bulk_staff_recall']).strip()}"
    )
    lines.append(
        "page recall by damage: "
        + ", ".join(f"{k} {_pct(v).strip()} (n={m['damage_n'][k]})" for k, v in m["damage_page_recall"].items())
    )
    if m["missing_from_scan"]:
        lines.append(f"warning: {m['missing_from_scan']} documents had no object in the scan output (scored as none)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- running


def run_cli(corpus: Path, args) -> tuple[list[dict], dict[str, str], dict]:
    manifest_path = corpus / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    lw = leakwatch_command(args.leakwatch)
    timings = {}
    findings_path = corpus / "scan.jsonl"
    with database(args.database_url) as url, workspace(
        url,
        lw=lw,
        force_domains=[manifest["force_domain"]] if manifest.get("force_domain") else [],
        force_names=manifest.get("force_names", []),
    ) as ws:
        roster = corpus / "roster.csv"
        enrol = ws.enrol(roster, measure=True)
        timings["enrol_seconds"] = enrol.seconds
        refs_run = ws.cli("roster", "refs", str(roster))
        (corpus / "refs.csv").write_text(refs_run.stdout)
        refs = parse_refs(refs_run.stdout)
        # leakwatch scan exits 0 (nothing found), 1 (findings) or 2 (some file could not be read).
        scan = ws.cli("scan", "--format", "jsonl", *args.scan_arg, str(corpus / "docs"),
                      stdout_path=findings_path, ok_codes=(0, 1, 2), measure=True)
        if scan.returncode == 2:
            print(f"note: scan exited 2 (some input could not be read):\n{scan.tail(10)}", file=sys.stderr)
        if findings_path.stat().st_size == 0:
            print(f"warning: the scan printed nothing; its stderr ends:\n{scan.tail(10)}", file=sys.stderr)
        timings["scan_seconds"] = scan.seconds
        timings["scan_peak_rss_mb"] = (scan.max_rss_kb or 0) / 1024
    return read_jsonl(findings_path), refs, timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="corpus directory (roster.csv, docs/, labels.jsonl)")
    parser.add_argument("--leakwatch", metavar="CMD", help="command to run leakwatch (default: the leakwatch "
                        "script beside this Python, else on PATH, else python -c 'leakwatch.cli.main()')")
    parser.add_argument("--database-url", help="database to use instead of DATABASE_URL or a fresh one")
    parser.add_argument("--scan-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `leakwatch scan` (repeatable)")
    parser.add_argument("--findings", type=Path, help="score this scan output (JSON lines) instead of running leakwatch")
    parser.add_argument("--refs", type=Path, help="with --findings: the `staff_id,ref` file (default CORPUS/refs.csv)")
    parser.add_argument("--json", type=Path, help="also write the metrics as JSON to this file")
    args = parser.parse_args(argv)

    corpus = args.corpus
    try:
        labels = load_labels(corpus)
        timings: dict = {}
        if args.findings:
            refs_path = args.refs or corpus / "refs.csv"
            if not refs_path.exists():
                parser.error(f"{refs_path}: not found (give --refs)")
            refs = parse_refs(refs_path.read_text())
            findings = read_jsonl(args.findings)
        else:
            findings, refs, timings = run_cli(corpus, args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metrics = score(labels, findings, refs)
    metrics.update(timings)
    print(report(metrics))
    if timings:
        print(f"enrolment {timings['enrol_seconds']:.1f} s; scan {timings['scan_seconds']:.1f} s, "
              f"peak RSS {timings['scan_peak_rss_mb']:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2, default=list) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
