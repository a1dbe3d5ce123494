"""Synthetic staff for tests: made-up names, random unique numbers. Never real people."""

from __future__ import annotations

import random
from pathlib import Path

from leakwatch.models import RosterRow

FORENAMES = ["Alys", "Bronwen", "Caradoc", "Delyth", "Emrys", "Ffion", "Gethin", "Heledd", "Idris",
             "Jestyn", "Ketura", "Llewela", "Meirion", "Nesta", "Owain", "Peredur", "Rhodri", "Sioned",
             "Tegwen", "Ynyr", "Zillah", "Marisol", "Oskar", "Ingrid", "Tadeusz", "Ottilie", "Ruairi"]
SURNAMES = ["Penhallow", "Trevithick", "Quiller", "Nancarrow", "Polglase", "Tregarthen", "Vosper",
            "Chenoweth", "Bolitho", "Kitto", "Rosewarne", "Pengelly", "Jelbert", "Carbis", "Hocking",
            "Treloar", "Angwin", "Bawden", "Curnow", "Eddy", "Glasson", "Hosken", "Kemp", "Lanyon"]


_SYLLABLES = ["tre", "pen", "pol", "gar", "wick", "nan", "ros", "kel", "bor", "lan", "mor", "ven", "dar",
              "hal", "quin", "sel", "tav", "ith", "ow", "ack", "emb", "ul", "yar", "zel"]


def _made_up_surname(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).title()


def make_rows(n: int, seed: int = 7) -> list[RosterRow]:
    """Generated staff: made-up names, random unique numbers. Never real people."""
    rng = random.Random(seed)
    pays = rng.sample(range(200000, 999999), n)
    warrants = rng.sample(range(1000000, 9999999), n)
    rows = []
    for i in range(n):
        fn = rng.choice(FORENAMES)
        sn = rng.choice(SURNAMES) if i < 300 else _made_up_surname(rng)
        rows.append(RosterRow(line=i + 2, staff_id=f"T{i:06d}", forenames=fn, surname=sn,
                              pay_number=str(pays[i]), warrant_number=str(warrants[i]),
                              email=f"{fn}.{sn}@force.example.police.uk".lower(),
                              rank=rng.choice(["PC", "PS", "DC", "Insp"]),
                              unit=rng.choice(["Response", "Custody", "Counter Terrorism Command"]), vetting="NPPV2"))
    return rows


def write_roster_csv(path: Path, rows: list[RosterRow]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["staff_id", "forenames", "surname", "pay_number", "warrant_number", "email", "rank", "unit",
                    "vetting"])
        for r in rows:
            w.writerow([r.staff_id, r.forenames, r.surname, r.pay_number, r.warrant_number, r.email, r.rank,
                        r.unit, r.vetting])
    return path


def population_sampler(seed: int):
    """(forename, surname) drawn from the shipped population table: realistic name collisions."""
    from leakwatch.population import load_population

    draw = load_population().sampler(random.Random(seed))

    def person() -> tuple[str, str]:
        fn, sn = draw()
        return fn.title(), sn.title()

    return person


def population_rows(n: int, seed: int = 11) -> list[RosterRow]:
    """Staff whose names follow the population's frequencies (so common names are common)."""
    rng = random.Random(seed)
    person = population_sampler(seed + 1)
    pays = rng.sample(range(100000, 999999), n)
    warrants = rng.sample(range(1000000, 9999999), n)
    rows = []
    for i in range(n):
        fn, sn = person()
        rows.append(RosterRow(line=i + 2, staff_id=f"P{i:06d}", forenames=fn, surname=sn,
                              pay_number=str(pays[i]), warrant_number=str(warrants[i]),
                              email=f"{fn}.{sn}{i}@force.example.police.uk".lower().replace(" ", ""),
                              rank=rng.choice(["PC", "PS", "DC", "Insp"]),
                              unit=rng.choice(["Response", "Custody", "Roads Policing"]), vetting="NPPV2"))
    return rows


def prose(*lines: str, source: str = "paste.txt"):
    """A document of prose lines, one record each."""
    from leakwatch.models import Document, Record

    recs = [Record(text=line, where=f"line {i + 1}") for i, line in enumerate(lines)]
    return Document(source=source, kind="text", records=recs, size=sum(len(x) + 1 for x in lines))


def table(headers: list[str], rows: list[list[str]], source: str = "list.csv"):
    """A document holding one table; each row a record with cells and headers."""
    from leakwatch.models import Document, Record

    recs = [Record(text=" | ".join(r), where=f"line {i + 2}", cells=tuple(r), headers=tuple(headers), table=0)
            for i, r in enumerate(rows)]
    return Document(source=source, kind="csv", records=recs, size=sum(len(x.text) + 1 for x in recs))
