"""Option checks shared by the sources: each raises ValueError naming the option.

A source validates its `[[sources]]` options in `__init__` with these, so a typo or a wrong
type stops the daemon at start with a message such as `max_pages: expected an integer of at
least 1`. This module is not a source and registers no entry point.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def unknown_options(options: dict, known: set[str]) -> None:
    """ValueError naming the first option not in `known` (and listing those that are)."""
    extra = sorted(set(options) - known)
    if extra:
        raise ValueError(f"{extra[0]}: unknown option (known: {', '.join(sorted(known))})")


def bool_option(options: dict, key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key}: expected true or false (got {type(value).__name__})")
    return value


def number_option(options: dict, key: str, default, *, minimum: float, maximum: float | None = None,
                  integer: bool = False, expected: str | None = None):
    """`options[key]` (or `default`), a number (an int when `integer`) within the bounds.

    The error names the type or the bounds that failed; a caller that gives `expected` (say
    "a number of seconds, 0 or more") gets `{key}: expected {expected}` for every failure instead.
    """
    value = options.get(key, default)
    wrong_type = isinstance(value, bool) or not isinstance(value, int if integer else (int, float))
    out_of_bounds = not wrong_type and (value < minimum or (maximum is not None and value > maximum))
    if expected is not None and (wrong_type or out_of_bounds):
        raise ValueError(f"{key}: expected {expected}")
    if wrong_type:
        raise ValueError(f"{key}: expected {'an integer' if integer else 'a number'} (got {type(value).__name__})")
    if out_of_bounds:
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{key}: must be {bounds}")
    return value


def url_list_option(options: dict, key: str, base_url: str | None, default: list[str] | None) -> list[str]:
    """A list of http(s) URLs, each absolute or relative to base_url; ValueError naming `key`."""
    value = options.get(key, default)
    if value is None:
        raise ValueError(f"{key}: required (a list of feed URLs{', or set base_url' if default is not None else ''})")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key}: expected a non-empty list of URLs")
    out = []
    for raw in value:
        raw = raw.strip()
        if raw.startswith(("http://", "https://")):
            url = raw
        elif base_url:
            url = base_url.rstrip("/") + "/" + raw.lstrip("/")
        else:
            raise ValueError(f"{key}: {raw!r} is not an http:// or https:// URL (and no base_url to join it to)")
        if not urlsplit(url).hostname:
            raise ValueError(f"{key}: {raw!r} has no host")
        if url not in out:
            out.append(url)
    return out


def read_secret(path_value, option: str, *, what: str = "token", min_length: int = 0) -> str:
    """The one-line secret (a `what`: token, key) in the file named by option `option`.

    Errors name the option and the file, never the file's content.
    """
    if not isinstance(path_value, str) or not path_value:
        raise ValueError(f"{option}: expected a file path")
    path = Path(path_value)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(f"{option}: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{option}: cannot read {path} ({type(exc).__name__})") from None
    if not text:
        raise ValueError(f"{option}: file is empty: {path}")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"{option}: the {what} must be one line without spaces: {path}")
    if len(text) < min_length:
        raise ValueError(f"{option}: the {what} is too short (at least {min_length} characters): {path}")
    return text


def parse_time(value) -> "datetime | None":
    """An ISO-8601 time from an upstream's JSON (naive means UTC); None when absent or unreadable."""
    from datetime import datetime, timezone

    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def iso(when) -> str:
    """`2026-11-26T09:30:00Z`, the form GitHub and HIBP use."""
    from datetime import timezone

    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
