"""Configuration: a TOML file (`LEAKWATCH_CONFIG`), overridden by `LEAKWATCH_*` variables.

Validated once at start; an error names the setting (`[roster] leaver_days: ...`).
Secrets are never values here, only paths to files (`key_file`, `telegram.token_file`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from leakwatch.errors import ConfigError

DEFAULT_SENSITIVE_UNITS = (
    "Counter Terrorism Command",
    "Counter Terrorism Policing",
    "Special Branch",
    "Specialist Protection",
    "Royalty and Specialist Protection",
    "Professional Standards",
    "Anti-Corruption",
    "Covert Operations",
    "Surveillance",
    "Undercover",
    "Witness Protection",
    "Intelligence",
)


@dataclass(frozen=True)
class RosterSettings:
    sensitive_units: tuple[str, ...] = DEFAULT_SENSITIVE_UNITS
    leaver_days: int = 365  # days a leaver stays watched after a --replace import drops them


@dataclass(frozen=True)
class MatchSettings:
    force_domains: tuple[str, ...] = ()  # e-mail domains of the force, e.g. "met.police.uk"
    force_names: tuple[str, ...] = ()  # "Metropolitan Police", "MPS": context vocabulary
    population_file: str | None = None  # name frequency table; default: the one shipped
    workers: int = 0  # scan processes; 0 = one per core


@dataclass(frozen=True)
class LimitSettings:
    max_document_mb: int = 64
    max_total_mb: int = 512
    max_ratio: float = 200.0
    max_members: int = 10_000
    max_depth: int = 4


@dataclass(frozen=True)
class Config:
    database_url: str | None = None
    key_file: str | None = None
    data_dir: str = ".leakwatch"  # embedded Postgres data and demo files when no database_url
    log_format: str = "auto"  # auto | json | text
    log_level: str = "info"
    roster: RosterSettings = field(default_factory=RosterSettings)
    match: MatchSettings = field(default_factory=MatchSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    sources: tuple[dict, ...] = ()
    telegram: dict | None = None


_SECTIONS = {"roster": RosterSettings, "match": MatchSettings, "limits": LimitSettings}


def _coerce(where: str, value: Any, default: Any, annotation: str) -> Any:
    """Convert a TOML or environment value to the type of the setting's default."""
    try:
        if "tuple" in annotation:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError("expected a list of strings")
            return tuple(value)
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError("expected true or false")
            return bool(value)
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, float) or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
                raise ValueError("expected a whole number")
            return int(value)
        if isinstance(default, float):
            return float(value)
        if value is not None and not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc} (got {type(value).__name__})") from None


def _build(cls, data: dict, prefix: str, env: dict[str, str], env_prefix: str):
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown setting (known: {', '.join(sorted(known))})")
    kwargs = {}
    for name, f in known.items():
        if f.name in _SECTIONS or name in ("sources", "telegram"):
            continue
        default = f.default
        env_name = f"{env_prefix}{name.upper()}"
        if env_name in env:
            kwargs[name] = _coerce(f"{env_name} (environment)", env[env_name], default, str(f.type))
        elif name in data:
            kwargs[name] = _coerce(f"{prefix}{name}", data[name], default, str(f.type))
    return cls(**kwargs)


def load_config(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Config:
    """Read and validate the configuration; `path` defaults to `$LEAKWATCH_CONFIG`."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("LEAKWATCH_CONFIG")
    data: dict = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"LEAKWATCH_CONFIG: {path}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    top = {k: v for k, v in data.items() if k not in _SECTIONS}
    sections = {}
    for name, cls in _SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"[{name}]: expected a table")
        sections[name] = _build(cls, raw, f"[{name}] ", env, f"LEAKWATCH_{name.upper()}_")
    sources = top.pop("sources", [])
    telegram = top.pop("telegram", None)
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise ConfigError("[[sources]]: expected an array of tables")
    names = set()
    for i, src in enumerate(sources):
        for req in ("kind", "name"):
            if not isinstance(src.get(req), str) or not src[req]:
                raise ConfigError(f"[[sources]] #{i + 1}: {req}: required string")
        if src["name"] in names:
            raise ConfigError(f"[[sources]] #{i + 1}: name {src['name']!r} used twice")
        names.add(src["name"])
    if telegram is not None and not isinstance(telegram, dict):
        raise ConfigError("[telegram]: expected a table")
    base = _build(Config, top, "", env, "LEAKWATCH_")
    database_url = env.get("DATABASE_URL") or base.database_url
    cfg = Config(
        database_url=database_url or None,
        key_file=base.key_file,
        data_dir=base.data_dir,
        log_format=base.log_format,
        log_level=base.log_level,
        sources=tuple(sources),
        telegram=telegram,
        **sections,
    )
    if cfg.log_format not in ("auto", "json", "text"):
        raise ConfigError(f"log_format: {cfg.log_format!r} is not one of auto, json, text")
    if cfg.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"log_level: {cfg.log_level!r} is not one of debug, info, warning, error")
    if cfg.roster.leaver_days < 0:
        raise ConfigError("[roster] leaver_days: must be 0 or more")
    if cfg.limits.max_depth < 0 or cfg.limits.max_ratio <= 1:
        raise ConfigError("[limits] max_depth must be >= 0 and max_ratio > 1")
    if cfg.match.population_file and not Path(cfg.match.population_file).is_file():
        raise ConfigError(f"[match] population_file: {cfg.match.population_file}: file not found")
    for d in cfg.match.force_domains:
        if "@" in d or "." not in d:
            raise ConfigError(f"[match] force_domains: {d!r} is not a domain name")
    return cfg
