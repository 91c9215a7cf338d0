"""Random well-typed legacy-EH programs (flat WAT) for differential testing against V8.

Every construct is void-typed and all state lives in ``$acc``, so the generator only has to track
which enclosing labels are blocks, try bodies or catch handlers: ``br k`` may target any of them,
``rethrow k`` only a catch handler, ``delegate k`` any label or the function (= the caller).
"""

from __future__ import annotations

import random


def _stmt(rng: random.Random, labels: list[str], depth: int, out: list[str]) -> None:
    kinds = ["acc", "acc", "throw", "throw", "call"]
    if depth < 4:
        kinds += ["try", "try", "try_delegate", "block"]
    if labels:
        kinds.append("br")
    if "catch" in labels:
        kinds += ["rethrow", "rethrow"]
    kind = rng.choice(kinds)
    bit = 1 << rng.randrange(4)
    if kind == "acc":
        out += ["local.get $acc", "i32.const 3", "i32.mul", f"i32.const {rng.randrange(1, 50)}", "i32.add",
                "local.set $acc"]  # fmt: skip
    elif kind == "throw":
        payload = [f"i32.const {rng.randrange(100, 999)}", "throw $e"] if rng.random() < 0.7 else ["throw $f"]
        out += ["local.get $x", f"i32.const {bit}", "i32.and", "if", *payload, "end"]
    elif kind == "call":
        out += ["local.get $x", f"i32.const {bit}", "i32.and", "call $thrower"]
    elif kind == "br":
        k = rng.randrange(len(labels))
        out += ["local.get $x", f"i32.const {bit}", "i32.and", f"br_if {k}"]
    elif kind == "rethrow":
        targets = [k for k in range(len(labels)) if labels[-1 - k] == "catch"]
        out += [
            "local.get $x",
            f"i32.const {bit}",
            "i32.and",
            "if",
            f"rethrow {rng.choice(targets) + 1}",
            "end",
        ]
    elif kind == "block":
        out.append("block")
        _block(rng, [*labels, "block"], depth + 1, out)
        out.append("end")
    elif kind == "try_delegate":
        out.append("try")
        _block(rng, [*labels, "try"], depth + 1, out)
        out.append(f"delegate {rng.randrange(len(labels) + 1)}")
    else:
        out.append("try")
        _block(rng, [*labels, "try"], depth + 1, out)
        if rng.random() < 0.8:
            out += ["catch $e", "local.get $acc", "i32.add", "local.set $acc"]
            _block(rng, [*labels, "catch"], depth + 1, out)
        if rng.random() < 0.3:
            out += ["catch $f", "local.get $acc", "i32.const 7", "i32.add", "local.set $acc"]
            _block(rng, [*labels, "catch"], depth + 1, out)
        if rng.random() < 0.5:
            out += ["catch_all", "local.get $acc", "i32.const 1000", "i32.add", "local.set $acc"]
            _block(rng, [*labels, "catch"], depth + 1, out)
        out.append("end")


def _block(rng: random.Random, labels: list[str], depth: int, out: list[str]) -> None:
    for _ in range(rng.randrange(1, 4)):
        _stmt(rng, labels, depth, out)


def random_module(seed: int, functions: int) -> str:
    """A module exporting ``f0 … f{functions-1}``, each ``(param i32) (result i32)``."""
    rng = random.Random(seed)
    parts = [
        "(module",
        "  (tag $e (param i32))",
        "  (tag $f)",
        "  (func $thrower (param i32) local.get 0 if i32.const 77 throw $e end)",
    ]
    for n in range(functions):
        body: list[str] = []
        _block(rng, [], 0, body)
        parts.append(f'  (func (export "f{n}") (param $x i32) (result i32) (local $acc i32)')
        parts += [f"    {line}" for line in body]
        parts.append("    local.get $acc)")
    parts.append(")")
    return "\n".join(parts)
