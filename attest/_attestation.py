"""Result attestations: a signed statement about one computed result, alone or in a Merkle batch.

A ``Statement`` binds process id, slot, result id, hashpath, the execution device stack, the
attester's address and optionally an evidence reference (``SnpVerification.evidence_id``). Its
``facts()`` are a flat ``dict`` with string keys, the same names an AO-Core (httpsig) commitment
would use; the CBOR form is exactly ``cbor2.dumps(facts(), canonical=True)``.

Signatures (the ``alg`` field):

- ``"rsa-pss-sha256"``: an Arweave ``RsaWallet``, RSA-PSS with SHA-256, MGF1-SHA-256, salt 32;
  ``key`` is the modulus, so ``attester == address_of(key)``.
- ``"ed25519"``: an ``Ed25519Key``; ``key`` is the 32-byte public key.

Signed bytes are domain-separated: ``b"hyperpeer/attestation/1\\0" + cbor(facts)`` for a single
attestation, ``b"hyperpeer/attestation-batch/1\\0" + cbor({attester, count, root})`` for a batch
header, whose ``root`` is the Merkle root (see ``_merkle``) over ``cbor(facts)`` of each statement.
Decoding is strict: the input must be the canonical encoding of what it decodes to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import cbor2

from devices.core import (
    DecodeError,
    Ed25519Key,
    RsaWallet,
    address_of,
    b64u_decode,
    b64u_encode,
    ed25519_verify,
    rsa_pss_verify,
)

from ._errors import BatchProofInvalid, EvidenceInvalid, EvidenceMalformed
from ._leaf import statement_cbor
from ._merkle import leaf_hash, merkle_tree_proofs, root_from_proof

if TYPE_CHECKING:
    from ._verify import SnpVerification

Signer = RsaWallet | Ed25519Key
Fact = str | int | list[str]
SINGLE_TYPE = "attestation/1"
BATCH_TYPE = "attestation-batch/1"
BUNDLE_TYPE = "attestation-batch-proof/1"
_SINGLE_DOMAIN = b"hyperpeer/attestation/1\x00"
_BATCH_DOMAIN = b"hyperpeer/attestation-batch/1\x00"
MAX_ATTESTATION_BYTES = 1 << 20


def cbor_canonical(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def cbor_strict_loads(data: bytes) -> Any:
    """Decode CBOR that must be canonical and a map.

    Raises:
        EvidenceMalformed: not CBOR, not a map, too large, or not in canonical form.
    """
    if len(data) > MAX_ATTESTATION_BYTES:
        raise EvidenceMalformed(f"attestation larger than {MAX_ATTESTATION_BYTES} bytes")
    try:
        value = cbor2.loads(data)
        canonical = cbor_canonical(value)
    except (cbor2.CBORError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise EvidenceMalformed(f"not CBOR: {exc}") from exc
    if not isinstance(value, dict):
        raise EvidenceMalformed("attestation CBOR is not a map")
    if canonical != data:
        raise EvidenceMalformed("attestation CBOR is not canonical")
    return value


@dataclass(frozen=True, init=False)
class Statement:
    """What an attester claims about one result."""

    process: str
    slot: int
    result: str
    hashpath: str
    device_stack: tuple[str, ...]
    attester: str
    evidence: str | None = None

    def __init__(
        self,
        process: str,
        slot: int,
        result: str,
        hashpath: str,
        device_stack: tuple[str, ...],
        attester: str,
        evidence: str | None = None,
    ) -> None:
        # The dataclass ``__init__`` of a frozen class sets each field through ``object.__setattr__``
        # (twice the time); one is made per announced statement.
        fields = self.__dict__
        fields["process"] = process
        fields["slot"] = slot
        fields["result"] = result
        fields["hashpath"] = hashpath
        fields["device_stack"] = device_stack
        fields["attester"] = attester
        fields["evidence"] = evidence

    def facts(self) -> dict[str, Fact]:
        """The statement as string-keyed facts (the keys an AO-Core commitment would carry)."""
        out: dict[str, Fact] = {
            "process": self.process,
            "slot": self.slot,
            "result": self.result,
            "hashpath": self.hashpath,
            "device-stack": list(self.device_stack),
            "attester": self.attester,
        }
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out

    def to_cbor(self) -> bytes:
        """``cbor_canonical(facts())``, byte for byte (assembled by ``statement_cbor``). Memoised (the
        statement is immutable); it is the Merkle leaf of batches."""
        fields = self.__dict__
        cached: bytes | None = fields.get("_cbor")
        if cached is None:
            cached = fields["_cbor"] = statement_cbor(self)
        return cached

    @classmethod
    def from_facts(cls, facts: object) -> Statement:
        """Rebuild from ``facts()``.

        Raises:
            EvidenceMalformed: a key is missing, unknown or of the wrong type.
        """
        if type(facts) is not dict and not isinstance(facts, Mapping):  # decoded maps skip the ABC check
            raise EvidenceMalformed("statement is not a map")
        unknown = facts.keys() - _STATEMENT_KEYS
        if unknown:
            raise EvidenceMalformed(f"unknown statement keys {sorted(unknown)!r}")
        try:
            process, result = facts["process"], facts["result"]
            hashpath, attester = facts["hashpath"], facts["attester"]
            slot, stack = facts["slot"], facts["device-stack"]
        except KeyError as exc:
            raise EvidenceMalformed(f"statement lacks {exc.args[0]!r}") from exc
        evidence = facts.get("evidence")
        if not (
            isinstance(process, str)
            and isinstance(result, str)
            and isinstance(hashpath, str)
            and isinstance(attester, str)
            and (evidence is None or isinstance(evidence, str))
        ):
            raise EvidenceMalformed("statement ids must be text")
        if not isinstance(slot, int) or isinstance(slot, bool) or slot < 0:
            raise EvidenceMalformed("statement slot must be a non-negative integer")
        if not isinstance(stack, list) or not all(isinstance(d, str) for d in stack):
            raise EvidenceMalformed("statement device-stack must be a list of text")
        # Every field was just checked: fill the frozen instance directly (``__init__`` would set the
        # seven fields one ``object.__setattr__`` at a time; this runs once per gossiped statement).
        statement = cls.__new__(cls)
        statement.__dict__.update(
            process=process,
            slot=slot,
            result=result,
            hashpath=hashpath,
            device_stack=tuple(stack),
            attester=attester,
            evidence=evidence,
        )
        return statement


_STATEMENT_KEYS = frozenset({"process", "slot", "result", "hashpath", "device-stack", "attester", "evidence"})


def _sign(signer: Signer, message: bytes) -> tuple[str, bytes, bytes]:
    if isinstance(signer, RsaWallet):
        return "rsa-pss-sha256", signer.modulus, signer.sign_pss(message, "sha256", 32)
    return "ed25519", signer.public_bytes, signer.sign(message)


def _signature_ok(alg: str, key: bytes, message: bytes, signature: bytes) -> bool:
    if alg == "rsa-pss-sha256":
        return rsa_pss_verify(key, message, signature, "sha256")
    if alg == "ed25519":
        return ed25519_verify(key, message, signature)
    return False


@dataclass(frozen=True)
class AttestationReport:
    """The outcome of checking an attestation. ``hardware`` is None when no evidence was checked."""

    valid: bool
    kind: str
    id: str
    attester: str | None
    facts: dict[str, Fact]
    committers: tuple[str, ...] = ()
    hardware: bool | None = None
    check: str | None = None
    error: str | None = None
    statement: Statement | None = field(default=None, repr=False)

    def raise_for_invalid(self) -> None:
        """Raises ``BatchProofInvalid`` (check ``"proof"``) or ``EvidenceInvalid`` when not valid."""
        if self.valid:
            return
        if self.check == "proof":
            raise BatchProofInvalid(self.error or "inclusion proof does not verify")
        raise EvidenceInvalid(self.check or "signature", self.error or "attestation does not verify")


def sign_attestation(statement: Statement, signer: Signer) -> bytes:
    """One signed attestation in canonical CBOR.

    Raises:
        ValueError: ``statement.attester`` is not the signer's address.
    """
    if statement.attester != signer.address:
        raise ValueError("statement.attester must be the signer's address")
    facts = statement.facts()
    alg, key, sig = _sign(signer, _SINGLE_DOMAIN + cbor_canonical(facts))
    return cbor_canonical({"type": SINGLE_TYPE, "statement": facts, "alg": alg, "key": key, "signature": sig})


def _bytes_field(obj: Mapping[str, Any], name: str) -> bytes:
    value = obj.get(name)
    if not isinstance(value, bytes):
        raise EvidenceMalformed(f"attestation {name!r} must be a byte string")
    return value


def _alg_key_sig(obj: Mapping[str, Any]) -> tuple[str, bytes, bytes]:
    alg = obj.get("alg")
    if not isinstance(alg, str):
        raise EvidenceMalformed("attestation 'alg' must be text")
    return alg, _bytes_field(obj, "key"), _bytes_field(obj, "signature")


def _outcome(
    statement: Statement, kind: str, ident: str, *, check: str | None = None, error: str | None = None
) -> AttestationReport:
    return AttestationReport(
        valid=check is None,
        kind=kind,
        id=ident,
        attester=statement.attester,
        facts=statement.facts(),
        committers=(statement.attester,) if check is None else (),
        check=check,
        error=error,
        statement=statement,
    )


def _check_signed(
    statement: Statement, alg: str, key: bytes, sig: bytes, msg: bytes, kind: str, ident: str
) -> AttestationReport:
    if address_of(key) != statement.attester:
        return _outcome(statement, kind, ident, check="attester", error="key does not hash to the attester")
    if not _signature_ok(alg, key, msg, sig):
        return _outcome(statement, kind, ident, check="signature", error=f"{alg} signature does not verify")
    return _outcome(statement, kind, ident)


def with_evidence(report: AttestationReport, evidence: SnpVerification | None) -> AttestationReport:
    """Attach verified SNP evidence: sets ``hardware`` when the statement names this evidence
    (``evidence == SnpVerification.evidence_id``) and REPORT_DATA starts with the attester's raw
    address; otherwise the report becomes invalid with ``check="evidence"``.
    """
    if evidence is None or not report.valid or report.statement is None:
        return report
    statement = report.statement
    try:
        attester_raw = b64u_decode(statement.attester)
    except DecodeError:
        attester_raw = b""
    if statement.evidence != evidence.evidence_id:
        return replace(
            report,
            valid=False,
            committers=(),
            check="evidence",
            error="statement does not reference this evidence",
        )
    if evidence.report.report_data[:32] != attester_raw:
        return replace(
            report,
            valid=False,
            committers=(),
            check="evidence",
            error="evidence REPORT_DATA is not bound to the attester",
        )
    return replace(report, hardware=evidence.hardware)


def verify_attestation(data: bytes, *, evidence: SnpVerification | None = None) -> AttestationReport:
    """Check one attestation (``sign_attestation`` output), and optionally the evidence it names.

    Returns a report with ``valid=False`` and ``check`` (``"signature"``, ``"attester"``,
    ``"evidence"``) when the attestation is well-formed but does not verify.

    Raises:
        EvidenceMalformed: not a canonical CBOR attestation.
    """
    obj = cbor_strict_loads(data)
    if obj.get("type") != SINGLE_TYPE:
        raise EvidenceMalformed(f"not a single attestation (type {obj.get('type')!r})")
    statement = Statement.from_facts(obj.get("statement", {}))
    alg, key, sig = _alg_key_sig(obj)
    ident = b64u_encode(hashlib.sha256(data).digest())
    report = _check_signed(
        statement, alg, key, sig, _SINGLE_DOMAIN + statement.to_cbor(), "attestation", ident
    )
    return with_evidence(report, evidence)


@dataclass(frozen=True)
class BatchHeader:
    """One signature over the Merkle root of ``count`` statements by ``attester``."""

    root: bytes
    count: int
    attester: str
    alg: str
    key: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    def signed_bytes(self) -> bytes:
        return _BATCH_DOMAIN + cbor_canonical(
            {"attester": self.attester, "count": self.count, "root": self.root}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": BATCH_TYPE,
            "root": self.root,
            "count": self.count,
            "attester": self.attester,
            "alg": self.alg,
            "key": self.key,
            "signature": self.signature,
        }

    def encode(self) -> bytes:
        return cbor_canonical(self.to_dict())

    @property
    def id(self) -> str:
        return b64u_encode(hashlib.sha256(self.encode()).digest())

    @classmethod
    def from_dict(cls, obj: object) -> BatchHeader:
        if not isinstance(obj, Mapping) or obj.get("type") != BATCH_TYPE:
            raise EvidenceMalformed("not a batch header")
        count, attester = obj.get("count"), obj.get("attester")
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or count < 1
            or not isinstance(attester, str)
        ):
            raise EvidenceMalformed("batch header count/attester malformed")
        alg, key, sig = _alg_key_sig(obj)
        root = _bytes_field(obj, "root")
        if len(root) != 32:
            raise EvidenceMalformed("batch root must be 32 bytes")
        return cls(root=root, count=count, attester=attester, alg=alg, key=key, signature=sig)

    def signature_ok(self) -> bool:
        return address_of(self.key) == self.attester and _signature_ok(
            self.alg, self.key, self.signed_bytes(), self.signature
        )


@dataclass(frozen=True)
class Proof:
    """A statement's position in its batch and its sibling hashes, bottom-up."""

    index: int
    siblings: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "siblings": list(self.siblings)}

    @classmethod
    def from_dict(cls, obj: object) -> Proof:
        if not isinstance(obj, Mapping):
            raise EvidenceMalformed("batch proof is not a map")
        index, siblings = obj.get("index"), obj.get("siblings")
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not isinstance(siblings, list)
            or not all(isinstance(s, bytes) for s in siblings)
        ):
            raise EvidenceMalformed("batch proof malformed")
        return cls(index=index, siblings=tuple(siblings))


