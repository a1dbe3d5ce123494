"""Find matchers and sources through their entry point groups: the one readable registry."""

from __future__ import annotations

from importlib.metadata import entry_points

from leakwatch.errors import ConfigError
from leakwatch.models import SourceSettings
from leakwatch.protocols import Matcher, PushSource, Source

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


_COMMON = {"kind", "name", "base_url", "interval", "timeout", "max_bytes", "silent_after", "enabled"}


def source_settings(raw: dict, where: str) -> SourceSettings:
    """Validate the common settings of one `[[sources]]` table; the rest goes to `options`."""
    def number(key: str, default, minimum: float):
        value = raw.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {key}: expected a number (got {type(value).__name__})")
        if value < minimum:
            raise ConfigError(f"{where}: {key}: must be at least {minimum}")
        return value

    base_url = raw.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}: base_url: expected an http:// or https:// URL")
    return SourceSettings(
        name=raw["name"], kind=raw["kind"], base_url=base_url.rstrip("/") if base_url else None,
        interval=float(number("interval", 60, 0.05)), timeout=float(number("timeout", 30, 0.1)),
        max_bytes=int(number("max_bytes", 32 * 2**20, 1024)),
        silent_after=number("silent_after", None, 1),
        options={k: v for k, v in raw.items() if k not in _COMMON},
    )


def load_sources(raw_sources, *, enabled_only: bool = True) -> list:
    """Instantiate every configured source; errors name the source and the setting."""
    found = {ep.name: ep for ep in entry_points(group=SOURCES_GROUP)}
    out = []
    for raw in raw_sources:
        where = f"[[sources]] {raw.get('name', '?')}"
        for req in ("kind", "name"):
            if not isinstance(raw.get(req), str) or not raw[req]:
                raise ConfigError(f"{where}: {req}: required string")
        if enabled_only and raw.get("enabled", True) is False:
            continue
        if raw["kind"] not in found:
            raise ConfigError(f"{where}: kind {raw['kind']!r} is not a registered source "
                              f"(known: {', '.join(sorted(found)) or 'none'})")
        settings = source_settings(raw, where)
        cls = found[raw["kind"]].load()
        try:
            obj = cls(settings)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if not isinstance(obj, (Source, PushSource)):
            raise ConfigError(f"{where}: {raw['kind']!r} implements neither Source nor PushSource")
        out.append(obj)
    return out
