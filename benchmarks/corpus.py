#!/usr/bin/env python3
"""Generate a labelled synthetic corpus: a force roster and leaked-looking documents.

    python benchmarks/corpus.py --staff 47000 --out benchmarks/out/corpus --seed 1

Writes into --out:

* roster.csv       the force's staff (staff_id,forenames,surname,pay_number,
                   warrant_number,email,rank,unit,vetting), people drawn from the
                   population mixture of benchmarks/names.py;
* other_force.csv  a second force's staff, same shape, none of them on the roster
                   (used for negatives);
* docs/            the documents, NNNN.<ext> in shuffled order;
* labels.jsonl     one object per document: path, class, page (true when the
                   document should be paged, i.e. scored high or critical),
                   staff_ids (roster staff truly present), format and damage;
* manifest.json    seed, sizes, force domain and names, counts per class.

Everything is synthetic (Faker names, made-up numbers, example.* domains), and the
output is byte-for-byte deterministic for a seed.

Document classes (about 440 documents at --scale 1; page=true for the first seven):

  bulk_with_ids      20-2000 staff with names, ranks, units and pay and/or warrant
                     numbers (sometimes emails, vetting) as CSV/TSV/XLSX/JSON/SQL/
                     Markdown/HTML tables; half are one unit's staff
  bulk_names_only    the same without identifiers: names, rank, unit (also text)
  psni_style         surname + initials, rank, location/unit; 50-5000 rows; half
                     the XLSX ones keep the data on a hidden sheet
  hidden_few         3-10 staff rows (with pay numbers) shuffled into a list of
                     500-5000 other people with their own employee numbers
  single_officer     a doxxing paste about one officer: name, rank, pay/warrant
                     number, unit, station, made-up address, free prose
  combolist_force    email:password lines with some roster addresses (and some
                     force-domain addresses of nobody on the roster)
  zipped_bulk        one to three bulk tables inside a .zip or .tar.gz
  other_people_list  another organisation's staff list (names from the same
                     population, six-digit employee numbers): chance name and
                     number collisions with the roster are left in on purpose
  other_force_list   another force's staff list with ranks, units, pay numbers
  random_numbers     500-20000 random 6-7 digit numbers
  benign_prose       a local news item naming someone who shares a staff
                     member's common name
  background         logs, code, configs, prose
  other_combolist    email:password lines for non-force domains

Damage (labels.jsonl "damage") is applied to about 40% of positives: typo (one
edit in a name of 5+ letters), upper (UPPER CASE), lookalike (Cyrillic а/е/о),
nickname (from the nicknames package), surname_first ("SURNAME, Forename"),
initial ("F. Surname"), ocr (0->O, 1->l in numbers), reformat ("12 34 56",
"12-34-56"). Styles (upper, surname_first, initial, reformat) apply to the whole
document; the others to about 30% of values.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import html
import io
import json
import math
import random
import re
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.names import sample_forename, sample_person_sex  # noqa: E402
from leakwatch.normalise import fold  # noqa: E402

# --------------------------------------------------------------------------- forces


@dataclass(frozen=True)
class Force:
    domain: str
    names: tuple[str, ...]
    id_prefix: str


FORCE = Force(
    domain="met.example.police.uk",
    names=("Metropolitan Police Service", "Metropolitan Police", "MPS", "Met Police"),
    id_prefix="E",
)
OTHER_FORCE = Force(
    domain="northshire.example.police.uk",
    names=("Northshire Police", "Northshire Constabulary"),
    id_prefix="N",
)

OFFICER_SHARE = 0.68
OFFICER_RANKS = {
    "PC": 0.60, "DC": 0.12, "PS": 0.11, "DS": 0.05, "Insp": 0.045, "DI": 0.025,
    "Ch Insp": 0.015, "Supt": 0.008, "Ch Supt": 0.004,
}
STAFF_GRADES = {"PCSO": 0.15, "Band E": 0.25, "Band D": 0.25, "Band C": 0.18, "Band B": 0.12, "Band A": 0.05}
RANK_TITLES = {
    "PC": "Police Constable", "DC": "Detective Constable", "PS": "Police Sergeant",
    "DS": "Detective Sergeant", "Insp": "Inspector", "DI": "Detective Inspector",
    "Ch Insp": "Chief Inspector", "Supt": "Superintendent", "Ch Supt": "Chief Superintendent",
    "PCSO": "Police Community Support Officer",
}
OFFICER_UNITS = {
    "Territorial Policing": 0.30, "Emergency Response": 0.12, "Neighbourhood Policing": 0.10,
    "Criminal Investigation Department": 0.08, "Counter Terrorism Command": 0.05,
    "Specialist Protection": 0.025, "Royalty and Specialist Protection": 0.015,
    "Professional Standards": 0.02, "Roads Policing": 0.04, "Public Order": 0.04,
    "Firearms Command": 0.04, "Intelligence": 0.03, "Economic Crime": 0.02,
    "Public Protection": 0.05, "Marine Policing Unit": 0.005, "Dog Support Unit": 0.01,
    "Custody": 0.03, "Training": 0.015,
}
STAFF_UNITS = {
    "Forensics": 0.15, "Custody": 0.12, "Contact Centre": 0.18, "Digital Services": 0.10,
    "HR": 0.08, "Finance": 0.06, "Intelligence": 0.08, "Territorial Policing": 0.12,
    "Professional Standards": 0.03, "Counter Terrorism Command": 0.04, "Training": 0.04,
}
VETTING_DEFAULT = {"RV": 0.10, "CTC": 0.10, "NPPV2": 0.30, "NPPV3": 0.50}
VETTING_HIGH = {"SC": 0.55, "DV": 0.30, "NPPV3": 0.15}
HIGH_VETTING_UNITS = {
    "Counter Terrorism Command", "Specialist Protection", "Royalty and Specialist Protection",
    "Professional Standards", "Intelligence",
}
LOCATIONS = (
    "Central West", "Central North", "Central South", "Central East", "North West", "North Area",
    "North East", "East Area", "South East", "South Area", "South West", "West Area",
    "Charing Cross", "Brixton", "Lewisham", "Croydon", "Wembley", "Ilford", "Stoke Newington",
    "Holborn", "Bethnal Green", "Kingston", "Sutton", "Hounslow", "Uxbridge", "Romford",
    "Bromley", "Colindale", "Lambeth HQ", "Hendon",
)
FREE_DOMAINS = (
    "gmail.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com", "btinternet.com", "live.co.uk",
    "icloud.com", "aol.com", "sky.com", "protonmail.com", "mail.example.com", "example.net",
)
ORGS = (
    ("Northgate NHS Trust", "northgate-nhs.example.uk"),
    ("Riverside Borough Council", "riverside.example.gov.uk"),
    ("Hollins Retail Ltd", "hollins.example.co.uk"),
    ("Eastbrook University", "eastbrook.example.ac.uk"),
    ("Marlow Logistics", "marlowlogistics.example.com"),
    ("Greenfield Housing Association", "greenfield.example.org.uk"),
)
COMMON_PASSWORDS = (
    "123456", "password", "qwerty123", "letmein", "iloveyou", "Password1", "welcome1",
    "football", "monkey123", "sunshine", "chelsea1", "arsenal12", "liverpool", "summer2023",
    "Winter2022!", "abc123", "dragon", "princess", "trustno1", "london1",
)


# --------------------------------------------------------------------------- people


@dataclass(slots=True)
class Staff:
    staff_id: str
    forenames: str
    surname: str
    pay_number: str = ""
    warrant_number: str = ""
    email: str = ""
    rank: str = ""
    unit: str = ""
    vetting: str = ""
    locale: str = ""
    sex: str = ""
    location: str = ""

    @property
    def forename(self) -> str:
        return self.forenames.split()[0]

    def roster_row(self) -> list[str]:
        return [
            self.staff_id, self.forenames, self.surname, self.pay_number, self.warrant_number,
            self.email, self.rank, self.unit, self.vetting,
        ]


ROSTER_HEADER = ["staff_id", "forenames", "surname", "pay_number", "warrant_number", "email", "rank", "unit", "vetting"]


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def local_part(text: str) -> str:
    """An e-mail local part from a name: folded, letters only ("O'Brien" -> "obrien")."""
    return re.sub(r"[^a-z]", "", fold(text))


def random_person(rng: random.Random, middle_rate: float = 0.15) -> Staff:
    """Someone from the population mixture, not a member of any roster."""
    forename, surname, locale, sex = sample_person_sex(rng)
    forenames = forename
    if rng.random() < middle_rate:
        middle = sample_forename(rng, locale, sex)
        if middle != forename:
            forenames = f"{forename} {middle}"
    return Staff("", forenames, surname, locale=locale, sex=sex)


def make_roster(rng: random.Random, n: int, force: Force = FORCE) -> list[Staff]:
    """n staff of a force: unique ids, pay numbers, warrant numbers (officers) and emails."""
    ids = rng.sample(range(1, 10**7), n)
    pays = rng.sample(range(100_000, 1_000_000), n)
    pay_set = set(pays)
    n_off = sum(1 for _ in range(n) if rng.random() < OFFICER_SHARE)
    # Warrant numbers: mostly 7-digit; about a fifth 6-digit (older officers), drawn
    # from six-digit values that are nobody's pay number.
    n6 = n_off // 5
    six = [v for v in rng.sample(range(100_000, 1_000_000), min(900_000, n6 * 3 + 10)) if v not in pay_set][:n6]
    seven = rng.sample(range(1_000_000, 4_000_000), n_off - len(six))
    warrants = [str(v) for v in six] + [str(v) for v in seven]
    rng.shuffle(warrants)
    officer_slots = set(rng.sample(range(n), n_off))
    seen_local: dict[str, int] = {}
    staff: list[Staff] = []
    w_iter = iter(warrants)
    for i in range(n):
        p = random_person(rng)
        officer = i in officer_slots
        if officer:
            rank = _pick(rng, OFFICER_RANKS)
            unit = _pick(rng, OFFICER_UNITS)
            warrant = next(w_iter)
        else:
            rank = _pick(rng, STAFF_GRADES)
            unit = "Territorial Policing" if rank == "PCSO" else _pick(rng, STAFF_UNITS)
            warrant = ""
        vetting = _pick(rng, VETTING_HIGH if unit in HIGH_VETTING_UNITS else VETTING_DEFAULT)
        local = f"{local_part(p.forename)}.{local_part(p.surname)}"
        count = seen_local.get(local, 0) + 1
        seen_local[local] = count
        email = f"{local}{count if count > 1 else ''}@{force.domain}"
        p.staff_id = f"{force.id_prefix}{ids[i]:07d}"
        p.pay_number = str(pays[i])
        p.warrant_number = warrant
        p.email = email
        p.rank, p.unit, p.vetting = rank, unit, vetting
        p.location = rng.choice(LOCATIONS)
        staff.append(p)
    return staff


def write_roster(path: Path, staff: list[Staff]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ROSTER_HEADER)
        for s in staff:
            w.writerow(s.roster_row())


# --------------------------------------------------------------------------- damage

NAME_DAMAGE = ("typo", "upper", "lookalike", "nickname", "surname_first", "initial")
NUMBER_DAMAGE = ("ocr", "reformat")
DAMAGE = NAME_DAMAGE + NUMBER_DAMAGE
_CYRILLIC = {"a": "а", "e": "е", "o": "о", "A": "А", "E": "Е", "O": "О"}

_nicknamer = None


def _nicknames(forename: str) -> list[str]:
    global _nicknamer
    if _nicknamer is None:
        from nicknames import NickNamer

        _nicknamer = NickNamer()
    return sorted(_nicknamer.nicknames_of(forename.lower()))


# Styles a re-poster applies to the whole document; the rest hit single values.
STYLE_DAMAGE = frozenset({"upper", "surname_first", "initial", "reformat"})


class Damager:
    """Re-post damage for one document.

    A style kind (STYLE_DAMAGE) applies to every value it can; any other kind
    (typo, OCR, look-alike letters, nickname) to each value with probability `rate`.
    """

    def __init__(self, rng: random.Random, kinds: tuple[str, ...] = (), rate: float = 0.3):
        self.rng = rng
        self.kinds = frozenset(kinds)
        self.rate = rate

    def _on(self, kind: str) -> bool:
        if kind not in self.kinds:
            return False
        return kind in STYLE_DAMAGE or self.rng.random() < self.rate

    def _typo(self, name: str) -> str:
        if len(name) < 5:
            return name
        rng = self.rng
        i = rng.randrange(1, len(name))
        op = rng.choice(("sub", "del", "ins", "swap"))
        letters = "abcdefghijklmnopqrstuvwxyz"
        if op == "sub":
            return name[:i] + rng.choice(letters.replace(name[i].lower(), "")) + name[i + 1 :]
        if op == "del":
            return name[:i] + name[i + 1 :]
        if op == "ins":
            return name[:i] + rng.choice(letters) + name[i:]
        if i == len(name) - 1:
            i -= 1
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]

    def _lookalike(self, name: str) -> str:
        out = "".join(_CYRILLIC.get(ch, ch) if self.rng.random() < 0.6 else ch for ch in name)
        return out

    def name(self, value: str, *, forename: bool = False) -> str:
        if forename and self._on("nickname"):
            nicks = _nicknames(value.split()[0])
            if nicks:
                value = self.rng.choice(nicks).capitalize()
        if self._on("typo"):
            value = self._typo(value)
        if self._on("lookalike"):
            value = self._lookalike(value)
        if self._on("upper"):
            value = value.upper()
        return value

    def full_name(self, p: Staff, *, middle: bool = True) -> str:
        """The person's name as one field, in the document's style and damage."""
        forenames = p.forenames if middle else p.forename
        fn = self.name(forenames, forename=True)
        sn = self.name(p.surname)
        if self._on("surname_first"):
            return f"{sn.upper()}, {fn}"
        if self._on("initial"):
            return f"{fn[0]}. {sn}"
        return f"{fn} {sn}"

    def number(self, value: str) -> str:
        if not value:
            return value
        if self._on("reformat"):
            if len(value) == 6:
                sep = self.rng.choice((" ", "-"))
                value = sep.join((value[0:2], value[2:4], value[4:6]))
            else:
                value = f"{value[:3]} {value[3:]}"
        if self._on("ocr"):
            swaps = {"0": "O", "1": "l"}
            idx = [i for i, ch in enumerate(value) if ch in swaps]
            if idx:
                chosen = set(self.rng.sample(idx, self.rng.randint(1, len(idx))))
                value = "".join(swaps[ch] if i in chosen else ch for i, ch in enumerate(value))
        return value


def choose_damage(rng: random.Random, share: float = 0.4, kinds: tuple[str, ...] = DAMAGE) -> tuple[str, ...]:
    """Damage for a positive document: none, or one to three kinds."""
    if rng.random() >= share:
        return ()
    chosen = set(rng.sample(kinds, rng.randint(1, min(3, len(kinds)))))
    if {"surname_first", "initial"} <= chosen:  # one name style per document
        chosen.discard(rng.choice(("surname_first", "initial")))
    return tuple(sorted(chosen))


# --------------------------------------------------------------------------- formats

FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
FIXED_MTIME = 1704067200  # 2024-01-01


def _fixed_zip(data: bytes) -> bytes:
    """Re-pack a zip (an XLSX) with fixed timestamps so output is deterministic."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", body)
            zi = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, body)
    return out.getvalue()


