"""Arweave-compatible GraphQL over the item index (graphql-core).

The schema follows ar.io's ``types.graphql`` for what AO tools send (spec §4): ``transactions`` and
``transaction`` over the index, and ``blocks`` / ``block``, which are empty because this node keeps no
L1 blocks. Requests are bounded before execution: query size, operation depth (fragments expanded),
number of fields, and number of root fields (aliases). Parse, validation and input errors answer 400;
a result with data answers 200 (the status an Apollo-based gateway gives).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from devices.core import b64u_encode

from ._errors import QueryError
from ._index import ItemIndex, ItemQuery, TagFilter

if TYPE_CHECKING:
    from ._record import ItemRecord

SDL = """
type Query {
  transaction(id: ID!): Transaction
  transactions(
    ids: [ID!]
    owners: [String!]
    recipients: [String!]
    tags: [TagFilter!]
    bundledIn: [ID!]
    parent: [ID!]
    block: BlockFilter
    first: Int = 10
    after: String
    sort: SortOrder = HEIGHT_DESC
  ): TransactionConnection!
  block(id: String): Block
  blocks(
    ids: [ID!], height: BlockFilter, first: Int = 10, after: String, sort: SortOrder = HEIGHT_DESC
  ): BlockConnection!
}
enum SortOrder { HEIGHT_ASC HEIGHT_DESC }
enum TagOperator { EQ NEQ }
input TagFilter { name: String! values: [String!]! op: TagOperator = EQ }
input BlockFilter { min: Int max: Int }
type PageInfo { hasNextPage: Boolean! }
type TransactionConnection { pageInfo: PageInfo! edges: [TransactionEdge!]! }
type TransactionEdge { cursor: String! node: Transaction! }
type BlockConnection { pageInfo: PageInfo! edges: [BlockEdge!]! }
type BlockEdge { cursor: String! node: Block! }
type Transaction {
  id: ID!
  anchor: String!
  signature: String!
  signatureType: Int
  recipient: String!
  owner: Owner!
  fee: Amount!
  quantity: Amount!
  data: MetaData!
  tags: [Tag!]!
  block: Block
  parent: Parent
  bundledIn: Bundle
}
type Owner { address: String! key: String! }
type Amount { winston: String! ar: String! }
type MetaData { size: String! type: String }
type Tag { name: String! value: String! }
type Block { id: ID! timestamp: Int! height: Int! previous: ID! }
type Parent { id: ID! }
type Bundle { id: ID! }
"""

MAX_QUERY_BYTES = 64 * 1024
MAX_DEPTH = 12
MAX_FIELDS = 600
MAX_ROOT_FIELDS = 10
DOCUMENT_CACHE = 256  # validated query texts kept (clients repeat the same few)
_ZERO = {"winston": "0", "ar": "0.000000000000"}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class _Tx:
    """A ``Transaction`` node; fields are computed only when selected."""

    __slots__ = ("_r",)

    def __init__(self, record: ItemRecord) -> None:
        self._r = record

    @property
    def id(self) -> str:
        return self._r.id

    @property
    def anchor(self) -> str:
        return b64u_encode(self._r.anchor) if self._r.anchor else ""

    @property
    def signature(self) -> str:
        return b64u_encode(self._r.signature)

    @property
    def signatureType(self) -> int:
        return self._r.signature_type

    @property
    def recipient(self) -> str:
        return self._r.recipient

    @property
    def owner(self) -> dict[str, str]:
        return {"address": self._r.owner_address, "key": b64u_encode(self._r.owner)}

    @property
    def fee(self) -> dict[str, str]:
        return _ZERO

    @property
    def quantity(self) -> dict[str, str]:
        return _ZERO

    @property
    def data(self) -> dict[str, str | None]:
        return {"size": str(self._r.data_size), "type": self._r.content_type}

    @property
    def tags(self) -> list[dict[str, str]]:
        return [{"name": _text(n), "value": _text(v)} for n, v in self._r.tags]

    @property
    def block(self) -> None:
        return None  # pending: this node keeps no L1 blocks (spec §4.2: null while pending)

    @property
    def parent(self) -> dict[str, str]:
        return {"id": self._r.bundled_in}  # "" when unknown; null would mean L1 to newer HB (A21)

    @property
    def bundledIn(self) -> dict[str, str]:
        return {"id": self._r.bundled_in}


def _tag_filters(raw: list[dict[str, Any]] | None) -> tuple[TagFilter, ...]:
    return tuple(
        TagFilter(f["name"].encode(), tuple(v.encode() for v in f["values"]), f.get("op", "EQ"))
        for f in raw or ()
    )


@dataclass(frozen=True, slots=True)
class GraphQLResult:
    """What ``POST /graphql`` answers: an HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]


