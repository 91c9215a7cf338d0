"""Attestations and SEV-SNP evidence: synchronous, pure, never importing trio or libp2p.

Theory of operation:

1. **Evidence.** An SEV-SNP report is 1184 raw bytes (``SnpReport``, canonical); HyperBEAM's JSON is
   a transport form that rebuilds those bytes exactly. ``report_data_binding(address, node_msg_id)``
   gives the 64 bytes REPORT_DATA must equal — HyperBEAM never checks that; we always ask for it.
2. **Producing evidence.** An ``SnpProvider`` turns 64 bytes of report data into ``Evidence``:
   ``ConfigfsTsmProvider`` (configfs-tsm), ``SevGuestIoctlProvider`` (``/dev/sev-guest``), or
   ``SimulatedSnpProvider`` (kind ``snp-sim``, device ``snp-sim@1.0``, a "SIMULATED - NOT AMD"
   chain that exists only in this process).
3. **Verifying evidence.** ``verify_snp`` checks, in order: parse rules, the ARK pinned by SHA-256
   fingerprint (``AMD_ARK_SHA256``; never chosen by the message), ASK and VCEK signatures
   (RSA-PSS/SHA-384/48), VCEK validity, hwID and SPLs against REPORTED_TCB, the ECDSA P-384 report
   signature, guest policy (debug off), VMPL, minimum TCB, REPORT_DATA and MEASUREMENT (against
   trusted digests, or recomputed from HyperBEAM's ``local-hashes`` by ``launch_digest`` and matched
   as a whole against ``trusted_software``). It returns
   ``SnpVerification(trust="amd-hardware" | "simulated")`` or raises ``EvidenceInvalid(check=...)``.
   Simulated evidence is accepted only under ``VerifierPolicy.simulation(sim_roots)`` and never
   reports ``hardware``.
4. **Result attestations.** A ``Statement`` (process, slot, result, hashpath, device stack, attester,
   optional evidence id) is signed alone (``sign_attestation``, canonical CBOR) or many at once
   (``sign_batch``: one signature over a domain-separated SHA-256 Merkle root, one ``Proof`` each).
   ``facts()`` gives the same content as a string-keyed dict; ``attestation_message`` commits it
   as an AO-Core message (httpsig, node wallet) and ``verify_attestation_message`` /
   ``statement_from_message`` read it back: both forms verify to the same facts.
5. **Files.** ``verify_file`` detects a file's kind and answers one JSON-able dict for the CLI.

Errors::

    AttestError
    ├── EvidenceMalformed        cannot parse (reason, offset)
    ├── EvidenceInvalid          a named check failed (.check: "signature", "chain", "tcb", ...)
    │   ├── ChainInvalid         no path to a pinned root
    │   └── PolicyRejected       authentic, but refused by policy ("debug", "vmpl", "report_data", ...)
    ├── BatchProofInvalid        an inclusion proof does not reach the batch root
    ├── VcekUnavailable          no VCEK (cache miss, KDS down)
    └── ProviderError            the guest device failed to produce a report
"""

from __future__ import annotations

