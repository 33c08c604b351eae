"""Context accesses after verification (the kernel's convert_ctx_accesses), the speculation
barriers inserted with them, and prog->aux->max_ctx_offset.
"""

from __future__ import annotations

from harness.isa import Insn
from harness.kernel.patcher import _JMP, _JMP32, _OP_CALL, _OP_EXIT, _OP_JA, LD_IMM64, Xlated, patch_many

# # A program reads `__sk_buff.data` / `xdp_md.data_end` as u32 fields, but what it gets is a
# 64-bit packet pointer: the kernel rewrites those loads to read the real pointer from its
# internal context.  We do the same: the run-time context region is the UAPI struct
# followed by one u64 per pointer field (progtypes.CtxLayout.hidden_offset), and loads of a
# pointer field through a register known to hold the context become u64 loads from there.
# Which registers hold the context comes from a small forward data-flow pass over the
# entry function (r1 at entry, copies by `rX = rY`, intersection at joins), which covers
# what compilers emit, spills and fills of the pointer on the stack included; the kernel uses
# the verifier's pointer types for the same decision.

_LDX_MEM = 0x61 & ~0x18          # BPF_LDX | BPF_MEM; size bits added per access
_SIZE_W, _SIZE_DW = 0x00, 0x18
_CALL_CLOBBERS = frozenset({0, 1, 2, 3, 4, 5})


_SLOT = 100      # stack slot at r10+off is tracked as the member _SLOT - off (off < 0)


def _ctx_regs_per_insn(insns: list[Insn], seen: list[bool] | None = None) -> list[frozenset[int] | None]:
    """For each slot: registers (0..10) and spilled stack slots (_SLOT - off) surely
    holding the ctx pointer.  The entry function starts with it in r1; a bpf-to-bpf callee
    does too when every reached call of it passes the context in r1 (a global function
    taking the context, a static helper function), as the verifier's types would say.
    With `seen` (the verifier's reached slots), nothing flows out of unreached slots: a
    dead call does not make the context unknown after a join."""
    banned: set[int] = set()
    while True:                      # restarted if a callee seeded early meets a call without ctx
        state: list[frozenset[int] | None] = [None] * len(insns)
        state[0] = frozenset({1})
        _propagate(insns, state, [0], seen)
        seeded = {0}
        while True:
            sites = _call_sites_passing_ctx(insns, state)
            new = [t for t, ok in sites.items() if ok and t not in seeded | banned and 0 <= t < len(insns)]
            if not new:
                break
            for t in new:
                seeded.add(t)
                state[t] = frozenset({1})
            _propagate(insns, state, new, seen)
        broken = {t for t, ok in _call_sites_passing_ctx(insns, state).items() if not ok and t in seeded}
        if not broken:
            return state
        banned |= broken


def _call_sites_passing_ctx(insns: list[Insn], state: list) -> dict[int, bool]:
    """{callee start: every reached bpf-to-bpf call of it has the context in r1}"""
    sites: dict[int, bool] = {}
    for i, insn in enumerate(insns):
        if state[i] is None or insn.code != (_JMP | _OP_CALL) or insn.src != 1:
            continue
        t = i + insn.imm + 1
        sites[t] = sites.get(t, True) and 1 in state[i]
    return sites


def _propagate(insns: list[Insn], state: list, work: list[int], seen: list[bool] | None = None) -> None:
    """The forward data flow of _ctx_regs_per_insn from the slots in `work`."""
    while work:
        i = work.pop()
        if seen is not None and not seen[i]:
            continue
        s = state[i]
        insn = insns[i]
        cls, op = insn.code & 0x07, insn.code & 0xF0
        succs: list[int] = []
        out = s
        if insn.code == LD_IMM64:
            out, succs = s - {insn.dst}, [i + 2]
        elif cls in (0x04, 0x07):                      # ALU / ALU64
            if insn.code == 0xBF and insn.off == 0:
                out = s | {insn.dst} if insn.src in s else s - {insn.dst}
            else:
                out = s - {insn.dst}
            succs = [i + 1]
        elif insn.code == 0x79 and insn.src == 10:     # fill: rX = *(u64 *)(r10 + off)
            out = s | {insn.dst} if _SLOT - insn.off in s else s - {insn.dst}
            succs = [i + 1]
        elif cls in (0x00, 0x01):                      # legacy LD / LDX
            out, succs = s - {insn.dst, 0}, [i + 1]
        elif cls == 0x03 and (insn.code & 0xE0) == 0xC0:   # atomics
            written = ({0} if insn.imm == 0xF1 else {insn.dst} if insn.imm == 0x100   # cmpxchg, load_acq
                       else {insn.src} if insn.imm & 0x01 and insn.imm != 0x110 else set())   # fetch ops
            if insn.dst == 10:                         # the memory operand may be a spill slot
                written |= {_SLOT - (insn.off & ~7), _SLOT - insn.off}
            out, succs = s - written, [i + 1]
        elif cls in (0x02, 0x03):
            if insn.dst == 10:                         # a stack store: spill or overwrite
                out = s - {_SLOT - (insn.off & ~7), _SLOT - insn.off}
                if insn.code == 0x7B and insn.src in s:
                    out = out | {_SLOT - insn.off}
            succs = [i + 1]
        elif cls in (_JMP, _JMP32):
            if op == _OP_EXIT:
                succs = []
            elif op == _OP_CALL:
                out, succs = s - _CALL_CLOBBERS, [i + 1]
            elif op == _OP_JA:
                rel = insn.imm if cls == _JMP32 else insn.off
                succs = [i + rel + 1]
            else:
                succs = [i + 1, i + insn.off + 1]
        for t in succs:
            if not 0 <= t < len(insns):
                continue
            merged = out if state[t] is None else state[t] & out
            if merged != state[t]:
                state[t] = merged
                work.append(t)


