"""Alerts and their outbox: written in the transaction that records a finding.

`on_finding(conn, finding_id)` is called by the match stage inside the transaction that
inserts the finding (leakwatch.db.pipeline.finish_job).
"""

from __future__ import annotations


async def on_finding(conn, finding_id: int) -> None:
    """Create or update the alert for a finding at or above the page threshold (not built yet)."""
    return None
