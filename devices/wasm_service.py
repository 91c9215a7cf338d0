"""The ``"wasm"`` service: what ``wasm-64@1.0`` and ``json-iface@1.0`` share (spec §3, §5).

One ``WasmService`` per node holds the ``WasmRuntime`` (prepare/compile caches on disk, keyed by the
image id), the ``WasmThreads`` limiter every guest call goes through (WASM never runs on the Trio
loop), the per-process ``WasmLimits`` (fuel and memory cap from the ``[wasm]`` configuration) and
the table of *live* guests: per process id, keyed by the slot of the state each embodies (at most
``GUESTS_PER_PROCESS``; the others are rebuilt from snapshots by ``process@1.0``).

Images are found (``load_image``) as the process definition names them: a 43-character id read
from the store (its ``body``/``data``, or the data of an item uploaded with ``POST /tx``), else from
the ``"gateway-client"`` service (the item is verified against its id before use), or an inline
binary / message with a ``body``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, final

import trio

from devices._errors import BadRequest, NotFound, Unavailable
from devices.core import Message, Value
from devices.wasm import WasmError, WasmLimits, WasmModule, WasmRuntime
from devices.wasm._thread import WasmThreads

if TYPE_CHECKING:
    from collections.abc import Callable

    from devices._base import Context

T = TypeVar("T")
_ID_LEN = 43


GUESTS_PER_PROCESS = 2
"""Live guests kept per process: the newest state, plus one restored for reading an older slot."""


@final
class WasmService:
    """Runtime, thread limiter, limits and live guests for the WASM devices of one node."""

    def __init__(
        self,
        runtime: WasmRuntime,
        *,
        limits: WasmLimits | None = None,
        threads: int = 2,
    ) -> None:
        self.runtime = runtime
        self.limits = limits or WasmLimits()
        self.threads = WasmThreads(threads)
        self._live: dict[tuple[str, str], dict[int, Any]] = {}
        self._locks: dict[tuple[str, str], trio.Lock] = {}
        self._modules_lock = threading.Lock()

    @classmethod
    def create(
        cls,
        cache_dir: str | Path | None,
        *,
        fuel: int | None = 20_000_000_000,
        memory_bytes: int = 2 << 30,
        threads: int = 2,
    ) -> WasmService:
        """A service with its own runtime (compile cache under ``cache_dir``)."""
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        return cls(
            WasmRuntime(cache_dir), limits=WasmLimits(fuel=fuel, memory_bytes=memory_bytes), threads=threads
        )

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread admitted by the limiter."""
        return await self.threads.run(fn, *args)

    # -- live guests -----------------------------------------------------------------------
    def guest(self, kind: str, pid: str, slot: int) -> Any | None:
        """The live guest of ``pid`` whose state is the one after ``slot`` (-1: freshly spawned)."""
        return self._live.get((kind, pid), {}).get(slot)

    def put_guest(
        self, kind: str, pid: str, slot: int, guest: object, *, from_slot: int | None = None
    ) -> None:
        """Record ``guest`` as ``pid``'s state after ``slot``; ``from_slot`` is the entry it was
        advanced from (now gone). Keeps at most ``GUESTS_PER_PROCESS``, closing the oldest."""
        table = self._live.setdefault((kind, pid), {})
        if from_slot is not None and table.get(from_slot) is guest:
            del table[from_slot]
        old = table.get(slot)
        table[slot] = guest
        if old is not None and old is not guest:
            _close(old)
        while len(table) > GUESTS_PER_PROCESS:
            _close(table.pop(min(s for s in table if s != slot)))

    def newest_slot(self, kind: str, pid: str) -> int | None:
        table = self._live.get((kind, pid))
        return max(table) if table else None

    def newest_guest(self, kind: str, pid: str) -> Any | None:
        slot = self.newest_slot(kind, pid)
        return None if slot is None else self._live[(kind, pid)][slot]

    def drop_guests(self, kind: str | None = None, pid: str | None = None) -> None:
        """Forget live guests (all, or those of ``kind``/``pid``); they are rebuilt from snapshots."""
        for key in [k for k in self._live if (kind is None or k[0] == kind) and (pid is None or k[1] == pid)]:
            for g in self._live.pop(key).values():
                _close(g)

    def guest_count(self) -> int:
        return sum(len(t) for t in self._live.values())

    def lock(self, kind: str, pid: str) -> trio.Lock:
        """The lock serialising guest calls of one process."""
        return self._locks.setdefault((kind, pid), trio.Lock())

    # -- images ----------------------------------------------------------------------------
    async def load_image(self, ctx: Context, ref: Value | None, fallback: Value | None = None) -> WasmModule:
        """The compiled module for an image reference (id, inline binary or message with ``body``).

        Raises:
            NotFound: the id is neither in the store nor on a gateway.
            BadRequest: no usable image, or the bytes are not a loadable WASM module.
            Unavailable: the gateways could not be reached.
        """
        image_id: str | None = None
        data: bytes | None = None
        if ref is None:
            ref = fallback
        if isinstance(ref, bytes) and len(ref) == _ID_LEN and not ref.startswith(b"\x00asm"):
            image_id = ref.decode("ascii", "replace")
            data = await self._fetch(ctx, image_id)
        elif isinstance(ref, bytes):
            data = ref
        elif isinstance(ref, Message):
            body = ref.find("body")
            if body is None:
                body = ref.find("data")
            data = body if isinstance(body, bytes) else None
        if not data:
            raise BadRequest("No viable image found in image (an id, a binary, or a message with a body).")
        try:
            return await self.run(self._load, data, image_id)
        except WasmError as exc:
            raise BadRequest(f"the image cannot be loaded: {exc.reason}") from exc

    def _load(self, data: bytes, image_id: str | None) -> WasmModule:
        with self._modules_lock:  # one compile per image even with concurrent first requests
            return self.runtime.load(data, image_id=image_id)

    async def _fetch(self, ctx: Context, image_id: str) -> bytes:
        stored = ctx.store.read_message(image_id)
        if stored is not None:
            for key in ("body", "data"):
                value = stored.find(key)
                if isinstance(value, bytes) and value:
                    return value
            raise BadRequest(f"image {image_id} has no body")
        read_raw = getattr(ctx.store, "read_raw", None)
        raw = read_raw(image_id) if read_raw is not None else None
        if raw is not None:  # an item uploaded to this node (POST /tx): verified on upload
            return self._item_data(raw, image_id)
        gateway: Any = ctx.services.get("gateway-client")
        if gateway is None:
            raise NotFound(f"image {image_id} is not in the store and no gateway is configured")
        from devices.gateway import GatewayError

        try:
            loaded = await gateway.load_item(image_id)
        except GatewayError as exc:
            status = 404 if type(exc).__name__ == "NotFoundOnGateways" else 503
            cls = NotFound if status == 404 else Unavailable
            raise cls(f"image {image_id}: {exc}") from exc
        return self._item_data(loaded.raw, image_id)

    @staticmethod
    def _item_data(raw: bytes, image_id: str) -> bytes:
        from devices.core import CoreError
        from devices.core.ans104 import DataItem

        try:
            item = DataItem.parse(raw)
        except CoreError as exc:
            raise BadRequest(f"image {image_id} is not a data item: {exc.reason}") from exc
        if item.id != image_id:
            raise BadRequest(f"item {item.id} was found for image {image_id}")
        return bytes(item.data)


def _close(guest: object) -> None:
    close = getattr(guest, "close", None)
    if callable(close):
        close()
