"""Find matchers and sources through their entry point groups: the one readable registry."""

from __future__ import annotations

from importlib.metadata import entry_points

from leakwatch.errors import ConfigError
from leakwatch.protocols import Matcher

MATCHERS_GROUP = "leakwatch.matchers"
SOURCES_GROUP = "leakwatch.sources"


def load_matchers(names: list[str] | None = None) -> list[Matcher]:
    """Instantiate every registered matcher (or those named), sorted by name."""
    found = {ep.name: ep for ep in entry_points(group=MATCHERS_GROUP)}
    if not found:
        raise ConfigError(f"no matchers registered in entry point group {MATCHERS_GROUP}: "
                          "is leakwatch installed (pip install -e .)?")
    if names:
        unknown = sorted(set(names) - set(found))
        if unknown:
            raise ConfigError(f"unknown matcher(s): {', '.join(unknown)} (known: {', '.join(sorted(found))})")
    out = []
    for name in sorted(names or found):
        obj = found[name].load()()
        if not isinstance(obj, Matcher):
            raise ConfigError(f"matcher {name!r} does not implement leakwatch.protocols.Matcher")
        out.append(obj)
    return out
