"""How devices use the node's ``results`` service: results that trusted peers attest to (spec: p2p).

The node offers ``ctx.services["results"]`` (``node.peering``) with
``async lookup(process, slot) -> Converged | None`` (``.message``, ``.attested_by``) and
``async announce(process, slot, result, hashpath, device_stack) -> result id``. These helpers keep
the calls in ``process@1.0`` to one line each and do nothing on a node without the service.

* ``attested_state(ctx, process, slot)`` — the state at ``slot`` that enough trusted peers attest
  to, marked ``attested-by`` (their addresses), or None: compute it yourself.
* ``attest_state(ctx, process, slot, state, hashpath, definition, exec_dev)`` — attest a state this
  node computed; ``hashpath`` is the slot's assignment hash chain (it pins the inputs).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from devices.core import CoreError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devices._base import Context
    from devices.core import Message

log = logging.getLogger(__name__)


class ResultsService(Protocol):
    async def lookup(self, process: str, slot: int) -> Any: ...

    async def announce(
        self, process: str, slot: int, result: Message, hashpath: str, device_stack: Sequence[str]
    ) -> str: ...


def _service(ctx: Context) -> ResultsService | None:
    service: ResultsService | None = ctx.services.get("results")
    return service


async def attested_state(ctx: Context, process: str, slot: int) -> Message | None:
    service = _service(ctx)
    if service is None:
        return None
    found = await service.lookup(process, slot)
    if found is None:
        return None
    message: Message = found.message
    return message.set("attested-by", tuple(a.encode() for a in found.attested_by))


async def attest_state(
    ctx: Context, process: str, slot: int, state: Message, hashpath: str, definition: Message, exec_dev: str
) -> None:
    service = _service(ctx)
    if service is None:
        return
    stack = definition.get("device-stack")
    names = [exec_dev] + (
        [v.decode() if isinstance(v, bytes) else str(v) for v in stack] if isinstance(stack, tuple) else []
    )
    try:
        await service.announce(process, slot, state, hashpath, names)
    except CoreError as exc:  # a state the codecs cannot id is simply not attested
        log.warning("cannot attest slot %d of %s: %s", slot, process, exc)
