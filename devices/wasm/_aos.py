"""Driving aos-2 images through their ``handle`` export, as HyperBEAM's JSON-Iface does.

Calling convention (wasm64): ``handle(i64 msgPtr, i64 envPtr) -> i64 resultPtr``; all three are
NUL-terminated UTF-8 JSON in linear memory, the inputs allocated with the module's own ``malloc``,
message first, then env. The result is ``{"ok": true, "response": R}``; ``R`` has the CU shape
``{Output, Messages, Spawns, Assignments, Error?, ...}``.

Message fields are given as a plain mapping with lower-case keys, as an AO-Core message carries
them. The caller supplies ``id`` (the 43-character id over all commitments) and ``owner`` (the
first signer's address); codecs and signatures are not this module's business.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ._errors import WasmError
from ._runtime import WasmLimits, WasmModule, WasmRuntime

if TYPE_CHECKING:
    from ._instance import WasmInstance
    from ._snapshot import WasmSnapshot

_NOT_TAGS: Final = frozenset(
    {"id", "anchor", "owner", "data", "target", "signature", "commitments", "original-tags"}
)


class AosError(WasmError):
    """aos broke the JSON-Iface contract (unparseable result, ``ok`` false) or an input is unusable."""

    status_hint = 500


def compact_json(value: object) -> bytes:
    """JSON as HyperBEAM writes it for aos: compact, sorted keys, non-ASCII kept as UTF-8."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def header_case(name: str) -> str:
    """``data-protocol`` -> ``Data-Protocol``."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError as exc:
            raise AosError(f"{what} is not valid UTF-8 and cannot be passed to aos as JSON") from exc
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise AosError(f"{what} has unsupported type {type(value).__name__}")


def _tag_list(tags: Iterable[Any]) -> list[dict[str, str]]:
    out = []
    for tag in tags:
        if isinstance(tag, Mapping):
            name, value = tag.get("name"), tag.get("value")
        else:
            name, value = tag
        out.append({"name": _text(name, "tag name"), "value": _text(value, "tag value")})
    return out


def json_struct(fields: Mapping[str, Any]) -> dict[str, Any]:
    """HyperBEAM's ``message_to_json_struct`` for a message given as lower-case fields.

    ``id`` is required. ``original-tags`` (a list of ``{name, value}`` or pairs, from an ANS-104
    commitment) is used verbatim when present; otherwise every other key becomes a Header-Case tag.

    Raises:
        AosError: ``id`` is missing or a value cannot be represented as JSON text.
    """
    low = {k.lower(): v for k, v in fields.items()}
    if "id" not in low:
        raise AosError("message has no id")
    owner = _text(low.get("owner", ""), "owner")
    if "original-tags" in low:
        tags = _tag_list(low["original-tags"])
    else:
        tags = [
            {"name": header_case(k), "value": _text(v, f"field {k}")}
            for k, v in sorted(low.items())
            if k not in _NOT_TAGS
        ]
    out: dict[str, Any] = {
        "Id": _text(low["id"], "id"),
        "Anchor": _text(low.get("anchor", ""), "anchor"),
        "Owner": owner,
        "From": _text(low["from-process"], "from-process") if "from-process" in low else owner,
        "Tags": tags,
        "Target": _text(low.get("target", ""), "target"),
        "Data": _text(low.get("data", ""), "data"),
    }
    if "signature" in low:
        sig = low["signature"]
        if isinstance(sig, bytes | bytearray) and len(sig) == 512:
            out["Signature"] = base64.urlsafe_b64encode(bytes(sig)).rstrip(b"=").decode()
        else:
            out["Signature"] = _text(sig, "signature")
    return out


class AosProcess:
    """One live aos process: an instance plus the process definition it was spawned with."""

    def __init__(self, instance: WasmInstance, process: Mapping[str, Any], image_id: str) -> None:
        self.instance = instance
        self.process = dict(process)
        self.image_id = image_id
        self._env = compact_json({"Process": json_struct(process)})

    @classmethod
    def spawn(
        cls,
        runtime: WasmRuntime,
        image: bytes | WasmModule,
        process: Mapping[str, Any],
        *,
        image_id: str | None = None,
        limits: WasmLimits | None = None,
    ) -> AosProcess:
        """Load (cached) and instantiate an aos image for ``process`` (fields incl. ``id``, ``owner``).

        Raises:
            WasmError subclasses from loading/instantiation; AosError for an unusable definition.
        """
        module = image if isinstance(image, WasmModule) else runtime.load(image, image_id=image_id)
        instance = module.instantiate(limits=limits)
        return cls(instance, process, image_id or module.image_id)

    @classmethod
    def from_snapshot(
        cls,
        module: WasmModule,
        process: Mapping[str, Any],
        snapshot: WasmSnapshot,
        *,
        limits: WasmLimits | None = None,
    ) -> AosProcess:
        """A fresh instance of ``module`` with ``snapshot`` restored into it."""
        proc = cls(module.instantiate(limits=limits), process, module.image_id)
        proc.instance.restore(snapshot)
        return proc

    def message_json(self, message: Mapping[str, Any], *, block_height: int = 0) -> bytes:
        """The exact bytes written for ``message`` (json_struct + ``Module`` + ``Block-Height``)."""
        struct = json_struct(message)
        struct["Module"] = self.image_id
        struct["Block-Height"] = block_height
        return compact_json(struct)

    @property
    def env_json(self) -> bytes:
        """The env bytes written for every message: ``{"Process": json_struct(process)}``."""
        return self._env

    def call_handle(self, msg_json: bytes, env_json: bytes | None = None) -> bytes:
        """Write the two NUL-terminated strings (message first), call ``handle``, return the raw result."""
        inst = self.instance
        msg_ptr = inst.write_string(msg_json)
        env_ptr = inst.write_string(self._env if env_json is None else env_json)
        (res_ptr,) = inst.call("handle", msg_ptr, env_ptr)
        return inst.read_string(int(res_ptr) % (1 << 64))

    def handle_raw(self, msg_json: bytes, env_json: bytes | None = None) -> dict[str, Any]:
        """Run ``handle`` on pre-encoded JSON; returns the decoded top-level result object."""
        raw = self.call_handle(msg_json, env_json)
        try:
            decoded = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AosError(f"aos returned unparseable JSON: {raw[:200]!r}") from exc
        if not isinstance(decoded, dict):
            raise AosError("aos returned a non-object result")
        return decoded

    def handle(self, message: Mapping[str, Any], *, block_height: int = 0) -> dict[str, Any]:
        """Evaluate one message; returns aos's ``response`` (Output, Messages, Spawns, Assignments, Error?).

        A Lua ``error()`` comes back in ``Error`` and leaves the process usable.

        Raises:
            AosError: the JSON-Iface contract was broken (``ok`` not true, bad JSON).
            WasmTrap / WasmLimitExceeded: the guest trapped; the process is dead.
        """
        result = self.handle_raw(self.message_json(message, block_height=block_height))
        if result.get("ok") is not True or not isinstance(result.get("response"), dict):
            raise AosError(f"aos handle failed: {compact_json(result)[:300]!r}")
        response: dict[str, Any] = result["response"]
        return response

    def snapshot(self) -> WasmSnapshot:
        """Memory + globals of the process."""
        return self.instance.snapshot()

    def restore(self, snapshot: WasmSnapshot) -> None:
        """Replace this process's instance with a fresh one holding ``snapshot``."""
        fresh = self.instance.module.instantiate(limits=self.instance.limits)
        fresh.restore(snapshot)
        self.instance = fresh


