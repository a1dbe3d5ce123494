"""An embedded PostgreSQL (the `pgserver` package ships the binaries) for the demo and laptops."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger("leakwatch.db")

DATABASE = "leakwatch"


def embedded_dsn(data_dir: str | Path, database: str = DATABASE) -> str:
    """Start (or reuse) a server whose data lives in `data_dir/pg`; return a DSN for `database`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        import pgserver

        pgdata = Path(data_dir).resolve() / "pg"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "1 row" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
        log.info("embedded_postgres data=%s", pgdata)
        return server.get_uri(database)
