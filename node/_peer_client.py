"""The ``"peer"`` service: send one message to another AO-Core node over HTTP and read its reply.

``PeerClient(wallet)`` is the callable that ``push@1.0`` and ``scheduler@1.0`` expect as
``ctx.services["peer"]``: ``await peer(method, url, path, message) -> Message``. The message goes
out as ``httpsig@1.0`` (nested messages inline), signed by the node wallet unless it already
carries a signature (then it travels exactly as signed, e.g. an outbox message or a scheduler
location record). The reply is decoded by its content type (``application/json`` → ``json@1.0``,
else ``httpsig@1.0``); a signed reply must verify.

Transport: ``node._gateway_client.h11_transport`` (one HTTP/1.1 exchange per connection), each
exchange bounded by ``timeout_s`` and ``max_body_bytes``. Only ``http``/``https`` URLs are used;
307/308 redirects are followed (at most ``max_redirects``) only to ``http(s)`` locations, with
the same method and body. Failures raise ``PeerUnavailable`` (503, naming the peer); a 4xx answer
is returned as ``{response: error, status, reason}`` so callers can report it per message.

``locate(address)`` asks each of ``sources`` (e.g. the configured gateway URLs, when they are
AO-Core nodes) for ``GET /~scheduler@1.0/location?address=…`` and returns the first record that
is signed by ``address``; ``None`` when none has one.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Final, final
from urllib.parse import quote, urljoin, urlsplit

import h11
import trio

from devices._errors import Unavailable
from devices.core import (
    CoreError,
    Message,
    commit,
    httpsig_decode,
    httpsig_encode,
    json_decode,
    signers,
    verify,
)
from node._gateway_client import HttpRequest, HttpResponse, Transport, _Transient, h11_transport

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devices.core import RsaWallet

log = logging.getLogger(__name__)

_HOP_HEADERS: Final = frozenset(
    {"connection", "content-length", "date", "keep-alive", "server", "transfer-encoding", "vary"}
)


class PeerUnavailable(Unavailable):
    """A peer node could not be reached or did not answer usefully (503); ``peer`` names it."""

    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        super().__init__(f"peer {peer} unavailable: {reason}")


def _http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _join(url: str, path: str) -> str:
    return url.rstrip("/") + "/" + path.lstrip("/")


@final
class PeerClient:
    """Signs, sends and decodes messages exchanged with peer nodes (see the module docstring)."""

    def __init__(
        self,
        wallet: RsaWallet,
        *,
        timeout_s: float = 20.0,
        max_body_bytes: int = 16 * 1024 * 1024,
        max_redirects: int = 3,
        sources: Sequence[str] = (),
        transport: Transport | None = None,
    ) -> None:
        self._wallet = wallet
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.sources = tuple(s for s in sources if _http_url(s))
        self._transport = transport

    def __repr__(self) -> str:  # never shows the wallet
        return f"PeerClient(address={self._wallet.address!r}, timeout_s={self.timeout_s})"

    async def __call__(self, method: str, url: str, path: str, message: Message) -> Message:
        """Send ``message`` to ``url + path`` and return the peer's reply as a message.

        Raises:
            PeerUnavailable: bad URL, transport failure, timeout, oversized, 5xx or undecodable reply.
        """
        if not _http_url(url):
            raise PeerUnavailable(url, "only http(s) peer URLs are used")
        if signers(message):
            signed = message
        else:
            wallet = self._wallet
            signed = await trio.to_thread.run_sync(lambda: commit(message, wallet))
        try:
            parts = httpsig_encode(signed, bundle=True)
        except CoreError as exc:
            raise PeerUnavailable(url, f"cannot encode the message: {exc.reason}") from exc
        return await self.exchange(
            HttpRequest(method.upper(), _join(url, path), parts.headers, parts.body), url
        )

    async def exchange(self, request: HttpRequest, peer: str) -> Message:
        """One request (following safe redirects), its reply decoded; errors name ``peer``."""
        try:
            with trio.fail_after(self.timeout_s):
                resp = await self._send(request, peer)
        except trio.TooSlowError as exc:
            raise PeerUnavailable(peer, f"no answer within {self.timeout_s} s") from exc
        if resp.status >= 500:
            raise PeerUnavailable(peer, f"HTTP {resp.status}: {self._reason(resp)}")
        if resp.status >= 400:
            return Message(
                {"response": "error", "status": resp.status, "reason": f"peer {peer}: {self._reason(resp)}"}
            )
        return self._decode(resp, peer)

    async def _send(self, request: HttpRequest, peer: str) -> HttpResponse:
        send = self._transport
        for _ in range(self.max_redirects + 1):
            try:
                if send is not None:
                    resp = await send(request)
                else:
                    resp = await h11_transport(request, max_body_bytes=self.max_body_bytes)
            except (OSError, trio.BrokenResourceError, h11.ProtocolError, _Transient, UnicodeError) as exc:
                raise PeerUnavailable(peer, f"{type(exc).__name__}: {exc}") from exc
            location = resp.header("location")
            if resp.status not in (307, 308) or not location:
                return resp
            target = urljoin(request.url, location)
            if not _http_url(target):
                raise PeerUnavailable(peer, f"refusing a redirect to {location[:200]!r}")
            if urlsplit(target).path in ("", "/"):  # a scheduler redirect names the node only
                split = urlsplit(request.url)
                target = _join(target, split.path + (f"?{split.query}" if split.query else ""))
            request = HttpRequest(request.method, target, request.headers, request.body)
        raise PeerUnavailable(peer, f"more than {self.max_redirects} redirects")

    @staticmethod
    def _reason(resp: HttpResponse) -> str:
        try:
            doc = json.loads(resp.body)
        except ValueError:
            return resp.body[:200].decode("utf-8", "replace") or f"HTTP {resp.status}"
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            return str(doc["error"])[:500]
        return resp.body[:200].decode("utf-8", "replace")

    @staticmethod
    def _decode(resp: HttpResponse, peer: str) -> Message:
        content_type = (resp.header("content-type") or "").split(";")[0].strip().lower()
        try:
            if content_type == "application/json":
                msg = json_decode(resp.body) if resp.body else Message()
            else:
                headers = [
                    (k.lower(), v)
                    for k, v in resp.headers
                    if k.lower() not in _HOP_HEADERS and not k.lower().startswith("access-control-")
                ]
                msg = httpsig_decode(headers, resp.body)
        except CoreError as exc:
            raise PeerUnavailable(peer, f"undecodable reply: {exc.reason}") from exc
        if msg.get_message("commitments") is not None and signers(msg):
            report = verify(msg)
            if not report.valid:
                raise PeerUnavailable(peer, "the reply's signature does not verify")
        return msg

    async def locate(self, address: str) -> Message | None:
        """The scheduler-location record of ``address`` from the first source that has one
        signed by ``address`` (not stored here; the caller decides)."""
        for source in self.sources:
            path = f"/~scheduler@1.0/location?address={quote(address, safe='')}"
            try:
                get = HttpRequest("GET", _join(source, path), (("accept-bundle", "true"),))
                reply = await self.exchange(get, source)
            except PeerUnavailable as exc:
                log.info("location of %s: %s", address, exc.reason)
                continue
            record = reply.get_message("body")
            if record is not None and address in signers(record) and verify(record).valid:
                return record
        return None
