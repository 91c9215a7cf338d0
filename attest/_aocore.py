"""Result attestations as AO-Core messages: the same ``Statement`` as the CBOR form, committed with
httpsig (RSA-PSS-SHA512) by the node wallet, so any HyperBEAM-style verifier checks it.

The message carries ``type: "attestation/1"`` and the statement's facts under their own names
(``process``, ``slot`` (an integer), ``result``, ``hashpath``, ``device-stack`` (the device names
joined by commas: a list would travel as a separate linked message in httpsig's link mode),
``attester`` and, when present, ``evidence``); the commitment's ``tag`` is the hashpath. It is
valid only when a verified commitment covers every one of those keys and its committer is the
``attester`` — a commitment by anyone else, or one that leaves a fact uncommitted, proves nothing.
``verify_attestation_message`` answers the same ``AttestationReport`` as ``verify_attestation`` on
the CBOR form, so both forms describe the same facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.core import CoreError, Message, commit, committed_keys, message_id, verify

from ._attestation import SINGLE_TYPE, AttestationReport, Statement, with_evidence
from ._errors import EvidenceMalformed

if TYPE_CHECKING:
    from devices.core import RsaWallet

    from ._verify import SnpVerification

MESSAGE_KIND = "aocore-attestation"
_FACT_KEYS = ("process", "slot", "result", "hashpath", "device-stack", "attester", "evidence")


def attestation_message(statement: Statement, wallet: RsaWallet) -> Message:
    """``statement`` as an AO-Core message committed by ``wallet`` (tagged with the hashpath).

    Raises:
        ValueError: ``statement.attester`` is not the wallet's address, or a device name is empty
            or holds a comma.
    """
    if statement.attester != wallet.address:
        raise ValueError("statement.attester must be the wallet's address")
    if any("," in d or not d for d in statement.device_stack):
        raise ValueError("device names in the stack must be non-empty and comma-free")
    facts: dict[str, object] = {**statement.facts(), "device-stack": ",".join(statement.device_stack)}
    msg = Message({"type": SINGLE_TYPE, **facts})
    return commit(msg, wallet, tag=statement.hashpath)


def is_attestation_message(msg: Message) -> bool:
    """Whether ``msg`` claims to be an attestation (says nothing about validity)."""
    return msg.get("type") == SINGLE_TYPE.encode()


def _text(msg: Message, key: str) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise EvidenceMalformed(f"attestation key {key!r} must be text")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvidenceMalformed(f"attestation key {key!r} is not UTF-8") from exc


def statement_from_message(msg: Message) -> Statement:
    """The statement an attestation message carries (no signature check).

    Raises:
        EvidenceMalformed: not an attestation message, or a fact is missing or mistyped.
    """
    if not is_attestation_message(msg):
        raise EvidenceMalformed(f"not an attestation message (type {msg.get('type')!r})")
    stack = _text(msg, "device-stack")
    facts: dict[str, object] = {k: _text(msg, k) for k in ("process", "result", "hashpath", "attester")}
    facts["slot"] = msg.get("slot")
    facts["device-stack"] = None if stack is None else [d for d in stack.split(",") if d]
    evidence = _text(msg, "evidence")
    if evidence is not None:
        facts["evidence"] = evidence
    missing = [k for k, v in facts.items() if v is None]
    if missing:
        raise EvidenceMalformed(f"attestation message lacks {missing[0]!r}")
    return Statement.from_facts(facts)


def verify_attestation_message(msg: Message, *, evidence: SnpVerification | None = None) -> AttestationReport:
    """Check an attestation message: its commitments, that the attester committed every fact.

    Returns ``valid=False`` with ``check`` ``"signature"`` (a commitment does not verify),
    ``"attester"`` (no verified commitment by the attester) or ``"committed"`` (a fact is outside
    the attester's commitment); ``"evidence"`` as ``with_evidence``.

    Raises:
        EvidenceMalformed: not an attestation message.
    """
    statement = statement_from_message(msg)
    try:
        ident = message_id(msg)
        report = verify(msg)
        covered = {k.lower() for k in committed_keys(msg)}
    except CoreError as exc:
        raise EvidenceMalformed(f"attestation message: {exc}") from exc
    base = AttestationReport(
        valid=True,
        kind=MESSAGE_KIND,
        id=ident,
        attester=statement.attester,
        facts=statement.facts(),
        committers=tuple(report.committers),
        statement=statement,
    )

    def invalid(check: str, error: str) -> AttestationReport:
        return AttestationReport(
            valid=False,
            kind=MESSAGE_KIND,
            id=ident,
            attester=statement.attester,
            facts=statement.facts(),
            committers=(),
            check=check,
            error=error,
            statement=statement,
        )

    if not report.valid:
        failed = ", ".join(f"{c.id}: {c.reason}" for c in report.failed)
        return invalid("signature", f"commitment does not verify: {failed}")
    if statement.attester not in report.committers:
        return invalid("attester", "no verified commitment by the attester")
    wanted = {"type", *(k for k in _FACT_KEYS if k in msg)}
    if not wanted <= covered:
        return invalid("committed", f"facts outside the commitment: {sorted(wanted - covered)}")
    return with_evidence(base, evidence)
