"""The resolver and the message@1.0 / meta@1.0 devices, without HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices import message, meta
from devices._base import Context, DeviceInfo
from devices._errors import BadRequest, DeviceNotFound, Forbidden, KeyNotFound, NotFound, Unauthorized
from devices._registry import Registry
from devices.core import Atom, Message, RsaWallet
from node._config import load_config
from node._hyperpath import parse
from node._node import Node
from node._resolve import Resolver, canonical_id
from node._store import LmdbStore

if TYPE_CHECKING:
    from pathlib import Path

ID = "zbGOOLXUuKbhwKXXW0sH7-lN1j0UjfYnSa1SSRcaj3I"


@pytest.fixture
def app(tmp_path: Path, wallet_jwk: dict[str, str], node_wallet: RsaWallet) -> Node:
    data = tmp_path / "d"
    data.mkdir()
    RsaWallet.from_jwk(dict(wallet_jwk)).save(data / "wallet.json")
    node = Node.open(load_config(None, {"data_dir": str(data)}), wallet=node_wallet)
    yield node
    node.close()


async def run(node: Node, path: str, **keys: object) -> object:
    return (await node.handle(Message({"path": path, **keys}))).value


async def test_message_get_set_keys(app: Node) -> None:
    assert await run(app, "/~message@1.0&hello=world/hello") == b"world"
    assert await run(app, "/~message@1.0&Hello=world/hello") == b"world"  # case-insensitive
    assert await run(app, "/~message@1.0&a=1&b=2/keys") == (b"a", b"b", b"device")
    out = await run(app, "/~message@1.0&a=1/set&b=2&a+atom=unset")
    assert isinstance(out, Message)
    assert out.public() == Message(device=b"message@1.0", b=b"2")
    assert await run(app, "/~message@1.0&a=1&b=2/remove&item=a/keys") == (b"b", b"device")
    with pytest.raises(KeyNotFound, match="key not found: missing"):
        await run(app, "/~message@1.0&a=1/missing")


async def test_private_keys_hidden(app: Node) -> None:
    base = Message(priv=b"s", private=b"t", x=b"1")
    r = app.resolver
    assert await r.resolve(base, Message(path="keys")) == (b"x",)
    for key in ("priv", "Private", "priv_wallet"):
        with pytest.raises(KeyNotFound):
            await r.resolve(base, Message(path=key))


async def test_deep_set_and_explicit(app: Node) -> None:
    r = app.resolver
    base = Message(m=Message(a=1, b=2))
    out = await r.resolve(base, Message(path="set", m=Message(b=3)))
    assert isinstance(out, Message)
    assert out.public() == Message(m=Message(a=1, b=3))
    out = await r.resolve(base, Message({"path": "set", "m": Message(b=3), "set-mode": "explicit"}))
    assert isinstance(out, Message)
    assert out.public() == Message(m=Message(b=3))
    signed = Message(k=b"v", commitments=Message(x=Message(committer=b"a")))
    assert "commitments" not in await r.resolve(signed, Message(path="set", k=b"w"))
    assert await r.resolve(signed, Message(path="committers")) == (b"a",)


async def test_unknown_device_names_it(app: Node) -> None:
    with pytest.raises(DeviceNotFound, match=r"nosuch@9\.9"):
        await run(app, "/~nosuch@9.9/x")
    with pytest.raises(NotFound):
        await run(app, f"/~message@1.0&device={ID}/x")


async def test_ids_load_from_store(app: Node) -> None:
    app.store.write_message(Message(greeting=b"hi", n=5), [ID])
    assert await run(app, f"/{ID}/greeting") == b"hi"
    assert await run(app, f"/{ID}~message@1.0/n") == 5
    with pytest.raises(NotFound, match="message not found: " + "a" * 43):
        await run(app, "/" + "a" * 43 + "x"[:0] + "/k")  # 43 chars but not a stored id


async def test_malformed_ids_never_reach_store(app: Node) -> None:
    assert canonical_id("!" * 43) is None
    assert canonical_id("0x" + "g" * 40) is None
    assert canonical_id("0x" + "a" * 40) == "0x" + "a" * 40
    assert canonical_id("b" * 32) is not None
    with pytest.raises(NotFound, match="message not found"):
        await run(app, "/" + "!" * 43 + "/k")


async def test_subpath_and_as_forms(app: Node) -> None:
    # (sub/path) as a later element: its value becomes the key to look up.
    assert await run(app, "/~message@1.0&k=v&name=k/(~message@1.0&x=k/x)") == b"v"
    # As on a later segment views the previous result with another device.
    assert await run(app, "/~message@1.0&a=1/a~message@1.0") == b"1"
    with pytest.raises(BadRequest, match="empty path"):
        await run(app, "/?a=b")


class _Loop:
    """A device that resolves its own request again, forever (through Context.resolve)."""

    id = "loop@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"again"}))

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> object:
        return await ctx.resolve(base, req)


async def test_depth_bound(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    reg = Registry([message.DEVICE, _Loop()])
    with LmdbStore(tmp_path / "s") as store:
        r = Resolver(registry=reg, store=store, wallet=RsaWallet.from_jwk(dict(wallet_jwk)),
                     node_message=Message, max_depth=10)
        with pytest.raises(BadRequest, match="more than 10"):
            await r.resolve_request(parse(Message(path="/~loop@1.0/again")))
        steps = parse(Message(path="/~message@1.0&a=1/set&b=1/set&c=1/set&d=1/keys"))
        assert (await r.resolve_request(steps)).value == (b"a", b"b", b"c", b"d", b"device")


async def test_meta_info_and_post(app: Node) -> None:
    info = await run(app, "/~meta@1.0/info")
    assert isinstance(info, Message)
    assert info["address"] == app.wallet.address.encode()
    assert await run(app, "/~meta@1.0/info/address") == app.wallet.address.encode()
    assert await run(app, "/~meta@1.0/build/node") == b"hyperpeer"
    with pytest.raises(Unauthorized):
        await run(app, "/~meta@1.0/info", method=b"POST", color=b"blue")
    other = Message(committers=[b"someone-else"])
    with pytest.raises(Forbidden):
        await run(app, "/~meta@1.0/info", method=b"POST", color=b"blue", priv=other)
    op = Message(committers=[app.wallet.address.encode()])
    out = await run(app, "/~meta@1.0/info", method=b"POST", color=b"blue", priv=op)
    assert isinstance(out, Message)
    assert out.public() == Message({"body": "Node message updated. History: 1 updates.",
                                    "history-length": 1})
    assert await run(app, "/~meta@1.0/info/color") == b"blue"
    assert meta.verified_committers(Message(priv=Message(committers=b"x"))) == ()


async def test_meta_updates_survive_restart(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    RsaWallet.from_jwk(dict(wallet_jwk)).save(tmp_path / "wallet.json")
    config = load_config(None, {"data_dir": str(tmp_path)})
    node = Node.open(config)
    try:
        assert node.state.update(Message(color=b"blue")) == 1
        assert node.state.update(Message(color=b"red", size=3)) == 2
    finally:
        node.close()
    node = Node.open(config)
    try:
        msg = node.state.message()
        assert (msg["color"], msg["size"], msg["history-length"]) == (b"red", 3, 2)
    finally:
        node.close()


async def test_hashpath_is_chained_on_demand(app: Node) -> None:
    from devices.core import hashpath

    outcome = await app.handle(Message(path="/~message@1.0&a=1/set&b=2/b"))
    assert outcome.value == b"2"
    (base1, req1), (_, req2) = outcome.steps
    assert outcome.hashpath == hashpath(hashpath(base1, req1), req2)
    assert outcome.hashpath is not None
    assert outcome.hashpath.count("/") == 1
    assert (await app.handle(Message(path="/~message@1.0&a=1"))).hashpath is None


async def test_list_results_are_numbered(app: Node) -> None:
    assert await run(app, "/~message@1.0&b=1&a=2/keys/1") == b"a"
    assert await run(app, "/~message@1.0&b=1&a=2/keys/3") == b"device"


async def test_atom_flag_values(app: Node) -> None:
    assert await run(app, "/~message@1.0&s+atom=ok/s") == Atom("ok")
    assert await run(app, "/~message@1.0&flag/flag") is True