def render_csv(headers, rows, delimiter=",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def render_xlsx(headers, rows, *, hidden: bool = False, title: str = "Staff", rng: random.Random | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if hidden:
        ws.title = "Summary"
        ws.append(["Summary"])
        ws.append(["Records", len(rows)])
        ws.append(["Prepared for", "Freedom of Information request"])
        data = wb.create_sheet(title)
        data.sheet_state = "hidden"
    else:
        ws.title = title
        data = ws
    if rng is not None and rng.random() < 0.3:
        data.append([f"{title} list"])  # a title block above the header row
        data.append([])
    data.append(list(headers))
    for row in rows:
        data.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue())


def render_json(headers, rows, rng: random.Random) -> bytes:
    keys = [re.sub(r"[^a-z0-9]+", "_", h.lower()).strip("_") for h in headers]
    objs = [dict(zip(keys, row)) for row in rows]
    doc: object = objs if rng.random() < 0.5 else {"count": len(objs), "results": objs}
    indent = 2 if rng.random() < 0.6 else None
    return json.dumps(doc, indent=indent, ensure_ascii=rng.random() < 0.5).encode("utf-8")


def render_sql(headers, rows, table: str) -> bytes:
    cols = [re.sub(r"[^a-z0-9]+", "_", h.lower()).strip("_") for h in headers]
    out = [f"CREATE TABLE `{table}` (\n" + ",\n".join(f"  `{c}` varchar(255)" for c in cols) + "\n);\n"]
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        values = ",\n".join(
            "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in row) + ")" for row in chunk
        )
        out.append(f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in cols)}) VALUES\n{values};\n")
    return "".join(out).encode("utf-8")


