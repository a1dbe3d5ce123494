"""The evidence model: matcher evidence -> per-record likelihoods -> document score -> severity.

Two hypotheses about a document's records (rows, lines, objects):

* H0: they are about other people (or no one). A record shows a staff member's
  value only by chance, with the probability the population gives that value.
* H1: a fraction 1 - pi of them are our staff's records; the rest are as under H0.

For record i, r_i = P(record | it is a staff member's) / P(record | H0)
= (1/R) * sum over matched staff s of prod over kinds of 1/P0(kind value), where R
is the roster size and P0 the chance a stranger's record shows that value (1/f for a
name of population frequency f, 10^digits for an exact number). Under H0 the
expected r_i is 1, whatever the shape of the list; that is the chance correction.

The document score is the generalised log likelihood ratio, maximised over pi:

    S = max_pi sum_i log10((1 - pi) r_i + pi)

over all n records (unmatched records have r_i = 0 and contribute log10 pi). A
list of other people of the same shape scores about 0; 40 rare staff names
outweigh 400 common ones; a few staff rows hidden in a long list still stand out,
less the log of how many rows they hid among. See docs/evidence-model.md.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from leakwatch.attributes import roster_attributes
from leakwatch.index import MatchContext
from leakwatch.models import Document, Evidence, Finding, Severity, StaffHit

NAME_FAMILY = {"name": "name", "initial_name": "name"}
# Evidence about no one in particular (or not scored per staff member): handled on its own.
_ABOUT_NO_ONE = frozenset({"stated_identifier", "supplier", "credential", "context", "force_email"})
IDENTIFIER_KINDS = ("pay_number", "warrant_number", "email")
NAME_CAP = 9.0  # log10: no name alone is rarer than one in a billion (table gaps, not evidence)
RECORD_CAP = 15.0  # log10 per record: one record cannot outweigh a list on its own
CONFIDENT = 0.5  # staff reported at or above this posterior
CONFIRMED = 0.99  # ... and called confirmed above this
SURE_ROW = 0.9  # a row this surely ours reports all its namesakes ...
MAX_NAMESAKES = 5  # ... when there are at most this many

# Severity thresholds on the document score S (log10 likelihood ratio), measured on the
# labelled corpus in benchmarks/ (docs/evidence-model.md gives the figures).
LOW_SCORE = 1.0
MEDIUM_SCORE = 4.0
HIGH_SCORE = 10.0
CRITICAL_SCORE = 20.0
BULK_STAFF = 10  # distinct staff that make a bulk leak
# A record states a pay (or warrant) number, the staff member matched there by name has one
# on the roster, and it is not that one (not even within one edit): the record is this much
# less likely to be theirs (typos beyond one edit, stale or other numbering still happen).
CONTRADICTED = math.log10(0.05)


@dataclass(slots=True)
class _RecordView:
    index: int
    log_r: float  # log10 r_i
    staff: dict[int, dict[str, float]]  # staff -> kind family -> log10 strength


def _log10_sum(values: list[float]) -> float:
    top = max(values)
    return top + math.log10(sum(10 ** (v - top) for v in values))


def glr(log_r: np.ndarray, n: int) -> tuple[float, float]:
    """(S, pi): the maximised log10 likelihood ratio over the mixing fraction pi, and that pi.

    log_r holds log10 r_i of the matched records; the other n - len(log_r) have r = 0.
    The objective is concave in pi, so its derivative is bisected.
    """
    m = len(log_r)
    if m == 0:
        return 0.0, 1.0
    r = np.power(10.0, np.minimum(log_r, RECORD_CAP))
    rest = max(n - m, 0)

    def grad(pi: float) -> float:
        return float(np.sum((1.0 - r) / ((1.0 - pi) * r + pi))) + (rest / pi if rest else 0.0)

    def value(pi: float) -> float:
        v = float(np.sum(np.log10((1.0 - pi) * r + pi)))
        return v + (rest * math.log10(pi) if rest else 0.0)

    if grad(1.0) >= 0:
        return 0.0, 1.0
    lo, hi = 1e-12, 1.0
    if grad(lo) <= 0:
        return value(0.0) if rest == 0 else value(lo), 0.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if grad(mid) > 0:
            lo = mid
        else:
            hi = mid
    pi = (lo + hi) / 2
    return max(value(pi), 0.0), pi


def assess(doc: Document, evidence: list[Evidence], ctx: MatchContext) -> Finding:
    """Score a document's evidence into a finding (possibly of severity none)."""
    R = ctx.roster_size
    log_R = math.log10(R)
    per_record: dict[int, dict[int, dict[str, float]]] = {}  # record -> staff -> family -> strength
    kinds_of: dict[int, set[str]] = defaultdict(set)
    fuzzy_of: dict[int, bool] = {}
    fuzzy_ids: set[tuple[int, int, str]] = set()  # (record, staff, family) whose best evidence is fuzzy
    rec_kinds: dict[tuple[int, int], set[str]] = defaultdict(set)
    credentials: list[dict] = []
    context: dict[str, Evidence] = {}
    suppliers: dict[str, Evidence] = {}
    force_emails = 0
    stated: dict[int, set[str]] = defaultdict(set)  # record -> identifier kinds it states (a column's value)
    for ev in evidence:
        kind = ev.kind
        if kind in _ABOUT_NO_ONE:
            if kind == "stated_identifier":
                stated[ev.record].add(ev.detail)
            elif kind == "supplier":
                suppliers.setdefault(ev.detail, ev)
            elif kind == "credential":
                credentials.append({"address": ev.snippet.split(" : ")[0], "kind": ev.detail,
                                    "ref": None if ev.staff is None else ctx.index.table.refs[ev.staff],
                                    "where": doc.records[ev.record].where})
            elif kind == "context":
                context.setdefault(ev.detail, ev)
            else:
                force_emails += 1
            continue
        staff = ev.staff
        if staff is None:
            continue
        rec = ev.record
        if kind in NAME_FAMILY:
            family, strength = "name", min(ev.log_lr, NAME_CAP)
        else:
            family, strength = kind, ev.log_lr
        people = per_record.get(rec)
        if people is None:
            people = per_record[rec] = {}
        slot = people.get(staff)
        if slot is None:
            slot = people[staff] = {}
        rec_kinds[(rec, staff)].add(kind)
        if strength > slot.get(family, -math.inf):
            slot[family] = strength
            if ev.fuzzy:
                fuzzy_ids.add((rec, staff, family))
            elif fuzzy_ids:
                fuzzy_ids.discard((rec, staff, family))

    _join_nearby(doc, per_record, fuzzy_ids, rec_kinds)
    records: list[_RecordView] = []
    for rec, staff in per_record.items():
        for s in list(staff):
            fams = staff[s]
            # A one-edit identifier is corroboration only: alone it is noise (most numbers
            # have a staff member's number within one edit), so it needs a name beside it.
            if fuzzy_ids and "name" not in fams and all((rec, s, f) in fuzzy_ids for f in fams):
                del staff[s]
                continue
            for k in stated.get(rec, ()):
                if k not in fams and ctx.index.has(k, s):
                    fams["not " + k] = CONTRADICTED
            kinds_of[s] |= rec_kinds[(rec, s)]
            if not fuzzy_of.get(s):
                fuzzy_of[s] = bool(fuzzy_ids) and any((rec, s, f) in fuzzy_ids for f in fams)
        if not staff:
            continue
        if len(staff) == 1:
            log_r = sum(next(iter(staff.values())).values()) - log_R
        else:
            log_r = _log10_sum([sum(fam.values()) - log_R for fam in staff.values()])
        records.append(_RecordView(rec, min(log_r, RECORD_CAP), staff))
    n = max(len(doc.records), len(records), 1)
    score, pi = glr(np.array([rv.log_r for rv in records]), n)

    # Posterior that a record is a staff member's, shared among the staff it matched.
    confidence: dict[int, float] = {}
    candidate: dict[int, float] = {}
    strength: dict[int, float] = {}
    with_identifier: set[int] = set()
    attributes = roster_attributes(ctx)
    for rv in records:
        r = 10 ** rv.log_r
        rho = (1 - pi) * r / ((1 - pi) * r + pi) if r > 0 else 0.0
        if len(rv.staff) == 1:  # the common case: the record is about one staff member, all of rho is theirs
            weights = None
            total = 1.0
            items = rv.staff.items()
            namesakes = rv.staff.keys()
        else:
            weights = {s: 10 ** (sum(f.values()) - log_R) for s, f in rv.staff.items()}
            if attributes is not None:
                # Namesakes: the record's rank and unit say which of them it is about (not whether).
                factors = attributes.factors(doc.records[rv.index].text, list(weights))
                weights = {s: w * factors[s] for s, w in weights.items()}
            total = sum(weights.values())
            top = max(weights.values())
            namesakes = {s for s, w in weights.items() if w >= top / 10}
            items = rv.staff.items()
        for s, fams in items:
            c = rho if weights is None else rho * weights[s] / total
            if c > confidence.get(s, 0.0):
                confidence[s] = c
                strength[s] = sum(fams.values()) - log_R
            # A row that is surely ours but fits a few namesakes ("J Smith") names each of them:
            # the security team would rather tell three officers than miss the one.
            if rho >= SURE_ROW and s in namesakes and len(namesakes) <= MAX_NAMESAKES:
                candidate[s] = max(candidate.get(s, 0.0), rho)
            # Confirmed: a name with an identifier, or two different exact identifiers of one person.
            if "name" in fams:
                if any(k in fams for k in IDENTIFIER_KINDS):
                    with_identifier.add(s)
            elif len(fams) >= 2 and sum(1 for k in IDENTIFIER_KINDS
                                        if k in fams and (rv.index, s, k) not in fuzzy_ids) >= 2:
                with_identifier.add(s)

    table = ctx.index.table if ctx.index is not None else None
    hits: list[StaffHit] = []
    for s, c in sorted(confidence.items(), key=lambda kv: -kv[1]):
        if c < CONFIDENT and s not in candidate:
            continue
        hits.append(StaffHit(
            ref=table.refs[s], kinds=sorted(kinds_of[s]), confidence=c, log_lr=strength[s],
            rank=table.rank[s], unit=table.unit[s], sensitive=table.sensitive[s], leaver=table.leaver[s],
        ))
    staff_index = {table.refs[s]: s for s in confidence} if table else {}

    severity, why = _severity(score, hits, staff_index, with_identifier, credentials, confidence)
    if suppliers and severity < Severity.HIGH:
        severity, why = Severity.HIGH, "a supplier named on a ransomware leak site"
    reasons = [_supplier_reason(doc, ev) for ev in suppliers.values()]
    reasons += _reasons(doc, hits, n, score, why, credentials, context, force_emails, fuzzy_of, staff_index)
    return Finding(source=doc.source, severity=severity, score=score, staff=hits, credentials=credentials,
                   reasons=reasons, rejections=list(doc.rejections), records=n)