def _outbox_entry(msg: Mapping[str, Any], process_id: str, image_id: str) -> dict[str, Any]:
    """HyperBEAM's outbox normalisation (observable layout, quirk #9 of the spec kept)."""
    entry: dict[str, Any] = {str(k).lower(): v for k, v in msg.items()}  # "Tags" survives as "tags"
    for tag in msg.get("Tags") or []:
        if isinstance(tag, Mapping) and "name" in tag:
            entry[str(tag["name"])] = tag.get("value")
    entry["from-process"] = process_id
    entry["from-image"] = image_id
    return entry


def json_iface_results(response: Mapping[str, Any], *, process_id: str, image_id: str) -> dict[str, Any]:
    """JSON-Iface pass 2: turn aos's ``response`` into ``{outbox, patches, data}`` as HyperBEAM does.

    ``Output.data`` present -> data, outbox from ``Messages``, ``patches`` (lower-case key);
    else ``Error`` present -> data = the error, empty outbox; ``Spawns``/``Assignments`` are ignored.
    Outbox entries: fields lower-cased, ``Tags`` flattened into keys (later duplicates win),
    ``from-process``/``from-image`` added; ``anchor`` and the raw ``tags`` list are kept, as upstream.

    Raises:
        AosError: neither ``Output.data`` nor ``Error`` is present.
    """
    out = response.get("Output")
    if isinstance(out, Mapping) and "data" in out:
        messages = response.get("Messages") or []
        return {
            "outbox": {
                str(i): _outbox_entry(m, process_id, image_id)
                for i, m in enumerate(messages, start=1)
                if isinstance(m, Mapping)
            },
            "patches": list(response.get("patches") or []),
            "data": out["data"],
        }
    if "Error" in response:
        return {"outbox": {}, "patches": [], "data": response["Error"]}
    raise AosError("JSON error parsing result output.")