def render_markdown(headers, rows) -> bytes:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_html(headers, rows, title: str) -> bytes:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{esc(title)}</title></head>\n"
        f"<body><h1>{esc(title)}</h1>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>\n</body></html>\n"
    ).encode("utf-8")


def render_text(headers, rows, rng: random.Random) -> bytes:
    style = rng.choice(("pipe", "tab", "dash", "aligned"))
    if style == "pipe":
        lines = [" | ".join(str(v) for v in row) for row in rows]
    elif style == "tab":
        lines = ["\t".join(headers)] + ["\t".join(str(v) for v in row) for row in rows]
    elif style == "dash":
        lines = [" - ".join(str(v) for v in row if v) for row in rows]
    else:
        widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


TABLE_FORMATS = ("csv", "xlsx", "json", "sql", "md", "html", "txt", "tsv")
EXT = {"csv": "csv", "tsv": "tsv", "xlsx": "xlsx", "json": "json", "sql": "sql", "md": "md", "html": "html", "txt": "txt"}


def render_table(fmt: str, headers, rows, rng: random.Random, *, title: str = "staff", hidden: bool = False) -> bytes:
    if fmt == "csv":
        return render_csv(headers, rows)
    if fmt == "tsv":
        return render_csv(headers, rows, delimiter="\t")
    if fmt == "xlsx":
        return render_xlsx(headers, rows, hidden=hidden, title=title[:31] or "Sheet", rng=rng)
    if fmt == "json":
        return render_json(headers, rows, rng)
    if fmt == "sql":
        return render_sql(headers, rows, re.sub(r"\W+", "_", title.lower()) or "t")
    if fmt == "md":
        return render_markdown(headers, rows)
    if fmt == "html":
        return render_html(headers, rows, title)
    if fmt == "txt":
        return render_text(headers, rows, rng)
    raise ValueError(fmt)


