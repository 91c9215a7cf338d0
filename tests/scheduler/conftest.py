from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from devices.scheduler import AssignmentLog, Scheduler
from tests.scheduler._support import NODE_ADDR, fake_ops, open_env

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import lmdb


@pytest.fixture
def env(tmp_path: Path) -> Iterator[lmdb.Environment]:
    e = open_env(tmp_path / "db")
    yield e
    e.close()


@pytest.fixture
async def scheduler(env: lmdb.Environment) -> AsyncIterator[Scheduler]:
    s = Scheduler(AssignmentLog(env), fake_ops(), address=NODE_ADDR, clock_ms=lambda: 1_700_000_000_000)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        yield s
        nursery.cancel_scope.cancel()
