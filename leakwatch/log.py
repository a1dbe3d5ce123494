"""Logging: events with fields, JSON when not on a terminal; never document text or roster values."""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__  # the type only: messages may quote input
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        fields = getattr(record, "fields", None)
        if fields:
            msg += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{record.levelname.lower():7} {msg}"


THIRD_PARTY = ("asyncpg", "aiohttp", "asyncio")


def setup_logging(fmt: str = "auto", level: str = "info", stream=None) -> None:
    """Commands log to standard error (their output is on standard output); the daemon's roles
    log to standard output, where a container runtime collects them."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger("leakwatch")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # Libraries that log by themselves (asyncpg's pool retrying while Postgres is away, aiohttp,
    # asyncio) write through the same handler, warnings and up: one format on the stream, and
    # their tracebacks reduced to the exception type like ours.
    for name in THIRD_PARTY:
        lib = logging.getLogger(name)
        lib.handlers[:] = [handler]
        lib.setLevel(logging.WARNING)
        lib.propagate = False


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields) -> None:
    """Log `name` with structured fields: `doc_matched source=... staff=3 severity=high`."""
    logger.log(level, name, extra={"fields": fields})
