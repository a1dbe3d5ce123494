"""Small asyncio helpers shared by the long-running roles (collect, match, alerts)."""

from __future__ import annotations

import asyncio


async def sleep_or_stop(stop: asyncio.Event, seconds: float, *wake: asyncio.Event) -> None:
    """Sleep until `seconds` pass, `stop` is set or any `wake` event is set, whichever comes first.

    It does not clear the events and does not say which one ended the sleep: callers look.
    """
    waiters = [asyncio.ensure_future(e.wait()) for e in (stop, *wake)]
    try:
        await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