_GROUP_LINE = re.compile(r"^\s*(?:ransomware[ _]group|group(?:[ _]name)?|gang)\s*:\s*(\S.{0,59})", re.I)
_GROUP_HEADERS = {"ransomware group", "ransomware_group", "group", "group name", "group_name", "gang"}


def _supplier_reason(doc: Document, ev: Evidence) -> str:
    """A supplier on the watch list named on a leak site; the group from the posting's group line or column."""
    name = ev.detail.partition(": ")[2] or ev.detail
    group = None
    rec = doc.records[ev.record]
    if rec.headers and rec.cells:
        group = next((c.strip() for h, c in zip(rec.headers, rec.cells)
                      if h.strip().lower() in _GROUP_HEADERS and c.strip()), None)
    else:  # the nearest group line before the victim line, else after it
        r = ev.record
        near = (*range(r, max(r - 100, -1), -1), *range(r + 1, min(r + 100, len(doc.records))))
        for i in near:
            m = _GROUP_LINE.match(doc.records[i].text)
            if m:
                group = m.group(1).strip()
                break
    where = f" (group: {group[:60]})" if group else ""
    return f"a supplier on the watch list ({name}) named on a ransomware leak site{where}"


PROXIMITY = 6  # prose lines: one person's evidence this close together is one record