# --------------------------------------------------------------------------- tables

HEADERS = {
    "forenames": ("Forename", "First Name", "Forenames", "first_name", "Given Name"),
    "surname": ("Surname", "Last Name", "last_name", "Family Name", "SURNAME"),
    "name": ("Name", "Full Name", "Officer", "Employee Name", "name"),
    "rank": ("Rank", "Rank/Grade", "Grade", "rank"),
    "unit": ("Unit", "Department", "OCU", "Command", "Team"),
    "location": ("Location", "Station", "Base", "BCU"),
    "pay_number": ("Pay Number", "Pay No", "pay_no", "Payroll No", "Employee No", "Pay #"),
    "warrant_number": ("Warrant No", "Warrant Number", "warrant", "Collar/Warrant No"),
    "email": ("Email", "E-mail", "email_address", "Work Email"),
    "vetting": ("Vetting", "Vetting Level", "clearance"),
    "initials": ("Initials", "Init", "Forename Initial"),
}


def log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def staff_table(
    rng: random.Random, people: list[Staff], dmg: Damager, *, ids: bool
) -> tuple[list[str], list[list[str]]]:
    """A staff-list table in a style picked at random; ids=False leaves out numbers and emails."""
    split = rng.random() < 0.5
    cols = ["forenames", "surname"] if split else ["name"]
    if rng.random() < 0.9:
        cols.append("rank")
    if rng.random() < 0.8 or not ids:
        cols.append("unit")
    if rng.random() < 0.4:
        cols.append("location")
    if ids:
        pay = rng.random() < 0.85
        warrant = rng.random() < 0.5 or not pay
        if pay:
            cols.append("pay_number")
        if warrant:
            cols.append("warrant_number")
        if rng.random() < 0.3:
            cols.append("email")
        if rng.random() < 0.2:
            cols.append("vetting")
    headers = [rng.choice(HEADERS[c]) for c in cols]
    rows = []
    for p in people:
        row = []
        for c in cols:
            if c == "forenames":
                row.append(dmg.name(p.forenames, forename=True))
            elif c == "surname":
                row.append(dmg.name(p.surname))
            elif c == "name":
                row.append(dmg.full_name(p))
            elif c in ("pay_number", "warrant_number"):
                row.append(dmg.number(getattr(p, c)))
            else:
                row.append(getattr(p, c))
        rows.append(row)
    return headers, rows


def initials(p: Staff, rng: random.Random) -> str:
    parts = p.forenames.split()
    style = rng.choice(("spaced", "dotted", "joined"))
    if style == "dotted":
        return "".join(f"{x[0]}." for x in parts)
    if style == "joined":
        return "".join(x[0] for x in parts)
    return " ".join(x[0] for x in parts)


# --------------------------------------------------------------------------- context


@dataclass
class Doc:
    ext: str
    data: bytes
    staff_ids: list[str]
    fmt: str
    damage: tuple[str, ...] = ()


@dataclass
class Context:
    roster: list[Staff]
    other: list[Staff]
    seed: int
    by_unit: dict[str, list[Staff]] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)
    common_staff: list[Staff] = field(default_factory=list)
    roster_emails: set[str] = field(default_factory=set)
    phones: list[str] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)
    companies: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    _fake: object = None

    @classmethod
    def build(cls, roster: list[Staff], other: list[Staff], seed: int) -> "Context":
        ctx = cls(roster, other, seed)
        for s in roster:
            ctx.by_unit.setdefault(s.unit, []).append(s)
        ctx.roster_emails = {s.email for s in roster}
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(seed)
        ctx.sentences = [fake.sentence(nb_words=random.Random(i).randint(6, 18)) for i in range(3000)]
        gb = Faker("en_GB")
        gb.seed_instance(seed)
        ctx.phones = [gb.phone_number() for _ in range(3000)]
        ctx.postcodes = [gb.postcode() for _ in range(3000)]
        ctx.companies = [gb.company() for _ in range(500)]
        ctx.jobs = [gb.job() for _ in range(600)]
        # Staff with common names (for benign prose): both names frequent in the population.
        from leakwatch.population import load_population

        pop = load_population()
        ctx.common_staff = [
            s for s in roster
            if pop.surname(s.surname) >= 0.004 and pop.forename(s.forename) >= 0.0015 and " " not in s.forenames
        ] or roster[:100]
        return ctx

    def fake(self, rng: random.Random):
        """A Faker (en_GB) seeded from rng: deterministic per document."""
        if self._fake is None:
            from faker import Faker

            self._fake = Faker("en_GB")
        self._fake.seed_instance(rng.getrandbits(32))
        return self._fake

    def pick_staff(self, rng: random.Random, n: int) -> list[Staff]:
        """n staff: half the time from one unit (a unit list), else from anywhere."""
        n = min(n, len(self.roster))
        if rng.random() < 0.5:
            unit = rng.choice(sorted(u for u, ss in self.by_unit.items() if len(ss) >= min(n, 20)))
            pool = self.by_unit[unit]
            if len(pool) >= n:
                return rng.sample(pool, n)
        return rng.sample(self.roster, n)

    def prose(self, rng: random.Random, n: int) -> str:
        return " ".join(rng.choice(self.sentences) for _ in range(n))


