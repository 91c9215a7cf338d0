"""Scheduling: the durable assignment log and the scheduler service.

Theory of operation:

1. ``AssignmentLog`` (``_log``) stores assignments in LMDB sub-databases of an environment the
   node opens. Per process, slots are contiguous from 0 and chained (``sha256(prev ‖ id)``); a
   batch is one durable transaction; heads are read back after a restart.
2. ``Scheduler`` (``_scheduler``) is the one writer: callers ``await scheduler.schedule(pid, msg)``
   and get the ``Assignment`` only after it is durable. It is a trio service started with
   ``await nursery.start(scheduler.run)``.
3. ``formats`` render schedules as HyperBEAM messages or legacy ``application/aos-2`` JSON.
4. ``StateCache`` (``_state``) keeps computed process states: the live one in memory, results of
   every slot and full snapshots every K slots in LMDB.

Errors are the ``devices`` tree (``DeviceError`` and children) plus ``StorageCorrupt`` (500).

Wiring (what the node does)::

    env = <the store's lmdb.Environment, or lmdb.open(dir, max_dbs>=8, sync=True, metasync=True)>
    scheduler = Scheduler.for_wallet(AssignmentLog(env), node_wallet)
    await nursery.start(scheduler.run)            # before serving requests
    services = {"scheduler": scheduler,
                "process-cache": StateCache(env, snapshot_every=K),
                "peer": <optional async (method, url, path, Message) -> Message>}
    devices: scheduler_device.DEVICE, process.DEVICE, stack.DEVICE, push.DEVICE (+ test_exec.DEVICE)
"""

from __future__ import annotations

from ._assignment import DEBUG_BLOCK as DEBUG_BLOCK
from ._assignment import ZERO_ID as ZERO_ID
from ._assignment import Assignment as Assignment
from ._assignment import BlockInfo as BlockInfo
from ._assignment import ChainHead as ChainHead
from ._assignment import MessageOps as MessageOps
from ._assignment import build_assignment as build_assignment
from ._chain import legacy_first_hash_chain as legacy_first_hash_chain
from ._chain import legacy_next_hash_chain as legacy_next_hash_chain
from ._chain import next_hash_chain as next_hash_chain
from ._chain import next_hash_chain_text as next_hash_chain_text
from ._codec import StorageCorrupt as StorageCorrupt
from ._codec import decode_message as decode_message
from ._codec import encode_value as encode_value
from ._formats import json_struct as json_struct
from ._formats import schedule_aos2 as schedule_aos2
from ._formats import schedule_message as schedule_message
from ._formats import slot_message as slot_message
from ._log import AssignmentLog as AssignmentLog
from ._scheduler import Scheduler as Scheduler
from ._scheduler import is_process as is_process
from ._state import StateCache as StateCache

__all__ = [
    "DEBUG_BLOCK",
    "ZERO_ID",
    "Assignment",
    "AssignmentLog",
    "BlockInfo",
    "ChainHead",
    "MessageOps",
    "Scheduler",
    "StateCache",
    "StorageCorrupt",
    "build_assignment",
    "decode_message",
    "encode_value",
    "is_process",
    "json_struct",
    "legacy_first_hash_chain",
    "legacy_next_hash_chain",
    "next_hash_chain",
    "next_hash_chain_text",
    "schedule_aos2",
    "schedule_message",
    "slot_message",
]
