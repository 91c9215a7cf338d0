"""Loading ids the local store lacks from the configured gateways (Arweave gateways or peers).

Every item is verified by the gateway client before it is used (ANS-104 signature, id = sha256 of
the signature), then stored byte-exact and as a message, so a second request is served locally.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, final

import trio

from devices.core import Message, item_to_message
from devices.gateway import FetchError, verify_item
from node._gateway_client import GatewayClient

if TYPE_CHECKING:
    from collections.abc import Callable

    from devices.core.ans104 import DataItem
    from node._config import GatewayConfig
    from node._store import LmdbStore

    OnItem = Callable[[DataItem, bytes], None]

log = logging.getLogger(__name__)


@final
class RemoteLoader:
    """The ``"remote-loader"`` service: fetch, verify, cache."""

    def __init__(self, client: GatewayClient[DataItem], store: LmdbStore,
                 on_item: OnItem | None = None) -> None:
        self._client = client
        self._store = store
        self._on_item = on_item

    @classmethod
    def from_config(cls, config: GatewayConfig, store: LmdbStore,
                    on_item: OnItem | None = None) -> RemoteLoader | None:
        """The loader for ``gateway.urls`` (None when there are none); ``on_item(item, raw)`` runs
        after each fetched item is stored, as it does for uploads (the gateway index)."""
        if not config.urls:
            return None
        client: GatewayClient[DataItem] = GatewayClient(
            list(config.urls), verify=verify_item, attempts=config.attempts, timeout_s=config.timeout_s
        )
        return cls(client, store, on_item)

    async def load(self, ident: str) -> Message | None:
        """The message with this id from a gateway (now cached locally), or None when no gateway
        has a valid item with that id."""
        try:
            loaded = await self._client.load_item(ident)
        except FetchError as exc:
            log.info("gateways have no valid item %s: %s", ident, exc)
            return None
        item = loaded.verified
        msg = item_to_message(item)
        raw = loaded.raw

        def write() -> None:
            self._store.write_upload(raw, msg, [item.id])
            if self._on_item is not None:
                self._on_item(item, raw)

        await trio.to_thread.run_sync(write)
        return msg