def people(rng: random.Random, n: int) -> list[Staff]:
    return [random_person(rng) for _ in range(n)]


def _ids(people_: list[Staff]) -> list[str]:
    return sorted({p.staff_id for p in people_ if p.staff_id})


# --------------------------------------------------------------------------- positives


def gen_bulk_with_ids(ctx: Context, rng: random.Random) -> Doc:
    chosen = ctx.pick_staff(rng, log_uniform(rng, 20, 2000))
    damage = choose_damage(rng)
    headers, rows = staff_table(rng, chosen, Damager(rng, damage), ids=True)
    fmt = rng.choice(("csv", "xlsx", "json", "sql", "md", "html", "tsv"))
    data = render_table(fmt, headers, rows, rng, title=rng.choice(("staff", "officers", "personnel", "export")))
    return Doc(EXT[fmt], data, _ids(chosen), fmt, damage)


def gen_bulk_names_only(ctx: Context, rng: random.Random) -> Doc:
    chosen = ctx.pick_staff(rng, log_uniform(rng, 20, 2000))
    damage = choose_damage(rng, kinds=NAME_DAMAGE)
    headers, rows = staff_table(rng, chosen, Damager(rng, damage), ids=False)
    fmt = rng.choice(("csv", "xlsx", "json", "md", "html", "txt"))
    data = render_table(fmt, headers, rows, rng, title=rng.choice(("staff", "officers", "nominal roll")))
    return Doc(EXT[fmt], data, _ids(chosen), fmt, damage)


def psni_table(rng: random.Random, chosen: list[Staff], dmg: Damager) -> tuple[list[str], list[list[str]]]:
    cols = ["surname", "initials", "rank", rng.choice(("location", "unit"))]
    if rng.random() < 0.4:
        cols.append("unit" if cols[-1] == "location" else "location")
    headers = [rng.choice(HEADERS[c]) for c in cols]
    rows = []
    for p in chosen:
        row = []
        for c in cols:
            if c == "surname":
                row.append(dmg.name(p.surname))
            elif c == "initials":
                row.append(initials(p, rng))
            else:
                row.append(getattr(p, c))
        rows.append(row)
    return headers, rows


def gen_psni_style(ctx: Context, rng: random.Random) -> Doc:
    chosen = ctx.pick_staff(rng, log_uniform(rng, 50, 5000))
    damage = choose_damage(rng, kinds=("typo", "upper", "lookalike"))
    headers, rows = psni_table(rng, chosen, Damager(rng, damage))
    fmt = rng.choice(("xlsx", "xlsx", "csv", "txt"))
    hidden = fmt == "xlsx" and rng.random() < 0.5
    data = render_table(fmt, headers, rows, rng, title="Workforce", hidden=hidden)
    return Doc(EXT[fmt], data, _ids(chosen), f"{fmt}{'+hidden' if hidden else ''}", damage)


def hidden_table(
    ctx: Context, rng: random.Random, chosen: list[Staff], n_others: int, dmg: Damager
) -> tuple[list[str], list[list[str]]]:
    """A membership-style list of other people with a few staff rows (pay numbers) in it."""
    headers = ["Name", "Email", "Phone", "Postcode", "Employer", "Employee No"]
    rows = []
    for p in people(rng, n_others):
        r = rng.random()
        emp_no = (
            str(rng.randint(100_000, 999_999)) if r < 0.35
            else f"EMP{rng.randint(10_000, 99_999)}" if r < 0.6
            else str(rng.randint(10_000_000, 99_999_999)) if r < 0.75 else ""
        )
        local = f"{local_part(p.forename)}.{local_part(p.surname)}{rng.randint(1, 99)}"
        rows.append([
            f"{p.forenames} {p.surname}", f"{local}@{rng.choice(FREE_DOMAINS)}", rng.choice(ctx.phones),
            rng.choice(ctx.postcodes), rng.choice(ctx.companies) if rng.random() < 0.7 else "", emp_no,
        ])
    for s in chosen:
        employer = rng.choice(FORCE.names + ("", "", "Police"))
        email = s.email if rng.random() < 0.3 else f"{local_part(s.forename)}{rng.randint(1, 99)}@{rng.choice(FREE_DOMAINS)}"
        rows.append([dmg.full_name(s), email, rng.choice(ctx.phones), rng.choice(ctx.postcodes), employer, dmg.number(s.pay_number)])
    rng.shuffle(rows)
    return headers, rows


def gen_hidden_few(ctx: Context, rng: random.Random) -> Doc:
    chosen = rng.sample(ctx.roster, rng.randint(3, 10))
    damage = choose_damage(rng, share=0.3)
    headers, rows = hidden_table(ctx, rng, chosen, log_uniform(rng, 500, 5000), Damager(rng, damage))
    fmt = rng.choice(("csv", "xlsx", "json", "sql"))
    data = render_table(fmt, headers, rows, rng, title="members")
    return Doc(EXT[fmt], data, _ids(chosen), fmt, damage)


