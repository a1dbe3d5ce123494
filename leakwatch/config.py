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
    suppliers: tuple[str, ...] = ()  # supplier company names, matched fuzzily on ransomware trackers
    population_file: str | None = None  # name frequency table; default: the one shipped
    workers: int = 0  # scan processes; 0 = one per core
    index_cache: bool = True  # keep the sorted hashed index in data_dir/index and map it at start


@dataclass(frozen=True)
class LimitSettings:
    max_document_mb: int = 64
    max_total_mb: int = 512
    max_ratio: float = 200.0
    max_members: int = 10_000
    max_depth: int = 4


@dataclass(frozen=True)
class PipelineSettings:
    match_workers: int = 0  # match processes; 0 = one per core
    batch: int = 4  # jobs one worker claims at a time (per process)
    lease_seconds: float = 120.0  # a claimed job returns to the queue if not finished or renewed by then
    max_attempts: int = 5  # then the job is dead (kept, visible, retried by `leakwatch match --retry-dead`)
    retry_delay: float = 30.0  # seconds before a failed job is tried again (doubles per attempt)
    retention_days: int = 30  # bodies of documents with findings kept this long; others dropped once matched
    idle_poll: float = 1.0  # seconds between claims when the queue is empty (NOTIFY wakes workers sooner)
    backlog_alert: int = 1000  # queued jobs beyond which operators are alerted
    source_failures_alert: int = 5  # consecutive failures of a source before operators are alerted
    per_host: int = 4  # HTTP requests in flight to one host
    shutdown_grace: float = 20.0  # seconds in-flight work may take to finish on SIGTERM before release


@dataclass(frozen=True)
class WebSettings:
    listen: str = "127.0.0.1:8080"  # host:port of /healthz, /readyz, /metrics and /push/*
    public_url: str = ""  # how analysts reach the web UI, for links in pages


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
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    web: WebSettings = field(default_factory=WebSettings)
    sources: tuple[dict, ...] = ()
    telegram: dict | None = None  # validated by the alerts module at start
    alerts: dict | None = None  # [alerts]: escalation, webhook; validated by the alerts module


_SECTIONS = {"roster": RosterSettings, "match": MatchSettings, "limits": LimitSettings,
             "pipeline": PipelineSettings, "web": WebSettings}


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
        if f.name in _SECTIONS or name in ("sources", "telegram", "alerts"):
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
    alerts = top.pop("alerts", None)
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
    if alerts is not None and not isinstance(alerts, dict):
        raise ConfigError("[alerts]: expected a table")
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
        alerts=alerts,
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
    p = cfg.pipeline
    for name in ("batch", "max_attempts", "per_host"):
        if getattr(p, name) < 1:
            raise ConfigError(f"[pipeline] {name}: must be at least 1")
    for name in ("lease_seconds", "idle_poll", "shutdown_grace"):
        if getattr(p, name) <= 0:
            raise ConfigError(f"[pipeline] {name}: must be above 0")
    if p.retention_days < 0 or p.match_workers < 0 or p.retry_delay < 0:
        raise ConfigError("[pipeline] retention_days, match_workers and retry_delay must be 0 or more")
    host, _, port = cfg.web.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"[web] listen: {cfg.web.listen!r} is not host:port")
    for d in cfg.match.force_domains:
        if "@" in d or "." not in d:
            raise ConfigError(f"[match] force_domains: {d!r} is not a domain name")
    return cfg
