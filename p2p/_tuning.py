"""Two per-message costs of py-libp2p 0.8.1 (pinned) that ``Libp2pNode`` takes off, per instance.

Measured with two nodes in one process gossiping 1.8 KiB messages at 200/s: 3.7 to 4.3 ms of CPU per
message (both ends together) with the library's defaults, 2.7 to 2.8 ms with both changes.

1. **Yamux window updates** (``batch_window_updates``): the library's stream sends a WINDOW_UPDATE frame
   on nearly every ``read`` once its window is partly used ("partial slack"), and pubsub reads every
   RPC in several small reads (the varint prefix, then the body). Each such frame costs an encryption,
   a send and, on the other side, a receive, a decryption and a dispatch: about a dozen frames per
   gossip message. Our streams credit the window back go-yamux's way instead: once at least half of it
   has been consumed. That is still the yamux protocol (the receiver decides when to send updates);
   the sender can never stall, because an update is due as soon as half the window is read, and a
   sender with less than half outstanding still has window left.
2. **Advertised addresses** (``cache_addresses``): every gossip publish and forward attaches the
   host's signed peer record, and to decide whether that record is current the library rebuilds
   ``host.get_addrs()`` (multiaddr parsing and base58 of the peer id) each time. The host's list is
   cached for ``ttl_s``; an empty list (before listening) is never cached.

Nothing here patches a libp2p class or module: every override is set on an instance (the host, its
connection upgrader, each yamux connection and stream), so the raw py-libp2p reference in ``bench/``
stays unmodified. Both rely on private attributes of the pinned version (``window_lock``, ``recv_window``,
``target_recv_window``, ``_grow_to_delta``, ``_apply_autotune_epoch``, ``conn.stream_buffers``); the
tests in ``tests/p2p/test_tuning.py`` fail if those change meaning.
"""

from __future__ import annotations

import functools
import math
import time
from typing import TYPE_CHECKING, Any

from libp2p.stream_muxer.yamux.yamux import Yamux, YamuxStream

if TYPE_CHECKING:
    from collections.abc import Callable


async def _credit_in_halves(stream: Any, *, bytes_read: int = 0) -> None:
    """``YamuxStream._auto_tune_and_send_window_update`` with go-yamux's rule: send an update only
    when at least half of the receive window has been consumed (read out of the buffer)."""
    del bytes_read  # what was consumed follows from the window and the buffer
    async with stream.window_lock:
        buffered = len(stream.conn.stream_buffers.get(stream.stream_id, b""))
        consumed = stream.target_recv_window - (stream.recv_window + buffered)
        if consumed <= 0 or consumed < stream.target_recv_window // 2:
            return
        increment = stream._grow_to_delta(buffered) + stream._apply_autotune_epoch(buffered)
    if increment > 0:
        await stream.send_window_update(increment, skip_lock=True)


def _batch_window_updates(stream: Any) -> Any:
    if isinstance(stream, YamuxStream):  # an instance attribute shadows the method, for this stream only
        setattr(stream, "_auto_tune_and_send_window_update", functools.partial(_credit_in_halves, stream))  # noqa: B010
    return stream


def _batch_connection(conn: Any) -> Any:
    """Give every stream ``conn`` opens or accepts from now on the half-window rule."""
    if isinstance(conn, Yamux):
        open_stream, accept_stream = conn.open_stream, conn.accept_stream

        async def opened() -> Any:
            return _batch_window_updates(await open_stream())

        async def accepted() -> Any:
            return _batch_window_updates(await accept_stream())

        setattr(conn, "open_stream", opened)  # noqa: B010
        setattr(conn, "accept_stream", accepted)  # noqa: B010
    return conn


def batch_window_updates(host: Any) -> None:
    """Make every yamux connection ``host`` upgrades send window updates once per half window.

    py-libp2p builds its ``Yamux`` itself whatever muxer class ``new_host`` is given, so the hook is the
    host's connection upgrader: each new muxed connection is adjusted before the swarm accepts or opens
    any stream on it.
    """
    muxers = host.get_network().upgrader.muxer_multistream
    new_conn = muxers.new_conn

    async def upgraded(conn: Any, peer_id: Any) -> Any:
        return _batch_connection(await new_conn(conn, peer_id))

    setattr(muxers, "new_conn", upgraded)  # noqa: B010


def cache_addresses(host: Any, *, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
    """Make ``host.get_addrs()`` reuse its last non-empty answer for ``ttl_s`` seconds."""
    compute: Callable[[], list[Any]] = host.get_addrs
    cached: list[Any] = []
    computed_at = -math.inf

    def get_addrs() -> list[Any]:
        nonlocal cached, computed_at
        now = clock()
        if not cached or now - computed_at >= ttl_s:
            cached, computed_at = compute(), now
        return list(cached)

    setattr(host, "get_addrs", get_addrs)  # noqa: B010