def gen_single_officer(ctx: Context, rng: random.Random) -> Doc:
    s = rng.choice([p for p in rng.sample(ctx.roster, 50) if p.warrant_number] or ctx.roster)
    damage = choose_damage(rng, share=0.3)
    dmg = Damager(rng, damage, rate=0.6)
    fake = ctx.fake(rng)
    name = dmg.full_name(s, middle=rng.random() < 0.3)
    title = RANK_TITLES.get(s.rank, "police staff member")
    ids = []
    if rng.random() < 0.8:
        ids.append(("Pay no", dmg.number(s.pay_number)))
    if s.warrant_number and (rng.random() < 0.6 or not ids):
        ids.append(("Warrant no", dmg.number(s.warrant_number)))
    pron = "he" if s.sex == "male" else "she"
    if rng.random() < 0.5:
        lines = [
            f"==== {rng.choice(('DOX', 'EXPOSED', 'KNOW YOUR ENEMY', 'PIG OF THE WEEK'))} ====",
            f"Name: {name}",
            f"Rank: {s.rank} ({title})",
            *(f"{k}: {v}" for k, v in ids),
            f"Unit: {s.unit}",
            f"Station: {s.location}",
            f"Home address: {fake.address().replace(chr(10), ', ')}",
            f"Car: {fake.license_plate()}",
            f"Phone: {fake.phone_number()}",
            "",
            ctx.prose(rng, rng.randint(3, 12)),
            f"Spread this. {pron.capitalize()} thinks nobody knows.",
        ]
    else:
        idtext = ", ".join(f"{k.lower()} {v}" for k, v in ids)
        lines = [
            f"{title} {name}{f' ({idtext})' if idtext else ''} works in {s.unit} out of {s.location}.",
            ctx.prose(rng, rng.randint(2, 6)),
            f"{pron.capitalize()} lives at {fake.address().replace(chr(10), ', ')} and drives {fake.license_plate()}.",
            ctx.prose(rng, rng.randint(2, 8)),
        ]
    fmt = rng.choice(("txt", "txt", "md"))
    return Doc(fmt, ("\n".join(lines) + "\n").encode("utf-8"), [s.staff_id], fmt, damage)


def password(rng: random.Random, p: Staff | None = None) -> str:
    r = rng.random()
    if r < 0.3:
        return rng.choice(COMMON_PASSWORDS)
    if r < 0.6 and p is not None:
        return f"{local_part(p.forename)}{rng.randint(1, 2024)}"
    return "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!@#$") for _ in range(rng.randint(6, 14)))


def combo_lines(rng: random.Random, n: int, domains=FREE_DOMAINS) -> list[str]:
    lines = []
    for p in people(rng, n):
        local = rng.choice((
            f"{local_part(p.forename)}.{local_part(p.surname)}",
            f"{local_part(p.forename)}{rng.randint(1, 999)}",
            f"{local_part(p.forename)[:1]}{local_part(p.surname)}{rng.randint(1, 99)}",
        ))
        lines.append(f"{local}@{rng.choice(domains)}:{password(rng, p)}")
    return lines


def gen_combolist_force(ctx: Context, rng: random.Random) -> Doc:
    force_only = rng.random() < 0.25
    chosen = rng.sample(ctx.roster, rng.randint(1, 50) if not force_only else rng.randint(20, 400))
    lines = [] if force_only else combo_lines(rng, log_uniform(rng, 200, 5000))
    upper = rng.random() < 0.15
    for s in chosen:
        addr = s.email.upper() if upper and rng.random() < 0.5 else s.email
        lines.append(f"{addr}:{password(rng, s)}")
    # Force-domain addresses that are nobody on the roster (leavers, typos, made up).
    for p in people(rng, rng.randint(0, 10 if not force_only else 60)):
        addr = f"{local_part(p.forename)}.{local_part(p.surname)}@{FORCE.domain}"
        if addr not in ctx.roster_emails:
            lines.append(f"{addr}:{password(rng, p)}")
    rng.shuffle(lines)
    if rng.random() < 0.3:
        lines = [ln.replace(":", ";", 1) for ln in lines]
    return Doc("txt", ("\n".join(lines) + "\n").encode("utf-8"), _ids(chosen), "combolist", ("upper",) if upper else ())


