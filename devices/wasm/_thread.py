"""Run synchronous WASM work from Trio: a worker thread behind a CapacityLimiter.

Threads cannot be cancelled: a call that is already running finishes (its fuel budget bounds it)
and its result is discarded if the caller was cancelled meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import trio

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


class WasmThreads:
    """Runs WASM calls in worker threads, at most ``limit`` at a time."""

    def __init__(self, limit: int = 2) -> None:
        self.limiter = trio.CapacityLimiter(limit)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``await threads.run(instance.call, "fac", 5.0)`` — ``fn(*args)`` in a worker thread."""
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)


async def run_wasm(fn: Callable[..., T], *args: object, limiter: trio.CapacityLimiter) -> T:
    """``fn(*args)`` in a worker thread, admitted by ``limiter``."""
    return await trio.to_thread.run_sync(fn, *args, limiter=limiter)
