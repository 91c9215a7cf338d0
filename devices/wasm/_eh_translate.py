"""Rewrite legacy WebAssembly exception handling into the standard exnref form.

Legacy ``try``/``catch``/``catch_all``/``rethrow``/``delegate`` (what ``-fwasm-exceptions`` builds of
aos-2 contain) is rejected by wasmtime; the exnref form (``try_table``, ``throw_ref``) is accepted.
Only function bodies that contain a legacy instruction are re-encoded; every other byte of the module
is kept as it was. The output is a pure function of the input (deterministic).

Rewrite rules (``bt`` = the try's block type, which must not take parameters):

1. ``try bt B catch $t1 H1 … catch_all Hn end`` becomes::

       block bt                                   ;; $outer: the try's label inside handlers
         block (result <params of tag n> exnref?) ;; $hn … one block per handler, outermost = last
           block (result <params of $t1> exnref?) ;; $h1
             try_table bt (catch[_ref] $t1 $h1) … (catch_all[_ref] $hn)
               B                                  ;; the try's label inside B = this try_table
             end
             br $outer
           end
           local.set $exn_d                       ;; only when a rethrow targets this handler
           H1
           br $outer
         end …
         Hn
       end

   A handler gets the ``_ref`` clause (and an ``exnref`` local, one per nesting depth of such
   handlers) only if some ``rethrow`` targets it; ``rethrow k`` becomes ``local.get $exn_d; throw_ref``.
2. A region (block/loop/if-arm/try body/handler/function body) that some ``delegate`` targets is
   wrapped as ``block bt (block (result exnref) (try_table bt (catch_all_ref $pad) R) br 1) throw_ref``
   and ``try bt B delegate k`` becomes ``try_table bt (catch_all_ref <pad of label k>) B end``: the
   exception is re-thrown at the outermost level of the target's region, i.e. it reaches exactly
   the handlers that enclose label ``k`` (the caller, when ``k`` is the function's label). A catch
   handler wrapped this way first parks its payload in fresh locals and re-pushes it inside.
3. A ``try`` with neither catches nor ``delegate`` is a ``block``. Every branch label is remapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._binary import (
    EXNREF,
    SEC_CODE,
    SEC_TYPE,
    FuncBody,
    FuncType,
    Module,
    enc_s,
    enc_u,
    encode_code,
    encode_module,
    encode_types,
    parse_module,
)
from ._eh_tree import Block, Branch, If, Region, Try, TryTable, analyse, build
from ._errors import WasmDecodeError, WasmTranslateError
from ._opcodes import (
    BLOCK,
    BR_TABLE,
    ELSE,
    END,
    IF,
    RETHROW,
    THROW_REF,
    TRY_TABLE,
    Instr,
    decode,
    has_legacy_eh,
)


@dataclass
class _Frame:
    target: int  # absolute index (0 = function label) a branch to this original label goes to
    region: Region
    exn_local: int | None = None
    pad: int | None = None


class _Emitter:
    """Re-encodes one function tree; label depths are tracked as absolute indices (0 = function)."""

    def __init__(self, code: bytes, mod: Module, base: int) -> None:
        self.code = code
        self.mod = mod
        self.types: list[FuncType] = mod.types  # type: ignore[assignment]  # GC types are rejected earlier
        self.tag_types = mod.tag_types
        self.base = base
        self.out = bytearray()
        self.nd = 1  # open labels, the function's own label included
        self.frames: list[_Frame] = []
        self.local_base = 0  # index of the first local this rewrite adds
        self.new_locals: list[bytes] = []  # value types of the added locals, in index order
        self.exn_locals: dict[int, int] = {}  # handler nesting depth -> its exnref local
        self.exn_depth = 0

    def rel(self, absolute: int) -> bytes:
        return enc_u(self.nd - 1 - absolute)

    def open(self, op: int, bt_raw: bytes) -> int:
        self.out.append(op)
        self.out += bt_raw
        self.nd += 1
        return self.nd - 1

    def close(self) -> None:
        self.out.append(END)
        self.nd -= 1

    def blocktype(self, results: tuple[bytes, ...]) -> bytes:
        if not results:
            return b"\x40"
        if len(results) == 1:
            return results[0]
        want = FuncType((), results)
        if want in self.types:
            return enc_s(self.types.index(want))
        self.types.append(want)
        return enc_s(len(self.types) - 1)

    def no_params(self, bt: tuple[int | None, bytes], what: str) -> bytes:
        if bt[0] is not None and self.mod.type_at(bt[0]).params:
            raise WasmTranslateError(f"{what} with block parameters is not supported", offset=self.base)
        return bt[1]

    def tag_params(self, tag: int) -> tuple[bytes, ...]:
        if tag >= len(self.tag_types):
            raise WasmDecodeError(f"tag index {tag} out of range", offset=self.base)
        return self.mod.type_at(self.tag_types[tag]).params

    def add_local(self, valtype: bytes) -> int:
        self.new_locals.append(valtype)
        return self.local_base + len(self.new_locals) - 1

    def region(
        self,
        reg: Region,
        target: int,
        bt: tuple[int | None, bytes],
        exn: int | None = None,
        params: tuple[bytes, ...] = (),
    ) -> None:
        """Emit a region; ``params`` are the values it starts with on the stack (a catch's payload)."""
        frame = _Frame(target, reg, exn)
        self.frames.append(frame)
        if reg.needs_pad:
            bt_raw = self.no_params(bt, "delegate target")
            # the payload cannot flow into the wrapper blocks: park it in locals, re-push inside
            stash = [self.add_local(vt) for vt in params]
            for local in reversed(stash):
                self.out += b"\x21" + enc_u(local)
            done = self.open(BLOCK, bt_raw)
            frame.pad = self.open(BLOCK, bytes([EXNREF]))
            self.out += bytes([TRY_TABLE]) + bt_raw + b"\x01\x03" + self.rel(frame.pad)
            self.nd += 1
            for local in stash:
                self.out += b"\x20" + enc_u(local)
            self.nodes(reg.nodes)
            self.close()
            self.out += b"\x0c" + self.rel(done)
            self.close()
            self.out.append(THROW_REF)
            self.close()
        else:
            self.nodes(reg.nodes)
        self.frames.pop()

    def frame(self, k: int) -> _Frame:
        if k >= len(self.frames):
            raise WasmDecodeError("branch label out of range", offset=self.base)
        return self.frames[-1 - k]

    def nodes(self, nodes: list[object]) -> None:
        out = self.out
        for node in nodes:
            if isinstance(node, list):
                out += self.code[node[0] : node[1]]
            elif isinstance(node, Branch):
                self.branch(node)
            elif isinstance(node, Block):
                self.region(node.body, self.open(node.op, node.bt[1]), node.bt)
                self.close()
            elif isinstance(node, If):
                target = self.open(IF, node.bt[1])
                self.region(node.then, target, node.bt)
                if node.other is not None:
                    out.append(ELSE)
                    self.region(node.other, target, node.bt)
                self.close()
            elif isinstance(node, TryTable):
                out.append(TRY_TABLE)
                out += node.bt[1] + enc_u(len(node.catches))
                for kind, tag, label in node.catches:
                    out.append(kind)
                    if tag is not None:
                        out += enc_u(tag)
                    out += self.rel(self.frame(label).target)
                self.nd += 1
                self.region(node.body, self.nd - 1, node.bt)
                self.close()
            elif isinstance(node, Try):
                self.try_(node)

    def branch(self, node: Branch) -> None:
        if node.op == RETHROW:
            local = self.frame(node.labels[0]).exn_local
            if local is None:
                raise WasmDecodeError("rethrow label does not name a catch", offset=self.base)
            self.out += b"\x20" + enc_u(local) + bytes([THROW_REF])
            return
        self.out.append(node.op)
        if node.op == BR_TABLE:
            self.out += enc_u(len(node.labels) - 1)
        for k in node.labels:
            self.out += self.rel(self.frame(k).target)

    def try_(self, node: Try) -> None:
        if node.delegate is not None:
            pad = self.frame(node.delegate).pad
            if pad is None:  # pragma: no cover - analyse marks every delegate target
                raise WasmTranslateError("delegate target has no pad", offset=self.base)
            self.out += bytes([TRY_TABLE]) + node.bt[1] + b"\x01\x03" + self.rel(pad)
            self.nd += 1
            self.region(node.body, self.nd - 1, node.bt)
            self.close()
            return
        if not node.catches:
            self.region(node.body, self.open(BLOCK, node.bt[1]), node.bt)
            self.close()
            return
        bt_raw = self.no_params(node.bt, "try")
        outer = self.open(BLOCK, bt_raw)
        n = len(node.catches)
        handler_abs = [0] * n
        clauses = bytearray(enc_u(n))
        for i in reversed(range(n)):
            tag, handler = node.catches[i]
            results = self.tag_params(tag) if tag is not None else ()
            if handler.needs_ref:
                results = (*results, bytes([EXNREF]))
            handler_abs[i] = self.open(BLOCK, self.blocktype(results))
        for i, (tag, handler) in enumerate(node.catches):
            clauses.append((0 if tag is not None else 2) + (1 if handler.needs_ref else 0))
            if tag is not None:
                clauses += enc_u(tag)
            clauses += self.rel(handler_abs[i])
        self.out += bytes([TRY_TABLE]) + bt_raw + clauses
        self.nd += 1
        self.region(node.body, self.nd - 1, node.bt)
        self.close()
        self.out += b"\x0c" + self.rel(outer)
        for i, (tag, handler) in enumerate(node.catches):
            self.close()
            local = None
            if handler.needs_ref:
                local = self.exn_locals.get(self.exn_depth)
                if local is None:
                    local = self.exn_locals[self.exn_depth] = self.add_local(bytes([EXNREF]))
                self.out += b"\x21" + enc_u(local)
                self.exn_depth += 1
            params = self.tag_params(tag) if tag is not None else ()
            self.region(handler, outer, node.bt, local, params)
            if handler.needs_ref:
                self.exn_depth -= 1
            if i < n - 1:
                self.out += b"\x0c" + self.rel(outer)
        self.close()


def _translate_body(mod: Module, index: int, body: FuncBody, instrs: list[Instr]) -> FuncBody:
    tree = build(body.code, instrs, body.offset)
    analyse(tree, [], body.offset)
    ftype = mod.defined_func_type(index)
    em = _Emitter(body.code, mod, body.offset)
    em.local_base = len(ftype.params) + body.declared_locals()
    em.region(tree, 0, (None, em.blocktype(ftype.results)))
    em.out.append(END)
    groups = body.groups_raw
    num_groups = body.num_local_groups
    run_start = 0
    for i in range(1, len(em.new_locals) + 1):  # one declaration group per run of equal types
        if i == len(em.new_locals) or em.new_locals[i] != em.new_locals[run_start]:
            groups += enc_u(i - run_start) + em.new_locals[run_start]
            num_groups += 1
            run_start = i
    code = bytes(em.out)
    raw = enc_u(num_groups) + groups + code
    return FuncBody(raw, groups, num_groups, code, body.offset)


def translate_legacy_eh(image: bytes) -> bytes:
    """Return ``image`` with legacy exception handling rewritten to exnref form.

    A module without legacy EH instructions is returned unchanged (the same bytes object).

    Raises:
        WasmDecodeError: the module is malformed.
        WasmTranslateError: the module uses a construct the rewrite does not support
            (a ``try`` with block parameters, GC types).
    """
    mod = parse_module(image)
    changed = False
    new_bodies: list[FuncBody] = []
    for i, body in enumerate(mod.bodies):
        instrs = decode(body.code, body.offset)
        if has_legacy_eh(instrs):
            if any(t is None for t in mod.types):
                raise WasmTranslateError("modules with GC types are not supported")
            new_bodies.append(_translate_body(mod, i, body, instrs))
            changed = True
        else:
            new_bodies.append(body)
    if not changed:
        return image
    sections: list[tuple[int, bytes]] = []
    for sid, payload in mod.sections:
        if sid == SEC_TYPE:
            payload = encode_types([mod.type_at(i) for i in range(len(mod.types))])
        elif sid == SEC_CODE:
            payload = encode_code(new_bodies)
        sections.append((sid, payload))
    return encode_module(sections)