CTX_ACCESS = "ctx_access"      # aux.extra mark: this slot loads from / stores to the context


def mark_ctx_accesses(x: Xlated) -> int:
    """Mark the loads from and stores to the context (aux.extra[CTX_ACCESS]) on the program
    as verified, before rewrites insert calls that would hide the context from the data
    flow (the kernel keeps the verifier's pointer type per instruction for the same use);
    the marks travel with their slots through every patch.  Only reached slots when the
    verifier marked any.  Returns how many."""
    verified = any(a.seen for a in x.aux)
    regs = _ctx_regs_per_insn(x.insns, [a.seen for a in x.aux] if verified else None)
    done = 0
    for i, insn in enumerate(x.insns):
        s = regs[i]
        if not s or (verified and not x.aux[i].seen):
            continue
        if ((insn.code & 0xE7) == 0x61 and insn.src in s) or ((insn.code & 0xE7) == 0x63 and insn.dst in s):
            x.aux[i].extra[CTX_ACCESS] = True
            done += 1
    return done


def convert_ctx_accesses(x: Xlated, pointer_fields: dict[int, int], prog_type: int | None = None) -> int:
    """Rewrite u32 loads of context pointer fields (`pointer_fields`: UAPI offset ->
    hidden u64 offset).  With `prog_type`, whole-field loads and stores of `__sk_buff` /
    `xdp_md` also take the form 6.18 gives them (accesses of struct sk_buff / xdp_buff,
    ctxconv.py) in the xlated program, while the VM runs the access of our context layout
    there (recorded for inlining.lower_for_vm).  Returns how many accesses were converted."""
    if not x.insns or (not pointer_fields and prog_type is None):
        return 0
    from harness.kernel.ctxconv import ctx_template
    from harness.kernel.inlining import INLINED
    if not any(a.extra and CTX_ACCESS in a.extra for a in x.aux):
        mark_ctx_accesses(x)          # nobody marked them on the program as loaded: do it now
    patches = []
    done = 0
    for i, insn in enumerate(x.insns):
        if not (x.aux[i].extra and x.aux[i].extra.get(CTX_ACCESS)):
            continue
        load = (insn.code & 0xE7) == 0x61                                   # LDX | MEM from the ctx
        store = (insn.code & 0xE7) == 0x63                                  # STX | MEM into it
        if not (load or store):
            continue
        runtime = insn
        if load and insn.code == (_LDX_MEM | _SIZE_W) and insn.off in pointer_fields:
            runtime = insn.replace(code=_LDX_MEM | _SIZE_DW, off=pointer_fields[insn.off])
            x.insns[i] = runtime
        tmpl = ctx_template(prog_type, store, insn.off, _SIZE_BYTES[insn.code & 0x18]) if prog_type else None
        if tmpl is not None:
            roles = {"V": insn.dst if load else insn.src, "C": insn.src if load else insn.dst}
            seq = [Insn(code, roles.get(d, d), roles.get(r, r), off, imm) for code, d, r, off, imm in tmpl]
            x.aux[i].extra[INLINED] = (runtime, len(seq))
            patches.append((i, seq))
        done += runtime is not insn or tmpl is not None
    patch_many(x, patches)
    return done


# Speculation barriers (convert_ctx_accesses): the verifier marks instructions that need a
# BPF_ST_NOSPEC before them (aux.extra["nospec"], Spectre v1 paths) or after a stack write
# (aux.extra["nospec_result"], Spectre v4: the first write of a slot, spills of pointers)
# for loaders without CAP_PERFMON; the barrier is inserted here.  Our verifier does not set
# the marks yet, so nothing happens until it does.  The VM runs a barrier as a nop.

ST_NOSPEC = Insn(0xC2)                 # BPF_ST | BPF_NOSPEC
_WRITES = frozenset({0x62, 0x6A, 0x72, 0x7A, 0x63, 0x6B, 0x73, 0x7B})      # ST / STX MEM, every size


def insert_nospec(x: Xlated) -> int:
    """Insert the barriers the verifier asked for.  Returns how many."""
    patches, keep, done = [], {}, 0
    for i, a in enumerate(x.aux):
        before = a.extra.get("nospec") if a.extra else None
        after = a.extra.get("nospec_result") and x.insns[i].code in _WRITES if a.extra else None
        if before or after:
            seq = ([ST_NOSPEC] if before else []) + [x.insns[i]] + ([ST_NOSPEC] if after else [])
            patches.append((i, seq))
            keep[i] = 1 if before else 0             # the instruction keeps its facts
            done += len(seq) - 1
    patch_many(x, patches, keep)
    return done


_SIZE_BYTES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}


def max_ctx_offset(insns: list[Insn], seen: list[bool] | None = None) -> int:
    """prog->aux->max_ctx_offset: the end of the furthest context byte the program loads
    (raw_tp and syscall test_run refuse a shorter ctx_in with EINVAL).  The verifier
    computes it while checking, so take the program as loaded, before any rewrite (an
    inserted call would hide the context from the data flow), and, when `seen` is given,
    only the slots the verifier reached."""
    if not insns:
        return 0
    regs = _ctx_regs_per_insn(insns, seen)
    end = 0
    for i, insn in enumerate(insns):
        s = regs[i]
        if s and (insn.code & 0xE7) == 0x61 and insn.src in s and (seen is None or seen[i]):
            end = max(end, insn.off + _SIZE_BYTES[insn.code & 0x18])
    return end