from ._aocore import MESSAGE_KIND as MESSAGE_KIND
from ._aocore import attestation_message as attestation_message
from ._aocore import is_attestation_message as is_attestation_message
from ._aocore import statement_from_message as statement_from_message
from ._aocore import verify_attestation_message as verify_attestation_message
from ._attestation import AttestationReport as AttestationReport
from ._attestation import BatchHeader as BatchHeader
from ._attestation import Proof as Proof
from ._attestation import Signer as Signer
from ._attestation import Statement as Statement
from ._attestation import encode_batched_attestation as encode_batched_attestation
from ._attestation import sign_attestation as sign_attestation
from ._attestation import sign_batch as sign_batch
from ._attestation import verify_attestation as verify_attestation
from ._attestation import verify_batched_attestation as verify_batched_attestation
from ._attestation import verify_with_proof as verify_with_proof
from ._attestation import with_evidence as with_evidence
from ._certs import AMD_ARK_SHA256 as AMD_ARK_SHA256
from ._certs import AMD_ASK_SHA256 as AMD_ASK_SHA256
from ._certs import CaChain as CaChain
from ._certs import VcekExtensions as VcekExtensions
from ._certs import fingerprint as fingerprint
from ._certs import is_simulated_cert as is_simulated_cert
from ._certs import load_certificates as load_certificates
from ._certs import vcek_extensions as vcek_extensions
from ._certs import verify_ca_chain as verify_ca_chain
from ._compact import bundle_at as bundle_at
from ._compact import open_compact as open_compact
from ._compact import sign_compact as sign_compact
from ._errors import AttestError as AttestError
from ._errors import BatchProofInvalid as BatchProofInvalid
from ._errors import ChainInvalid as ChainInvalid
from ._errors import EvidenceInvalid as EvidenceInvalid
from ._errors import EvidenceMalformed as EvidenceMalformed
from ._errors import PolicyRejected as PolicyRejected
from ._errors import ProviderError as ProviderError
from ._errors import VcekUnavailable as VcekUnavailable
from ._file import decode_evidence as decode_evidence
from ._file import encode_evidence as encode_evidence
from ._file import verify_file as verify_file
from ._measure import COMMITTED_PARAMETERS as COMMITTED_PARAMETERS
from ._measure import OVMF_AMDSEV_2023 as OVMF_AMDSEV_2023
from ._measure import LaunchParameters as LaunchParameters
from ._measure import OvmfLayout as OvmfLayout
from ._measure import launch_digest as launch_digest
from ._measure import match_trusted as match_trusted
from ._measure import ovmf_layout as ovmf_layout
from ._merkle import merkle_root as merkle_root
from ._message import decode_nonce as decode_nonce
from ._message import generate_snp_message as generate_snp_message
from ._message import message_nonce as message_nonce
from ._message import snp_message_fields as snp_message_fields
from ._message import verify_snp_message as verify_snp_message
from ._provider import ConfigfsTsmProvider as ConfigfsTsmProvider
from ._provider import Evidence as Evidence
from ._provider import SevGuestIoctlProvider as SevGuestIoctlProvider
from ._provider import SnpProvider as SnpProvider
from ._report import Product as Product
from ._report import SnpReport as SnpReport
from ._report import Tcb as Tcb
from ._sim import SIM_DEVICE as SIM_DEVICE
from ._sim import SimulatedChain as SimulatedChain
from ._sim import SimulatedSnpProvider as SimulatedSnpProvider
from ._vcek import CertPool as CertPool
from ._vcek import FirstVcek as FirstVcek
from ._vcek import KdsClient as KdsClient
from ._vcek import StaticVcek as StaticVcek
from ._vcek import VcekCache as VcekCache
from ._vcek import VcekSource as VcekSource
from ._vcek import build_cert_table as build_cert_table
from ._vcek import http_fetch as http_fetch
from ._vcek import kds_chain_url as kds_chain_url
from ._vcek import kds_vcek_url as kds_vcek_url
from ._vcek import parse_cert_table as parse_cert_table
from ._verify import SIM_CHIP_MARKER as SIM_CHIP_MARKER
from ._verify import SnpVerification as SnpVerification
from ._verify import VerifierPolicy as VerifierPolicy
from ._verify import report_data_binding as report_data_binding
from ._verify import verify_snp as verify_snp

__all__ = [
    "AMD_ARK_SHA256",
    "AMD_ASK_SHA256",
    "COMMITTED_PARAMETERS",
    "MESSAGE_KIND",
    "OVMF_AMDSEV_2023",
    "SIM_CHIP_MARKER",
    "SIM_DEVICE",
    "AttestError",
    "AttestationReport",
    "BatchHeader",
    "BatchProofInvalid",
    "CaChain",
    "CertPool",
    "ChainInvalid",
    "ConfigfsTsmProvider",
    "Evidence",
    "EvidenceInvalid",
    "EvidenceMalformed",
    "FirstVcek",
    "KdsClient",
    "LaunchParameters",
    "OvmfLayout",
    "PolicyRejected",
    "Product",
    "Proof",
    "ProviderError",
    "SevGuestIoctlProvider",
    "Signer",
    "SimulatedChain",
    "SimulatedSnpProvider",
    "SnpProvider",
    "SnpReport",
    "SnpVerification",
    "Statement",
    "StaticVcek",
    "Tcb",
    "VcekCache",
    "VcekExtensions",
    "VcekSource",
    "VcekUnavailable",
    "VerifierPolicy",
    "attestation_message",
    "build_cert_table",
    "bundle_at",
    "decode_evidence",
    "decode_nonce",
    "encode_batched_attestation",
    "encode_evidence",
    "fingerprint",
    "generate_snp_message",
    "http_fetch",
    "is_attestation_message",
    "is_simulated_cert",
    "kds_chain_url",
    "kds_vcek_url",
    "launch_digest",
    "load_certificates",
    "match_trusted",
    "merkle_root",
    "message_nonce",
    "open_compact",
    "ovmf_layout",
    "parse_cert_table",
    "report_data_binding",
    "sign_attestation",
    "sign_batch",
    "sign_compact",
    "snp_message_fields",
    "statement_from_message",
    "vcek_extensions",
    "verify_attestation",
    "verify_attestation_message",
    "verify_batched_attestation",
    "verify_ca_chain",
    "verify_file",
    "verify_snp",
    "verify_snp_message",
    "verify_with_proof",
    "with_evidence",
]
