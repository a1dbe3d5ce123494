#!/usr/bin/env python3
"""Build leakwatch/data/population.tsv.gz, the name population reference.

    .venv/bin/python tools/build_population.py [--out PATH]

The engine scores a matched name by how common it is: a hit on a rare surname is
strong evidence, a hit on a common one weak. This tool writes the frequency of every
forename and surname under the synthetic population defined once in
`benchmarks/names.py` (a mixture of Faker locales roughly like the UK's):

    origin<TAB>LOCALE<TAB>-<TAB>weight
    kind<TAB>LOCALE<TAB>name<TAB>probability within that origin

kind is `forename` or `surname`; name is `leakwatch.normalise.name_key(raw)`. Keeping
each origin's names apart lets the engine compute the chance of a whole name as
sum over origins of weight x P(forename | origin) x P(surname | origin): forenames and
surnames are strongly correlated in any real population, and multiplying overall
frequencies would make a name common in a small community look vanishingly rare.
Forenames and surnames are taken half from the male and half from the female lists;
names that fold to the same key are summed.
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


def by_origin(mixture: dict[str, float] = MIXTURE) -> tuple[dict[str, float], dict[tuple[str, str], dict[str, float]]]:
    """(origin weights, {(kind, origin): {key: probability within that origin}})."""
    total = sum(mixture.values())
    weights = {loc: w / total for loc, w in mixture.items()}
    out: dict[tuple[str, str], dict[str, float]] = {}
    for locale in mixture:
        for role, names in locale_lists(locale).items():
            kind = role.split("_")[0]  # forename_male -> forename
            table = out.setdefault((kind, locale), {})
            for raw, p in zip(names.names, names.probs):
                key = name_key(raw)
                if key:
                    table[key] = table.get(key, 0.0) + 0.5 * p  # half male, half female
    return weights, out


def frequencies(mixture: dict[str, float] = MIXTURE) -> dict[str, dict[str, float]]:
    """{"forename": {key: freq}, "surname": {key: freq}} over the whole mixture."""
    weights, tables = by_origin(mixture)
    out: dict[str, dict[str, float]] = {"forename": {}, "surname": {}}
    for (kind, origin), table in tables.items():
        for key, p in table.items():
            out[kind][key] = out[kind].get(key, 0.0) + weights[origin] * p
    return out


def render(mixture: dict[str, float] = MIXTURE) -> str:
    """Four columns: origin lines (weight), then names with their probability within an origin."""
    weights, tables = by_origin(mixture)
    lines = ["# leakwatch name population: kind<TAB>origin<TAB>name<TAB>probability\n"]
    lines += [f"origin\t{o}\t-\t{w:.6g}\n" for o, w in sorted(weights.items(), key=lambda kv: -kv[1])]
    rows = [(p, kind, origin, key) for (kind, origin), table in tables.items() for key, p in table.items()]
    rows.sort(key=lambda r: (r[1], r[2], -r[0], r[3]))
    lines += [f"{kind}\t{origin}\t{key}\t{p:.6g}\n" for p, kind, origin, key in rows]
    return "".join(lines)


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
    write(render(), args.out)
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
