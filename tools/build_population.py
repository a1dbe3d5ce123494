#!/usr/bin/env python3
"""Build leakwatch/data/population.tsv.gz, the name population reference.

    .venv/bin/python tools/build_population.py [--out PATH]

The engine scores a matched name by how common it is: a hit on a rare surname is
strong evidence, a hit on a common one weak. This tool writes the frequency of every
forename and surname under the synthetic population defined once in
`benchmarks/names.py` (a mixture of Faker locales roughly like the UK's):

    kind<TAB>name<TAB>freq

kind is `forename` or `surname`; name is `leakwatch.normalise.name_key(raw)`; freq is
the probability that a random person of the mixture has that forename (resp.
surname): the sum over locales of locale weight x within-locale probability, with
forenames and surnames taken half from the male and half from the female lists.
Names that fold to the same key are summed. Lines are sorted by freq, descending.
The output is deterministic (gzip mtime 0), so rebuilding gives identical bytes.

A force can supply its own table in the same format instead (see
`leakwatch.population.load_population`).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.names import MIXTURE, locale_lists  # noqa: E402  (the one mixture)
from leakwatch.normalise import name_key  # noqa: E402

DEFAULT_OUT = ROOT / "leakwatch" / "data" / "population.tsv.gz"


def frequencies(mixture: dict[str, float] = MIXTURE) -> dict[str, dict[str, float]]:
    """{"forename": {key: freq}, "surname": {key: freq}} under the mixture."""
    total = sum(mixture.values())
    out: dict[str, dict[str, float]] = {"forename": {}, "surname": {}}
    for locale, weight in mixture.items():
        lists = locale_lists(locale)
        for role, names in lists.items():
            kind = role.split("_")[0]  # forename_male -> forename
            share = (weight / total) * 0.5  # half male, half female
            table = out[kind]
            for raw, p in zip(names.names, names.probs):
                key = name_key(raw)
                if key:
                    table[key] = table.get(key, 0.0) + share * p
    return out


def render(freqs: dict[str, dict[str, float]]) -> str:
    rows = [(f, kind, key) for kind, table in freqs.items() for key, f in table.items()]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    return "".join(f"{kind}\t{key}\t{f:.6g}\n" for f, kind, key in rows)


def write(text: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    out.write_bytes(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the name population reference (kind, name_key, freq) from "
        "Faker's person providers, mixed as in benchmarks/names.py.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output .tsv.gz (default {DEFAULT_OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    freqs = frequencies()
    write(render(freqs), args.out)
    for kind, table in freqs.items():
        mass = sum(table.values())
        top = sorted(table.items(), key=lambda kv: -kv[1])[:5]
        print(
            f"{kind}: {len(table)} names, total probability {mass:.4f}, "
            f"smallest {min(table.values()):.3g}; top {', '.join(f'{k} {v:.4f}' for k, v in top)}"
        )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