def sign_batch(statements: Sequence[Statement], signer: Signer) -> tuple[BatchHeader, list[Proof]]:
    """Sign many statements with one signature; returns the header and one proof per statement.

    Raises:
        ValueError: no statements, or a statement names another attester.
    """
    address = _batch_signer(statements, signer)
    root, paths = merkle_tree_proofs([leaf_hash(s.to_cbor()) for s in statements])
    header = sign_root(root, len(statements), address, signer)
    return header, [Proof(index=i, siblings=tuple(p)) for i, p in enumerate(paths)]


def _batch_signer(statements: Sequence[Statement], signer: Signer) -> str:
    """The signer's address, once every statement is checked to name it.

    Raises:
        ValueError: no statements, or a statement names another attester.
    """
    if not statements:
        raise ValueError("a batch needs at least one statement")
    address = signer.address  # hashes the key: once, not per statement
    if any(s.attester != address for s in statements):
        raise ValueError("every statement's attester must be the signer's address")
    return address


def sign_root(root: bytes, count: int, address: str, signer: Signer) -> BatchHeader:
    """The header signing ``root`` over ``count`` statements by ``address`` (``signer``'s)."""
    unsigned = BatchHeader(root, count, address, alg="", key=b"", signature=b"")
    alg, key, sig = _sign(signer, unsigned.signed_bytes())
    return BatchHeader(root, count, address, alg, key, sig)


