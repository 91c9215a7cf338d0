"""Fixtures for the WASM layer: one runtime (and disk cache) per test session, vector loaders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devices.wasm import WasmRuntime
from tests.conftest import vector_path

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent


def read_vector(name: str) -> bytes:
    """Bytes of a HyperBEAM test module (skips the test when the vectors are absent)."""
    return vector_path("hyperbeam-test-data", name).read_bytes()


@pytest.fixture(scope="session")
def cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prepared and compiled modules persist in pytest's cache dir, so aos compiles once per machine."""
    cache = getattr(request.config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return tmp_path_factory.mktemp("wasm-modules")
    return Path(cache.mkdir("hyperpeer-wasm-modules"))


@pytest.fixture(scope="session")
def runtime(cache_dir: Path) -> WasmRuntime:
    return WasmRuntime(cache_dir)


@pytest.fixture
def wat() -> Callable[[str], bytes]:
    import wasmtime

    def assemble(source: str) -> bytes:
        return bytes(wasmtime.wat2wasm(source))

    return assemble
