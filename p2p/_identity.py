"""The node's persisted Ed25519 identity seed: our own file, not libp2p's cwd-relative helpers.

The seed is 32 raw bytes in ``<data_dir>/p2p-ed25519.seed`` with mode 0600, written to a temporary file,
fsync'd, renamed into place and the directory fsync'd, so a crash never leaves a torn key. The same seed can
back ``devices.core.Ed25519Key.from_seed`` so that the libp2p peer ID and the attester key coincide.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from p2p._errors import P2PError

SEED_FILE = "p2p-ed25519.seed"
SEED_BYTES = 32


class IdentityError(P2PError):
    """The identity file is unreadable, malformed or too permissive."""

    status_hint = 500


def load_or_create_seed(data_dir: Path | str) -> bytes:
    """Return the seed stored in ``data_dir``, creating the directory and a fresh seed on first use.

    Raises:
        IdentityError: the file has the wrong size, is readable by group/others, or cannot be written.
    """
    directory = Path(data_dir)
    path = directory / SEED_FILE
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists():
            return _read(path)
        seed = secrets.token_bytes(SEED_BYTES)
        _write_atomically(path, seed)
    except OSError as exc:
        raise IdentityError(f"cannot use identity file {path}: {exc.strerror or exc}") from exc
    return seed


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise IdentityError(f"identity file {path} has mode {mode:o}; it must be 0600")
    seed = path.read_bytes()
    if len(seed) != SEED_BYTES:
        raise IdentityError(f"identity file {path} holds {len(seed)} bytes, not {SEED_BYTES}")
    return seed


def _write_atomically(path: Path, seed: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(seed)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