def verify_with_proof(
    statement: Statement,
    proof: Proof,
    header: BatchHeader,
    *,
    header_checked: bool = False,
    evidence: SnpVerification | None = None,
) -> AttestationReport:
    """Check that ``statement`` is in the batch ``header`` signs. ``header_checked=True`` skips the
    header signature (when the caller already verified this header for earlier proofs).

    Returns a report with ``valid=False`` and ``check`` ``"proof"``, ``"attester"`` or
    ``"signature"`` (or ``"evidence"``, see ``with_evidence``) on failure; it never raises for a bad proof.
    """
    ident = f"{header.id}#{proof.index}"
    kind = "batched-attestation"
    if statement.attester != header.attester:
        return _outcome(
            statement, kind, ident, check="attester", error="statement attester is not the batch signer"
        )
    root = root_from_proof(leaf_hash(statement.to_cbor()), proof.index, header.count, proof.siblings)
    if root != header.root:
        return _outcome(
            statement, kind, ident, check="proof", error="inclusion proof does not lead to the root"
        )
    if not header_checked and not header.signature_ok():
        return _outcome(
            statement, kind, ident, check="signature", error="batch header signature does not verify"
        )
    return with_evidence(_outcome(statement, kind, ident), evidence)


def encode_batched_attestation(statement: Statement, proof: Proof, header: BatchHeader) -> bytes:
    """One self-contained file: statement + proof + header (what ``verify_file`` accepts)."""
    return cbor_canonical(
        {
            "type": BUNDLE_TYPE,
            "statement": statement.facts(),
            "proof": proof.to_dict(),
            "header": header.to_dict(),
        }
    )


def verify_batched_attestation(data: bytes) -> AttestationReport:
    """Check an ``encode_batched_attestation`` bundle.

    Raises:
        EvidenceMalformed: not a canonical CBOR bundle.
    """
    obj = cbor_strict_loads(data)
    if obj.get("type") != BUNDLE_TYPE:
        raise EvidenceMalformed(f"not a batched attestation (type {obj.get('type')!r})")
    header = BatchHeader.from_dict(obj.get("header", {}))
    proof = Proof.from_dict(obj.get("proof", {}))
    return verify_with_proof(Statement.from_facts(obj.get("statement", {})), proof, header)
