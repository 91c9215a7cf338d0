"""House rules that are cheap to check mechanically (STYLE.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

_PACKAGES = ("node", "p2p", "devices", "attest")


def _tracked_python() -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:  # not a git checkout: walk the tree
        return [str(p.relative_to(ROOT)) for pkg in _PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return out.stdout.split()


def test_ruff_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_libp2p_is_imported_only_in_p2p() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+libp2p\b", re.M)
    offenders = [
        path for path in _tracked_python()
        if path.split("/")[0] in _PACKAGES and not path.startswith("p2p/")
        and pattern.search((ROOT / path).read_text("utf-8"))
    ]
    assert offenders == []


def test_library_modules_stay_small() -> None:
    big = []
    for path in _tracked_python():
        if path.split("/")[0] in _PACKAGES:
            lines = (ROOT / path).read_text("utf-8").count("\n")
            if lines > 600:
                big.append((path, lines))
    assert big == [], "modules over 600 lines: split them"


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"), *_PACKAGES],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