class GraphQLService:
    """Executes gateway GraphQL requests against an ``ItemIndex``."""

    def __init__(self, index: ItemIndex) -> None:
        self._index = index
        self._documents: dict[str, DocumentNode] = {}  # validated queries, oldest first
        self.schema: GraphQLSchema = build_schema(SDL)
        fields = self.schema.query_type.fields  # type: ignore[union-attr]
        fields["transactions"].resolve = self._transactions
        fields["transaction"].resolve = self._transaction
        fields["blocks"].resolve = lambda _root, _info, **_kw: {
            "pageInfo": {"hasNextPage": False},
            "edges": [],
        }
        fields["block"].resolve = lambda _root, _info, **_kw: None

    def _transactions(self, _root: object, _info: object, **kw: Any) -> dict[str, Any]:
        if ("bundledIn" in kw and kw["bundledIn"] is None) or ("parent" in kw and kw["parent"] is None):
            # ar.io: an explicit null asks for L1 transactions only, and this node holds none
            return {"pageInfo": {"hasNextPage": False}, "edges": []}
        block = kw.get("block") or {}
        q = ItemQuery(
            ids=tuple(kw.get("ids") or ()),
            owners=tuple(kw.get("owners") or ()),
            recipients=tuple(kw.get("recipients") or ()),
            tags=_tag_filters(kw.get("tags")),
            bundled_in=tuple(kw.get("bundledIn") or ()) + tuple(kw.get("parent") or ()),
            min_height=block.get("min"),
            max_height=block.get("max"),
            first=int(kw["first"]) if kw.get("first") is not None else 10,
            after=kw.get("after") or None,
            sort=kw.get("sort") or "HEIGHT_DESC",
        )
        page = self._index.query(q)
        return {
            "pageInfo": {"hasNextPage": page.has_next_page},
            "edges": [{"cursor": c, "node": _Tx(r)} for c, r in page.edges],
        }

    def _transaction(self, _root: object, _info: object, id: str) -> _Tx | None:  # noqa: A002
        rec = self._index.get(id)
        return _Tx(rec) if rec is not None else None

    def execute(
        self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
    ) -> GraphQLResult:
        """Parse, bound, validate and run one GraphQL request."""
        document = self._documents.get(query)
        if document is None:
            checked = self._check(query)
            if isinstance(checked, GraphQLResult):
                return checked
            document = checked
            if len(self._documents) >= DOCUMENT_CACHE:
                self._documents.pop(next(iter(self._documents)))
            self._documents[query] = document
        result = execute_sync(self.schema, document, variable_values=variables, operation_name=operation_name)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return GraphQLResult(200 if result.data is not None else 400, body)

    def _check(self, query: str) -> DocumentNode | GraphQLResult:
        """Parse, validate and bound a query: the document, or the 400 answer."""
        if len(query.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
            return _fail(f"query longer than {MAX_QUERY_BYTES} bytes")
        try:
            document = parse(query, max_tokens=20_000)
        except GraphQLError as exc:
            return GraphQLResult(400, {"errors": [exc.formatted]})
        errors = validate(self.schema, document)
        if errors:
            return GraphQLResult(400, {"errors": [e.formatted for e in errors]})
        try:
            _check_cost(document.definitions)
        except QueryError as exc:
            return _fail(exc.reason)
        return document

    def execute_request(self, body: bytes) -> GraphQLResult:
        """Run a ``POST /graphql`` body: JSON ``{query, variables?, operationName?}``."""
        try:
            request = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _fail("request body is not JSON")
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return _fail("request body must be a JSON object with a string 'query'")
        variables = request.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return _fail("'variables' must be an object")
        operation = request.get("operationName")
        if operation is not None and not isinstance(operation, str):
            return _fail("'operationName' must be a string")
        return self.execute(request["query"], variables, operation)


def _fail(message: str) -> GraphQLResult:
    return GraphQLResult(400, {"errors": [{"message": message}]})


def _check_cost(definitions: Any) -> None:
    """Bound depth, field count and root fields, expanding fragments (validation already ruled out cycles)."""
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, tuple[int, int]] = {}

    def measure(sel: SelectionSetNode | None) -> tuple[int, int]:
        if sel is None:
            return 0, 0
        depth = count = 0
        for node in sel.selections:
            if isinstance(node, FieldNode):
                d, c = measure(node.selection_set)
                depth, count = max(depth, d + 1), count + c + 1
            elif isinstance(node, InlineFragmentNode):
                d, c = measure(node.selection_set)
                depth, count = max(depth, d), count + c
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name not in memo:
                    memo[name] = measure(fragments[name].selection_set)
                d, c = memo[name]
                depth, count = max(depth, d), count + c
            if count > MAX_FIELDS:
                raise QueryError(f"query selects more than {MAX_FIELDS} fields")
        return depth, count

    for op in definitions:
        if isinstance(op, OperationDefinitionNode):
            depth, _count = measure(op.selection_set)
            if depth > MAX_DEPTH:
                raise QueryError(f"query deeper than {MAX_DEPTH} levels")
            roots = sum(1 for s in op.selection_set.selections if isinstance(s, FieldNode))
            if roots > MAX_ROOT_FIELDS:
                raise QueryError(f"more than {MAX_ROOT_FIELDS} root fields in one operation")