def pack(rng: random.Random, members: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    if rng.random() < 0.6:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(zipfile.ZipInfo(name, FIXED_ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
        return "zip", buf.getvalue()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), FIXED_MTIME, 0o644
            tf.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return "tar.gz", out.getvalue()


def gen_zipped_bulk(ctx: Context, rng: random.Random) -> Doc:
    members: list[tuple[str, bytes]] = []
    staff_ids: set[str] = set()
    damage: set[str] = set()
    for k in range(rng.randint(1, 3)):
        inner = gen_bulk_with_ids(ctx, rng) if rng.random() < 0.7 else gen_psni_style(ctx, rng)
        members.append((f"leak/part{k + 1}.{inner.ext}", inner.data))
        staff_ids.update(inner.staff_ids)
        damage.update(inner.damage)
    if rng.random() < 0.5:
        members.append(("leak/README.txt", (ctx.prose(rng, 5) + "\n").encode()))
    if rng.random() < 0.3:
        members.append(("leak/logs/app.log", background_log(rng, rng.randint(2_000, 40_000)).encode()))
    ext, data = pack(rng, members)
    return Doc(ext, data, sorted(staff_ids), ext, tuple(sorted(damage)))


# --------------------------------------------------------------------------- negatives


def gen_other_people_list(ctx: Context, rng: random.Random) -> Doc:
    org, domain = rng.choice(ORGS)
    fake = ctx.fake(rng)
    group = people(rng, log_uniform(rng, 20, 2000))
    split = rng.random() < 0.5
    headers = (["First Name", "Last Name"] if split else ["Name"]) + ["Job Title", "Department"]
    with_no = rng.random() < 0.7
    if with_no:
        headers.append(rng.choice(("Employee No", "Staff Number", "Payroll No")))
    with_email = rng.random() < 0.4
    if with_email:
        headers.append("Email")
    depts = [fake.bs().split()[-1].capitalize() for _ in range(12)]
    nums = rng.sample(range(100_000, 1_000_000), len(group))
    rows = []
    for p, num in zip(group, nums):
        row = [p.forenames, p.surname] if split else [f"{p.forenames} {p.surname}"]
        row += [rng.choice(ctx.jobs), rng.choice(depts)]
        if with_no:
            row.append(str(num))
        if with_email:
            row.append(f"{local_part(p.forename)}.{local_part(p.surname)}@{domain}")
        rows.append(row)
    fmt = rng.choice(("csv", "xlsx", "json", "sql", "md", "html", "tsv"))
    return Doc(EXT[fmt], render_table(fmt, headers, rows, rng, title=org), [], fmt)


def gen_other_force_list(ctx: Context, rng: random.Random) -> Doc:
    chosen = rng.sample(ctx.other, min(len(ctx.other), log_uniform(rng, 20, 2000)))
    headers, rows = staff_table(rng, chosen, Damager(rng), ids=True)
    fmt = rng.choice(("csv", "xlsx", "json", "sql", "md", "html"))
    return Doc(EXT[fmt], render_table(fmt, headers, rows, rng, title=OTHER_FORCE.names[0]), [], fmt)


def gen_random_numbers(ctx: Context, rng: random.Random) -> Doc:
    n = log_uniform(rng, 500, 20_000)
    nums = [str(rng.randint(100_000, 9_999_999)) for _ in range(n)]
    style = rng.choice(("lines", "comma", "csv"))
    if style == "lines":
        text = "\n".join(nums) + "\n"
    elif style == "comma":
        text = ",".join(nums) + "\n"
    else:
        text = "id,value\n" + "\n".join(f"{v},{rng.randint(0, 999)}" for v in nums) + "\n"
    return Doc("csv" if style == "csv" else "txt", text.encode(), [], f"numbers-{style}")


def gen_benign_prose(ctx: Context, rng: random.Random) -> Doc:
    s = rng.choice(ctx.common_staff)
    fake = ctx.fake(rng)
    name = f"{s.forename} {s.surname}"
    age = rng.randint(24, 80)
    what = rng.choice((
        "won first prize for a marrow at the village show",
        "has opened a bakery on the high street",
        "completed the marathon in under four hours",
        "was elected chair of the allotment society",
        "celebrated a hundred years of the family shop",
        "rescued a cat stuck on a garage roof",
    ))
    paras = [
        f"{fake.city()} — {name}, {age}, {what}.",
        ctx.prose(rng, rng.randint(3, 6)),
        f"\"{ctx.prose(rng, 2)}\" {s.forename} said.",
        ctx.prose(rng, rng.randint(3, 8)),
        f"{s.surname} added that {ctx.prose(rng, 1).lower()}",
    ]
    return Doc("txt", ("\n\n".join(paras) + "\n").encode("utf-8"), [], "news")


def background_log(rng: random.Random, nbytes: int) -> str:
    out, size = [], 0
    paths = ("/", "/index.html", "/api/v1/items", "/login", "/static/app.js", "/search?q=shoes", "/cart", "/health")
    agents = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.4.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)", "python-requests/2.31")
    kind = rng.random()
    t = 1_700_000_000 + rng.randint(0, 10_000_000)
    while size < nbytes:
        t += rng.randint(0, 5)
        if kind < 0.5:
            line = (
                f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} - - "
                f"[{time.strftime('%d/%b/%Y:%H:%M:%S', time.gmtime(t))} +0000] \"GET {rng.choice(paths)} HTTP/1.1\" "
                f"{rng.choice((200, 200, 200, 304, 404, 500))} {rng.randint(100, 2_000_000)} \"-\" \"{rng.choice(agents)}\""
            )
        else:
            line = (
                f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t))} host{rng.randint(1, 40)} "
                f"{rng.choice(('sshd', 'cron', 'kernel', 'app', 'nginx'))}[{rng.randint(100, 4_000_000)}]: "
                f"{rng.choice(('session opened', 'job finished', 'connection closed', 'request done', 'cache miss'))} "
                f"id={rng.randint(1, 99_999_999)} took={rng.randint(1, 9999)}ms"
            )
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) + "\n"


def background_code(rng: random.Random, nbytes: int) -> str:
    words = ("item", "user", "cache", "total", "count", "buffer", "handler", "config", "result", "value", "node", "queue")
    out, size = [], 0
    while size < nbytes:
        fn = f"{rng.choice(words)}_{rng.choice(words)}"
        body = [f"def {fn}({rng.choice(words)}, {rng.choice(words)}=None):"]
        for _ in range(rng.randint(2, 8)):
            body.append(f"    {rng.choice(words)} = {rng.choice(words)}.get({rng.choice(words)!r}, {rng.randint(0, 1_000_000)})")
        body.append(f"    return {rng.choice(words)}\n")
        block = "\n".join(body)
        out.append(block)
        size += len(block) + 1
    return "\n".join(out)