def _join_nearby(doc: Document, per_record, fuzzy_ids, rec_kinds) -> None:
    """Bind one person's evidence spread over a few nearby lines of prose into one record.

    Pastes put a person on several lines ("Name: ...", "Pay no: ...", "Warrant no: ...");
    tables do not need this (a row is the record). The anchor is the line with the most
    kinds of evidence for that person (a name first); each line of distance is one more
    place a value could have come from by chance, so the strength drops by log10(1 + d).
    """
    lines: dict[int, list[int]] = defaultdict(list)
    for rec, staff in per_record.items():
        if doc.records[rec].table is None:
            for s in staff:
                lines[s].append(rec)
    for s, recs in lines.items():
        if len(recs) < 2:
            continue
        recs.sort()
        clusters, current = [], [recs[0]]
        for rec in recs[1:]:
            if rec - current[0] <= PROXIMITY:
                current.append(rec)
            else:
                clusters.append(current)
                current = [rec]
        clusters.append(current)
        for cluster in clusters:
            if len(cluster) < 2:
                continue
            anchor = max(cluster, key=lambda r: ("name" in per_record[r][s], len(per_record[r][s]), -r))
            target = per_record[anchor][s]
            for rec in cluster:
                if rec == anchor:
                    continue
                d = abs(rec - anchor)
                for fam, strength in per_record[rec].pop(s).items():
                    moved = strength - math.log10(1 + d)
                    if moved > target.get(fam, -math.inf):
                        target[fam] = moved
                        if (rec, s, fam) in fuzzy_ids:
                            fuzzy_ids.add((anchor, s, fam))
                        else:
                            fuzzy_ids.discard((anchor, s, fam))
                rec_kinds[(anchor, s)] |= rec_kinds.pop((rec, s), set())
    for rec in [r for r, staff in per_record.items() if not staff]:
        del per_record[rec]


