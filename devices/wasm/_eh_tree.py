"""The control tree of one function body, as the legacy-EH translator sees it.

``build`` turns the decoder's flat instruction list into nested regions (function body, block,
loop, if-arms, try bodies, catch handlers); runs of ordinary instructions stay byte spans.
``analyse`` marks the regions some ``delegate`` targets (they need a re-throw pad) and the catch
handlers some ``rethrow`` targets (they need the caught ``exnref``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._errors import WasmDecodeError, WasmTranslateError
from ._opcodes import (
    BLOCK,
    BR_TABLE,
    CATCH,
    CATCH_ALL,
    DELEGATE,
    ELSE,
    END,
    IF,
    LOOP,
    RETHROW,
    TRY,
    TRY_TABLE,
    Instr,
)

_BRANCHES = frozenset({0x0C, 0x0D, 0xD5, 0xD6})
_TERMINATORS = frozenset({END, ELSE, CATCH, CATCH_ALL, DELEGATE})
_STRUCTURAL = _TERMINATORS | _BRANCHES | {BLOCK, LOOP, IF, TRY, TRY_TABLE, BR_TABLE, RETHROW}
MAX_NESTING = 200  # Python recursion bounds the tree walk; real modules nest < 60


@dataclass(eq=False)
class Region:
    """A sequence of nodes: byte spans ``[start, end]`` and the constructs below."""

    nodes: list[object] = field(default_factory=list)
    needs_pad: bool = False
    needs_ref: bool = False
    is_handler: bool = False


@dataclass(eq=False)
class Block:
    """``block`` or ``loop`` (``op``) with its block type (index or None, raw bytes)."""

    op: int
    bt: tuple[int | None, bytes]
    body: Region


@dataclass(eq=False)
class If:
    """``if`` with its then-arm and optional else-arm."""

    bt: tuple[int | None, bytes]
    then: Region
    other: Region | None


@dataclass(eq=False)
class Try:
    """Legacy ``try``: body, ``(tag or None for catch_all, handler)`` list, delegate label."""

    bt: tuple[int | None, bytes]
    body: Region
    catches: list[tuple[int | None, Region]]
    delegate: int | None


@dataclass(eq=False)
class TryTable:
    """An exnref ``try_table`` already in the input: catch clauses ``(kind, tag, label)``."""

    bt: tuple[int | None, bytes]
    catches: list[tuple[int, int | None, int]]
    body: Region


@dataclass(frozen=True)
class Branch:
    """``br``/``br_if``/``br_on_*``/``br_table``/``rethrow`` with its label(s)."""

    op: int
    labels: tuple[int, ...]


def build(code: bytes, instrs: list[Instr], base: int) -> Region:
    """Turn the flat instruction list into a tree of regions."""
    pos = 0

    def blocktype(arg: object) -> tuple[int | None, bytes]:
        bt_idx, bt_start, bt_end = arg[:3]  # type: ignore[index]
        return bt_idx, code[bt_start:bt_end]

    def region(depth: int) -> tuple[Region, Instr]:
        nonlocal pos
        if depth > MAX_NESTING:
            raise WasmTranslateError("control nesting too deep", offset=base)
        reg = Region()
        run: list[int] | None = None
        while pos < len(instrs):
            ins = instrs[pos]
            op, start, end, arg = ins
            pos += 1
            if op not in _STRUCTURAL:
                if run is not None and run[1] == start:
                    run[1] = end
                else:
                    run = [start, end]
                    reg.nodes.append(run)
                continue
            run = None
            if op in _TERMINATORS:
                return reg, ins
            if op in _BRANCHES or op == RETHROW:
                reg.nodes.append(Branch(op, (arg,)))  # type: ignore[arg-type]
            elif op == BR_TABLE:
                reg.nodes.append(Branch(op, tuple(arg)))  # type: ignore[arg-type]
            elif op == TRY_TABLE:
                body, term = region(depth + 1)
                _expect(term, END, base)
                reg.nodes.append(TryTable(blocktype(arg), list(arg[3]), body))  # type: ignore[index]
            elif op in (BLOCK, LOOP):
                body, term = region(depth + 1)
                _expect(term, END, base)
                reg.nodes.append(Block(op, blocktype(arg), body))
            elif op == IF:
                then, term = region(depth + 1)
                other = None
                if term[0] == ELSE:
                    other, term = region(depth + 1)
                _expect(term, END, base)
                reg.nodes.append(If(blocktype(arg), then, other))
            else:  # legacy try
                body, term = region(depth + 1)
                catches: list[tuple[int | None, Region]] = []
                while term[0] in (CATCH, CATCH_ALL):
                    if catches and catches[-1][0] is None:
                        raise WasmDecodeError("catch after catch_all", offset=base + term[1])
                    tag = term[3] if term[0] == CATCH else None
                    handler, term = region(depth + 1)
                    handler.is_handler = True
                    catches.append((tag, handler))  # type: ignore[arg-type]
                delegate = None
                if term[0] == DELEGATE:
                    if catches:
                        raise WasmDecodeError("delegate after catch", offset=base + term[1])
                    delegate = term[3]
                else:
                    _expect(term, END, base)
                reg.nodes.append(Try(blocktype(arg), body, catches, delegate))  # type: ignore[arg-type]
        raise WasmDecodeError("function body ends inside a block", offset=base)

    top, term = region(0)
    _expect(term, END, base)
    if pos != len(instrs):
        raise WasmDecodeError("instructions after the function's final end", offset=base)
    return top


def _expect(ins: Instr, op: int, base: int) -> None:
    if ins[0] != op:
        raise WasmDecodeError(f"unexpected opcode 0x{ins[0]:02x}", offset=base + ins[1])


def analyse(reg: Region, stack: list[Region], base: int) -> None:
    """Mark delegate targets (they need a pad) and rethrow targets (they need the exnref)."""
    stack.append(reg)
    for node in reg.nodes:
        if isinstance(node, Block | TryTable):
            analyse(node.body, stack, base)
        elif isinstance(node, If):
            analyse(node.then, stack, base)
            if node.other is not None:
                analyse(node.other, stack, base)
        elif isinstance(node, Try):
            analyse(node.body, stack, base)
            for _, handler in node.catches:
                analyse(handler, stack, base)
            if node.delegate is not None:
                if node.delegate >= len(stack):
                    raise WasmDecodeError("delegate label out of range", offset=base)
                stack[-1 - node.delegate].needs_pad = True
        elif isinstance(node, Branch) and node.op == RETHROW:
            k = node.labels[0]
            if k >= len(stack) or not stack[-1 - k].is_handler:
                raise WasmDecodeError("rethrow label does not name a catch", offset=base)
            stack[-1 - k].needs_ref = True
    stack.pop()
