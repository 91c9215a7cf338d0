"""The message model.

A *message* is an immutable map from string keys to values. In the *structured* form a value is
one of: ``bytes`` (a binary), ``int``, ``float``, ``bool``, ``Atom`` (any other symbol, e.g.
``null``), ``tuple`` (a list; Python lists are accepted on input and frozen to tuples), or a nested
``Message``. A ``Link`` stands for a value stored elsewhere and referenced by id (``key+link``).
In the *TABM* form every value is ``bytes`` or a nested ``Message`` and the types of other values
are recorded in the layer's ``ao-types`` key.

Keys whose lower-cased name starts with ``priv`` are private: never serialized, never returned.
Keys keep their case (Sep-2025 wire format).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, final

from ._errors import EncodeError


@final
@dataclass(frozen=True, slots=True)
class Atom:
    """A symbol other than ``true``/``false`` (which are Python bools)."""

    name: str

    def __repr__(self) -> str:
        return f"Atom({self.name!r})"


@final
@dataclass(frozen=True, slots=True)
class Link:
    """A reference to a message or value stored elsewhere, by id."""

    id: str


Value: TypeAlias = "bytes | int | float | bool | Atom | Link | tuple[Value, ...] | Message"


def is_private(key: str) -> bool:
    """True for keys that must never leave the node (``priv``, ``private``, ``priv_wallet``...)."""
    return key.lower().startswith("priv")


def freeze(value: Any) -> Value:
    """Convert Python data to message values: ``str`` → UTF-8 ``bytes``, ``list``/``tuple`` → tuple,
    ``dict``/``Mapping`` → ``Message``. Values already in model form pass through.

    Raises:
        EncodeError: a value of a type the model cannot hold.
    """
    if isinstance(value, Message | bytes | bool | int | float | Atom | Link):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, Mapping):
        return Message(value)
    raise EncodeError(f"cannot hold a value of type {type(value).__name__} in a message")


@final
class Message(Mapping[str, "Value"]):
    """An immutable message. Build with ``Message({...})`` or ``Message(key=value)``."""

    __slots__ = ("_id", "_items")
    _items: dict[str, Value]
    #: The message's unsigned id once computed (``devices.core._ids``): content is immutable, so it
    #: never goes stale, and a result identified once (stored, attested, served) is not hashed again.
    _id: str | None

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /, **kw: Any) -> None:
        data: dict[str, Value] = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            if not isinstance(key, str):
                raise EncodeError(f"message keys are text, got {type(key).__name__}")
            data[key] = freeze(value)
        for key, value in kw.items():
            data[key] = freeze(value)
        object.__setattr__(self, "_items", data)
        object.__setattr__(self, "_id", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Message is immutable")

    def __reduce__(self) -> tuple[type[Message], tuple[dict[str, Value]]]:
        return (Message, (self._items,))  # pickle and copy rebuild from the items (the memo is not carried)

    def __copy__(self) -> Message:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Message:
        return self

    def __getitem__(self, key: str) -> Value:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items  # Mapping's default costs a raised KeyError per miss

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, _hashable(v)) for k, v in self._items.items())))

    def __repr__(self) -> str:
        shown = {k: ("<private>" if is_private(k) else v) for k, v in self._items.items()}
        return f"Message({shown!r})"

    # -- functional updates ------------------------------------------------------------------
    def set(self, key: str, value: Any) -> Message:
        """A copy with ``key`` set to ``value``."""
        return Message({**self._items, key: value})

    def update(self, other: Mapping[str, Any] | None = None, /, **kw: Any) -> Message:
        """A copy with the keys of ``other`` (and ``kw``) set."""
        merged: dict[str, Any] = dict(self._items)
        if other:
            merged.update(other)
        merged.update(kw)
        return Message(merged)

    def without(self, *keys: str) -> Message:
        """A copy without ``keys`` (missing keys are ignored)."""
        drop = set(keys)
        return Message({k: v for k, v in self._items.items() if k not in drop})

    def public(self) -> Message:
        """A copy without private keys, recursively."""
        return Message(
            {
                k: (v.public() if isinstance(v, Message) else v)
                for k, v in self._items.items()
                if not is_private(k)
            }
        )

    def find(self, key: str) -> Value | None:
        """The value of ``key``, trying an exact match first and then a case-insensitive one."""
        if key in self._items:
            return self._items[key]
        low = key.lower()
        for k, v in self._items.items():
            if k.lower() == low:
                return v
        return None

    # -- typed accessors ---------------------------------------------------------------------
    def get_bytes(self, key: str, default: bytes | None = None) -> bytes | None:
        value = self.find(key)
        return value if isinstance(value, bytes) else default

    def get_text(self, key: str, default: str | None = None) -> str | None:
        value = self.find(key)
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return default
        return default

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.find(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, bytes) and value.strip().lstrip(b"-").isdigit():
            return int(value)
        return default

    def get_message(self, key: str) -> Message | None:
        value = self.find(key)
        return value if isinstance(value, Message) else None

    def to_python(self) -> dict[str, Any]:
        """A plain ``dict`` copy (nested messages become dicts, tuples lists)."""
        return {k: _to_python(v) for k, v in self._items.items()}


def _to_python(value: Value) -> Any:
    if isinstance(value, Message):
        return value.to_python()
    if isinstance(value, tuple):
        return [_to_python(v) for v in value]
    return value


def _hashable(value: Value) -> object:
    if isinstance(value, float):
        return ("f", value)
    return value