def _severity(score, hits, staff_index, with_identifier, credentials, confidence) -> tuple[Severity, str]:
    confirmed_ids = [h for h in hits if staff_index[h.ref] in with_identifier and h.confidence >= CONFIRMED]
    if score >= CRITICAL_SCORE and len(hits) >= BULK_STAFF:
        return Severity.CRITICAL, "bulk leak"
    if any(h.sensitive for h in confirmed_ids):
        return Severity.CRITICAL, "sensitive-unit staff with identifiers"
    if credentials:
        return Severity.HIGH, "credentials"
    if confirmed_ids:
        return Severity.HIGH, "staff with identifiers"
    if score >= HIGH_SCORE and len(hits) >= 2:
        return Severity.HIGH, "staff list"
    sev = Severity.NONE
    if score >= MEDIUM_SCORE:
        sev = Severity.MEDIUM
    elif score >= LOW_SCORE or hits:
        sev = Severity.LOW
    return sev, ""


def _reasons(doc, hits, n, score, why, credentials, context, force_emails, fuzzy_of, staff_index) -> list[str]:
    out: list[str] = []
    if hits:
        tables = doc.tables
        shape = f"a {n}-row table" if tables and sum(len(t) for t in tables.values()) >= n * 0.8 else f"{n} records"
        kinds = defaultdict(int)
        for h in hits:
            for k in h.kinds:
                kinds[k] += 1
        parts = [f"{len(hits)} staff member{'s' if len(hits) != 1 else ''} in {shape}"]
        for k in ("name", "initial_name", "pay_number", "warrant_number", "email"):
            if kinds.get(k):
                parts.append(f"{kinds[k]} by {k.replace('_', ' ')}")
        out.append("; ".join(parts))
        sensitive = sum(h.sensitive for h in hits)
        if sensitive:
            out.append(f"{sensitive} in sensitive units")
        leavers = sum(h.leaver for h in hits)
        if leavers:
            out.append(f"{leavers} of them leavers (no longer on the roster)")
        ambiguous = sum(1 for h in hits if h.confidence < CONFIDENT)
        if ambiguous:
            out.append(f"{ambiguous} of them share the matched name with another staff member "
                       f"(up to {MAX_NAMESAKES} namesakes are all listed)")
        fuzzy = sum(1 for h in hits if fuzzy_of.get(staff_index[h.ref]))
        if fuzzy:
            out.append(f"{fuzzy} matched only within one edit (typos, look-alikes)")
    if credentials:
        out.append(f"{len(credentials)} force or staff e-mail address{'es' if len(credentials) != 1 else ''} "
                   "with a password beside it")
    if force_emails:
        out.append(f"{force_emails} force-domain address{'es' if force_emails != 1 else ''} not on the roster")
    if context:
        out.append("context: " + ", ".join(sorted(context)))
    if score > 0:
        out.append(f"likelihood ratio 10^{score:.1f} against a list of other people")
    if why:
        out.append(f"severity: {why}")
    for rej in doc.rejections:
        out.append(f"not fully read: {rej}")
    return out