def background_config(rng: random.Random, nbytes: int) -> str:
    out, size = [], 0
    while size < nbytes:
        section = rng.choice(("server", "database", "cache", "logging", "worker", "metrics"))
        block = [f"[{section}.{rng.randint(1, 99)}]"]
        for key in rng.sample(("host", "port", "timeout", "retries", "pool_size", "level", "path", "enabled", "max_bytes"), 5):
            val = {
                "host": f"\"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}\"",
                "port": str(rng.randint(1024, 65535)), "timeout": str(rng.randint(1, 600)),
                "retries": str(rng.randint(0, 9)), "pool_size": str(rng.randint(1, 256)),
                "level": "\"info\"", "path": f"\"/var/lib/app{rng.randint(1, 9)}\"",
                "enabled": rng.choice(("true", "false")), "max_bytes": str(rng.randint(100_000, 99_999_999)),
            }[key]
            block.append(f"{key} = {val}")
        text = "\n".join(block) + "\n"
        out.append(text)
        size += len(text) + 1
    return "\n".join(out)


def background_prose(ctx: Context, rng: random.Random, nbytes: int) -> str:
    out, size = [], 0
    while size < nbytes:
        para = ctx.prose(rng, rng.randint(3, 9))
        out.append(para)
        size += len(para) + 2
    return "\n\n".join(out) + "\n"


def background_text(ctx: Context, rng: random.Random, nbytes: int) -> tuple[str, str]:
    kind = rng.choice(("log", "code", "config", "prose"))
    if kind == "log":
        return kind, background_log(rng, nbytes)
    if kind == "code":
        return kind, background_code(rng, nbytes)
    if kind == "config":
        return kind, background_config(rng, nbytes)
    return kind, background_prose(ctx, rng, nbytes)


def gen_background(ctx: Context, rng: random.Random) -> Doc:
    kind, text = background_text(ctx, rng, log_uniform(rng, 1_000, 300_000))
    ext = {"log": "log", "code": "py", "config": "toml", "prose": "txt"}[kind]
    return Doc(ext, text.encode("utf-8"), [], kind)


def gen_other_combolist(ctx: Context, rng: random.Random) -> Doc:
    lines = combo_lines(rng, log_uniform(rng, 200, 5000))
    return Doc("txt", ("\n".join(lines) + "\n").encode("utf-8"), [], "combolist")


# --------------------------------------------------------------------------- corpus

# class -> (generator, documents at scale 1, page)
CLASSES: dict[str, tuple[Callable[[Context, random.Random], Doc], int, bool]] = {
    "bulk_with_ids": (gen_bulk_with_ids, 40, True),
    "bulk_names_only": (gen_bulk_names_only, 25, True),
    "psni_style": (gen_psni_style, 20, True),
    "hidden_few": (gen_hidden_few, 30, True),
    "single_officer": (gen_single_officer, 40, True),
    "combolist_force": (gen_combolist_force, 20, True),
    "zipped_bulk": (gen_zipped_bulk, 15, True),
    "other_people_list": (gen_other_people_list, 40, False),
    "other_force_list": (gen_other_force_list, 25, False),
    "random_numbers": (gen_random_numbers, 25, False),
    "benign_prose": (gen_benign_prose, 40, False),
    "background": (gen_background, 100, False),
    "other_combolist": (gen_other_combolist, 20, False),
}
POSITIVE_CLASSES = tuple(c for c, (_, _, page) in CLASSES.items() if page)
BULK_CLASSES = ("bulk_with_ids", "bulk_names_only", "psni_style", "zipped_bulk")


def make_rosters(staff: int, seed: int) -> tuple[list[Staff], list[Staff]]:
    roster = make_roster(random.Random(f"{seed}:roster"), staff, FORCE)
    other = make_roster(random.Random(f"{seed}:other"), max(2000, staff // 10), OTHER_FORCE)
    return roster, other


def generate(out: Path, staff: int, seed: int, scale: float = 1.0, quiet: bool = False) -> dict:
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    roster, other = make_rosters(staff, seed)
    write_roster(out / "roster.csv", roster)
    write_roster(out / "other_force.csv", other)
    ctx = Context.build(roster, other, seed)
    made: list[tuple[str, Doc]] = []
    for cls, (gen, count, _page) in CLASSES.items():
        for i in range(max(1, round(count * scale))):
            made.append((cls, gen(ctx, random.Random(f"{seed}:{cls}:{i}"))))
    random.Random(f"{seed}:order").shuffle(made)
    docs_dir = out / "docs"
    if docs_dir.exists():
        for old in docs_dir.iterdir():
            old.unlink()
    docs_dir.mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    total_bytes = 0
    with open(out / "labels.jsonl", "w", encoding="utf-8") as labels:
        for n, (cls, doc) in enumerate(made):
            rel = f"docs/{n:04d}.{doc.ext}"
            (out / rel).write_bytes(doc.data)
            total_bytes += len(doc.data)
            counts[cls] = counts.get(cls, 0) + 1
            labels.write(json.dumps({
                "path": rel, "class": cls, "page": CLASSES[cls][2], "staff_ids": doc.staff_ids,
                "format": doc.fmt, "damage": list(doc.damage),
            }) + "\n")
    manifest = {
        "seed": seed, "staff": staff, "other_force_staff": len(other), "scale": scale,
        "force_domain": FORCE.domain, "force_names": list(FORCE.names),
        "other_force_domain": OTHER_FORCE.domain, "documents": len(made), "bytes": total_bytes,
        "classes": counts,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if not quiet:
        print(f"wrote {len(made)} documents ({total_bytes / 1e6:.1f} MB), roster of {staff}, "
              f"other force of {len(other)} to {out} in {time.perf_counter() - t0:.1f} s")
        for cls, c in counts.items():
            print(f"  {cls:<18} {c:>4}{'  (page)' if CLASSES[cls][2] else ''}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staff", type=int, default=47_000, help="roster size (default 47000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "corpus", help="output directory (default benchmarks/out/corpus)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the documents per class (default 1: about 440 documents)")
    args = parser.parse_args(argv)
    if args.staff < 100:
        parser.error("--staff must be at least 100")
    generate(args.out, args.staff, args.seed, args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
