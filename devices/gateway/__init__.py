"""Gateway compatibility: an Arweave-style item index, GraphQL and HTTP routes over it.

Theory of operation:

1. ``ItemIndex`` keeps an ``ItemRecord`` per verified data item in caller-owned LMDB sub-databases, with
   postings by owner, recipient, tag and parent bundle; sequences stand in for block heights.
2. ``GraphQLService`` executes Arweave-GraphQL ``transactions`` / ``transaction`` queries (and empty
   ``blocks`` / ``block``) against the index with graphql-core, after bounding size, depth and cost.
3. ``GatewayApp`` is a plain ASGI application serving ``/raw/{id}``, ``/{id}``, ``/info``, ``/``,
   ``/tx/{id}/status``, ``POST /graphql`` and ``POST /tx``; storage and item verification are injected.
4. Every error raised here derives from ``GatewayError`` (see ``_errors``).

Mounting in a node (the gateway routes answer first, everything else falls through)::

    index = ItemIndex(env)                      # env: an lmdb.Environment with 7 spare max_dbs
    app = GatewayApp(
        index,
        read_raw=store.read_raw,                # id -> item bytes | None
        store_raw=lambda i, raw: store.write_upload(raw, None, [i]),
        fallback=HttpApp(node),                 # also receives the lifespan scope
    )
    await app.ingest(raw)                       # for items that arrive by the node's own routes

The node's gateway *client* is ``node._gateway_client.GatewayClient(gateways, verify=verify_item)``.
"""

from __future__ import annotations

from ._errors import FetchError as FetchError
from ._errors import GatewayError as GatewayError
from ._errors import GatewayUnavailable as GatewayUnavailable
from ._errors import ItemConflict as ItemConflict
from ._errors import ItemRejected as ItemRejected
from ._errors import NotFoundOnGateways as NotFoundOnGateways
from ._errors import QueryError as QueryError
from ._graphql import GraphQLResult as GraphQLResult
from ._graphql import GraphQLService as GraphQLService
from ._index import ItemIndex as ItemIndex
from ._index import ItemQuery as ItemQuery
from ._index import Page as Page
from ._index import TagFilter as TagFilter
from ._items import bundle_members as bundle_members
from ._items import parse_verified_item as parse_verified_item
from ._items import record_from_item as record_from_item
from ._items import verify_item as verify_item
from ._record import ItemRecord as ItemRecord
from ._routes import GatewayApp as GatewayApp

__all__ = [
    "FetchError",
    "GatewayApp",
    "GatewayError",
    "GatewayUnavailable",
    "GraphQLResult",
    "GraphQLService",
    "ItemConflict",
    "ItemIndex",
    "ItemQuery",
    "ItemRecord",
    "ItemRejected",
    "NotFoundOnGateways",
    "Page",
    "QueryError",
    "TagFilter",
    "bundle_members",
    "parse_verified_item",
    "record_from_item",
    "verify_item",
]
