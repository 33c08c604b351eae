"""Helper calls the kernel replaces by instructions after verification (6.18 x86-64).

do_misc_fixups (kernel/bpf/verifier.c) rewrites some helper calls in place, and the
result is what BPF_OBJ_GET_INFO_BY_FD reports as the xlated program, which selftests
match with `__xlated(...)`.  We make the same rewrites, with the same conditions:

* bpf_get_smp_processor_id, when the JIT is on and supports the percpu instruction
  (verifier_inlines_helper_call): `r0 = <cpu_number>` (a 64-bit mov of the low 32 bits
  of the per-CPU symbol's address), `r0 = &(void __percpu *)(r0)`, `r0 = *(u32 *)(r0 +0)`.
  The VM runs this as written: CPU_NUMBER_ADDR is a per-CPU symbol in the VM's memory
  (harness/kernel/helpers/runenv.py registers it) holding each CPU's id.
* bpf_map_lookup_elem through the map's map_gen_lookup, when the JIT is on and the call
  site always sees the same map (the kernel's unpoisoned map_ptr_state): ARRAY and
  PERCPU_ARRAY (not with BPF_F_INNER_MAP; the per-CPU one needs the percpu instruction),
  ARRAY_OF_MAPS, HASH, LRU_HASH, PERCPU_HASH (percpu instruction) and HASH_OF_MAPS.
  LRU_PERCPU_HASH and every other type keep the call.  The array forms bound-check the
  index, and mask it when the map was created without CAP_PERFMON (bypass_spec_v1).
* bpf_jiffies64 when the JIT is on: `r0 = &jiffies ll; r0 = *(u64 *)(r0 +0)`.
* bpf_tail_call, JIT or not, when the prog array was created without CAP_PERFMON:
  `if r3 >= max_entries goto +2; w3 &= index_mask` in front (runs as written).
* bpf_loop with one constant callback and flags 0 (optimize_bpf_loop, JIT or not): the
  counted loop of inline_bpf_loop, r6-r8 saved below the function's stack (runs as
  written).  `reg_facts` (maps, callback addresses, constants per register and stack
  slot) decides it, as it decides the map lookups.

Kernel data-structure offsets are the running 6.18 kernel's (offsetof(struct bpf_array,
value) = 312 ...); tests/kernel_progs/test_kp_inline_real.py checks them against it.

The VM cannot run the map lookups as written: our maps keep each element in its own
buffer, not in one `struct bpf_array` allocation the sequence could index, and hash
elements have no kernel layout.  So each inlined map lookup (and jiffies64, whose value is
our virtual clock) is recorded on its first slot's aux (`extra[INLINED]` = (helper id,
length)) and runenv.runtime_insns runs the original helper there instead, jumping over
the rest of the sequence (lower_for_vm; fixups use the same record for sequences the VM
runs as one original instruction: signed division guards, may_goto, context
accesses); the result (r0) is the same, and no register the sequence writes besides r0
is readable after a call (the verifier marks r1-r5 unreadable).

Which map a call uses comes from `call_map_ptrs`, a forward data-flow pass over the
program (registers and 8-byte stack slots holding a map loaded by ld_imm64, or the inner
map a map-in-map lookup returned, known by the outer map's template as the verifier knows
it by inner_map_meta), not from the verifier: a call whose r1 is not the same map on every
path is left alone, as the kernel leaves a poisoned one.  Maps that the verifier knows
but this pass does not (a map pointer passed to a subprogram) stay calls here while the
kernel would inline them.
"""

from __future__ import annotations

from harness.isa import Insn
from harness.kernel.helpers.ids import FUNC_IDS
from harness.uapi import BPF_ADDR_PERCPU, BPF_F_INNER_MAP, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, MapType

#: the per-CPU symbol `cpu_number` (x86-64 kernel image range; the imm of the inlined mov
#: is its low 32 bits, sign-extended back by the 64-bit mov).  Made up, not the host's.
CPU_NUMBER_ADDR = 0xFFFF_FFFF_8340_A034
#: the kernel's `jiffies` variable (made up as well)
JIFFIES_ADDR = 0xFFFF_FFFF_8300_9980
#: offsetof(struct bpf_array, value) == offsetof(struct bpf_array, pptrs) on 6.18 x86-64
BPF_ARRAY_VALUE_OFF = 312
#: offsetof(struct htab_elem, key)
HTAB_ELEM_KEY_OFF = 48
#: offsetof(struct htab_elem, lru_node) + offsetof(struct bpf_lru_node, ref)
HTAB_LRU_REF_OFF = 35

#: aux.extra key of the first slot of a sequence the VM runs differently: (helper id, or
#: the original instruction (fixups.guard_div_mod), and the sequence's length)
INLINED = "inlined_helper"

LD_IMM64 = 0x18
R0, R1, R2 = 0, 1, 2
LOOKUP = FUNC_IDS["map_lookup_elem"]
SMP_ID = FUNC_IDS["get_smp_processor_id"]
JIFFIES64 = FUNC_IDS["jiffies64"]
LOOP = FUNC_IDS["loop"]
TAIL_CALL = FUNC_IDS["tail_call"]
BPF_MAX_LOOPS = 8 * 1024 * 1024


# --- instruction builders (include/linux/filter.h names) -------------------------------
def _alu64_imm(op: int, dst: int, imm: int) -> Insn:
    return Insn(0x07 | op, dst, 0, 0, imm)


def _mov64_imm(dst: int, imm: int) -> Insn:
    return Insn(0xB7, dst, 0, 0, imm)


def _ldx(size_code: int, dst: int, src: int, off: int) -> Insn:
    return Insn(0x61 | size_code, dst, src, off, 0)


def _jmp_imm(op: int, dst: int, imm: int, off: int) -> Insn:
    return Insn(0x05 | op, dst, 0, off, imm)


_ADD, _MUL, _LSH, _AND = 0x00, 0x20, 0x60, 0x50
_JA, _JEQ, _JGE, _JNE = 0x00, 0x10, 0x30, 0x50
_W, _B, _DW = 0x00, 0x10, 0x18
_CALL = Insn(0x85, 0, 0, 0, LOOKUP)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _percpu_mov(reg: int) -> Insn:
    return Insn(0xBF, reg, reg, BPF_ADDR_PERCPU, 0)


def _round_up8(n: int) -> int:
    return (n + 7) & ~7


def _index_mask(max_entries: int) -> int:
    return (1 << (max_entries - 1).bit_length()) - 1 if max_entries > 1 else 0


# --- map_gen_lookup per map type -------------------------------------------------------
def _array_head(m, bypass_spec_v1: bool, tail: int) -> list[Insn]:
    """r1 += value; r0 = *(u32 *)key; bounds check jumping `tail` slots past the mask."""
    out = [_alu64_imm(_ADD, R1, BPF_ARRAY_VALUE_OFF), _ldx(_W, R0, R2, 0)]
    if bypass_spec_v1:
        out.append(_jmp_imm(_JGE, R0, m.max_entries, tail))
    else:
        out += [_jmp_imm(_JGE, R0, m.max_entries, tail + 1),
                Insn(0x04 | _AND, R0, 0, 0, _s32(_index_mask(m.max_entries)))]
    return out


def _scale(elem_size: int) -> Insn:
    if elem_size & (elem_size - 1) == 0:
        return _alu64_imm(_LSH, R0, elem_size.bit_length() - 1)
    return _alu64_imm(_MUL, R0, elem_size)


def array_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    if m.map_flags & BPF_F_INNER_MAP:
        return None
    return [*_array_head(m, bypass_spec_v1, 3), _scale(_round_up8(m.value_size)),
            Insn(0x0F, R0, R1), _jmp_imm(_JA, 0, 0, 1), _mov64_imm(R0, 0)]


def percpu_array_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    if not jit_percpu or m.map_flags & BPF_F_INNER_MAP:
        return None
    return [*_array_head(m, bypass_spec_v1, 5), _alu64_imm(_LSH, R0, 3), Insn(0x0F, R0, R1),
            _ldx(_DW, R0, R0, 0), _percpu_mov(R0), _jmp_imm(_JA, 0, 0, 1), _mov64_imm(R0, 0)]


def array_of_maps_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    return [*_array_head(m, bypass_spec_v1, 5), _alu64_imm(_LSH, R0, 3), Insn(0x0F, R0, R1),
            _ldx(_DW, R0, R0, 0), _jmp_imm(_JEQ, R0, 0, 1), _jmp_imm(_JA, 0, 0, 1), _mov64_imm(R0, 0)]


def _htab_value(m) -> Insn:
    return _alu64_imm(_ADD, R0, HTAB_ELEM_KEY_OFF + _round_up8(m.key_size))


def htab_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    return [_CALL, _jmp_imm(_JEQ, R0, 0, 1), _htab_value(m)]


def htab_lru_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    return [_CALL, _jmp_imm(_JEQ, R0, 0, 4), _ldx(_B, R1, R0, HTAB_LRU_REF_OFF),
            _jmp_imm(_JNE, R1, 0, 1), Insn(0x62 | _B, R0, 0, HTAB_LRU_REF_OFF, 1), _htab_value(m)]


def htab_percpu_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    if not jit_percpu:
        return None
    return [_CALL, _jmp_imm(_JEQ, R0, 0, 3), _htab_value(m), _ldx(_DW, R0, R0, 0), _percpu_mov(R0)]


def htab_of_maps_gen_lookup(m, *, bypass_spec_v1: bool, jit_percpu: bool) -> list[Insn] | None:
    return [_CALL, _jmp_imm(_JEQ, R0, 0, 2), _htab_value(m), _ldx(_DW, R0, R0, 0)]


#: ops->map_gen_lookup of the map types that have one (6.18)
MAP_GEN_LOOKUP = {
    MapType.ARRAY: array_gen_lookup,
    MapType.PERCPU_ARRAY: percpu_array_gen_lookup,
    MapType.ARRAY_OF_MAPS: array_of_maps_gen_lookup,
    MapType.HASH: htab_gen_lookup,
    MapType.LRU_HASH: htab_lru_gen_lookup,
    MapType.PERCPU_HASH: htab_percpu_gen_lookup,
    MapType.HASH_OF_MAPS: htab_of_maps_gen_lookup,
}


def tail_call_guard(m) -> list[Insn]:
    """What 6.18 puts before bpf_tail_call when the prog array was made without
    CAP_PERFMON (bpf_map_ptr_unpriv): a bound check skipping the call, then the index mask."""
    return [_jmp_imm(_JGE, 3, m.max_entries, 2), Insn(0x04 | _AND, 3, 0, 0, _s32(_index_mask(m.max_entries)))]


def smp_processor_id_insns() -> list[Insn]:
    return [_mov64_imm(R0, _s32(CPU_NUMBER_ADDR)), _percpu_mov(R0), _ldx(_W, R0, R0, 0)]


def jiffies64_insns() -> list[Insn]:
    return [Insn(LD_IMM64, R0, 0, 0, _s32(JIFFIES_ADDR)), Insn(0, 0, 0, 0, _s32(JIFFIES_ADDR >> 32)),
            _ldx(_DW, R0, R0, 0)]


def fastcall_inlined_helpers(*, jit_enabled: bool, jit_percpu_insn: bool) -> frozenset[int]:
    """Helpers that allow bpf_fastcall and that inline_helper_calls will inline in this
    configuration (verifier_inlines_helper_call): their spill/fill pairs go
    (harness/kernel/fastcall.py)."""
    return frozenset({SMP_ID}) if jit_enabled and jit_percpu_insn else frozenset()


# --- which map each call site uses -----------------------------------------------------
_MAP_LOADS = (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX)
_MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
_CLOBBERED = (0, 1, 2, 3, 4, 5)


def _stack_key(off: int) -> tuple[str, int]:
    return ("fp", off)


def _clear_stack(s: dict, off: int, size: int) -> None:
    for key in [k for k in s if isinstance(k, tuple) and k[1] < off + size and off < k[1] + 8]:
        del s[key]


def _const(v: int) -> tuple[str, int]:
    return ("k", v & (2**64 - 1))


def _drop_const_slots(s: dict) -> None:
    """Stack slots holding constants may be overwritten through pointers (helpers, aliases);
    map and callback pointers cannot be written that way (the verifier would refuse the
    scalar that replaced them), so those stay."""
    for key in [k for k, v in s.items() if isinstance(k, tuple) and isinstance(v, tuple) and v[0] == "k"]:
        del s[key]


def _step(insns: list[Insn], aux, i: int, s: dict, keep: frozenset = frozenset()) -> tuple[dict, list[int]]:
    """Transfer function of reg_facts: the state after slot i and its successors."""
    insn = insns[i]
    code, cls = insn.code, insn.code & 0x07
    out = dict(s)
    if code == LD_IMM64:
        out.pop(insn.dst, None)
        bpf_map = aux[i].map if aux is not None and i < len(aux) else None
        if insn.src in _MAP_LOADS and bpf_map is not None:
            out[insn.dst] = bpf_map
        elif insn.src == 4:                                    # BPF_PSEUDO_FUNC
            out[insn.dst] = ("func", i + insn.imm + 1)
        elif insn.src == 0 and i + 1 < len(insns):
            out[insn.dst] = _const((insns[i + 1].imm & 0xFFFFFFFF) << 32 | (insn.imm & 0xFFFFFFFF))
        return out, [i + 2]
    if cls in (0x04, 0x07):                                    # ALU, ALU64
        out.pop(insn.dst, None)
        if code == 0xBF and insn.off == 0 and insn.src in s:
            out[insn.dst] = s[insn.src]
        elif code == 0xB7:
            out[insn.dst] = _const(insn.imm)
        elif code == 0xB4:
            out[insn.dst] = _const(insn.imm & 0xFFFFFFFF)
        return out, [i + 1]
    if cls == 0x01:                                            # LDX
        out.pop(insn.dst, None)
        if code == 0x79 and insn.src == 10 and _stack_key(insn.off) in s:
            out[insn.dst] = s[_stack_key(insn.off)]
        return out, [i + 1]
    if cls == 0x00:                                            # legacy LD_ABS / LD_IND
        for r in _CLOBBERED:
            out.pop(r, None)
        return out, [i + 1]
    if cls in (0x02, 0x03):                                    # ST, STX (and atomics)
        size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[code & 0x18]
        if cls == 0x03 and code & 0xE0 == 0xC0:
            out.pop(insn.src, None)
            out.pop(0, None)
        if insn.dst == 10:
            _clear_stack(out, insn.off, size)
            if code == 0x7B and insn.src in s:
                out[_stack_key(insn.off)] = s[insn.src]
            elif code == 0x7A:
                out[_stack_key(insn.off)] = _const(insn.imm)
        elif cls == 0x03 and insn.src in s:
            # a pointer stored through an alias might land in a stack slot we track
            for key in [k for k in out if isinstance(k, tuple)]:
                del out[key]
        else:
            _drop_const_slots(out)
        return out, [i + 1]
    op = code & 0xF0
    if op == 0x90:                                             # exit
        return out, []
    if op == 0x80:                                             # every kind of call
        for r in ((0,) if insn.src == 0 and insn.imm in keep else _CLOBBERED):
            out.pop(r, None)
        _drop_const_slots(out)
        outer = s.get(1)
        if insn.src == 0 and insn.imm == LOOKUP and getattr(outer, "map_type", None) in _MAP_IN_MAP:
            meta = getattr(outer, "inner_map_meta", None)
            if meta is not None:                               # r0: an inner map (or NULL), whose
                out[0] = meta                                  # lookups the kernel inlines by the template
        return out, [i + 1]
    if op == 0x00:                                             # ja / gotol
        rel = insn.imm if cls == 0x06 else insn.off
        return out, [i + rel + 1]
    return out, [i + 1, i + insn.off + 1]                      # conditional jumps, may_goto


def _same(a, b) -> bool:
    return a is b or (type(a) is tuple and type(b) is tuple and a == b)


def _join(a: dict, b: dict) -> dict:
    return {k: v for k, v in a.items() if k in b and _same(b[k], v)}


def reg_facts(insns: list[Insn], aux, starts=(), keep: frozenset = frozenset()) -> list[dict | None]:
    """Per slot (None if unreached): what registers and 8-byte stack slots ("fp", off)
    surely hold on entry -- a map (ld_imm64 of a map), ("func", start) (a callback
    address) or ("k", value) (a constant from a mov or ld_imm64), through copies, spills
    and fills.  Every function start (`starts`, bpf-to-bpf call targets, callback
    addresses) begins with nothing known; a call leaves r0-r5 unknown, one of the helpers
    in `keep` (inlined with bpf_fastcall's contract) only r0."""
    seeds = {0, *starts}
    for i, insn in enumerate(insns):
        if i and insns[i - 1].code == LD_IMM64:
            continue
        if insn.code == 0x85 and insn.src == 1:
            seeds.add(i + insn.imm + 1)
        elif insn.code == LD_IMM64 and insn.src == 4:
            seeds.add(i + insn.imm + 1)
    n = len(insns)
    state: list[dict | None] = [None] * n
    work = []
    for s in seeds:
        if 0 <= s < n:
            state[s] = {}
            work.append(s)
    while work:
        i = work.pop()
        out, succs = _step(insns, aux, i, state[i], keep)
        for t in succs:
            if not 0 <= t < n:
                continue
            merged = out if state[t] is None else _join(state[t], out)
            if state[t] is None or merged.keys() != state[t].keys():
                state[t] = merged
                work.append(t)
    return state


def _helper_calls(insns: list[Insn]):
    for i, insn in enumerate(insns):
        if insn.code == 0x85 and insn.src == 0 and not (i and insns[i - 1].code == LD_IMM64):
            yield i, insn


def call_map_ptrs(insns: list[Insn], aux, starts=(), reg: int = 1,
                  keep: frozenset = frozenset()) -> dict[int, object]:
    """{slot of a helper call: the map register `reg` holds there on every path} (reg_facts)."""
    state = reg_facts(insns, aux, starts, keep)
    found = {}
    for i, _ in _helper_calls(insns):
        m = state[i].get(reg) if state[i] is not None else None
        if m is not None and not isinstance(m, tuple):
            found[i] = m
    return found


# --- the rewrite -----------------------------------------------------------------------
def inline_helper_calls(x, *, jit_enabled: bool, jit_percpu_insn: bool, bypass_spec_v1: bool) -> int:
    """Apply the rewrites of the module docstring to `x` (fixups.Xlated).  Returns how
    many calls were replaced."""
    from harness.kernel.patcher import patch_many

    keep = fastcall_inlined_helpers(jit_enabled=jit_enabled, jit_percpu_insn=jit_percpu_insn)
    maps = call_map_ptrs(x.insns, x.aux, x.subprog_starts, reg=1, keep=keep)
    plan: list[tuple[int, list[Insn], int | None]] = []
    if not bypass_spec_v1:
        prog_arrays = call_map_ptrs(x.insns, x.aux, x.subprog_starts, reg=2, keep=keep)
        for i, insn in _helper_calls(x.insns):
            m = prog_arrays.get(i)
            if insn.imm == TAIL_CALL and getattr(m, "map_type", None) == MapType.PROG_ARRAY:
                plan.append((i, tail_call_guard(m) + [insn], None))
    for i, insn in enumerate(x.insns):
        if not jit_enabled or insn.code != 0x85 or insn.src != 0 or (i and x.insns[i - 1].code == LD_IMM64):
            continue
        if insn.imm == SMP_ID and jit_percpu_insn:
            plan.append((i, smp_processor_id_insns(), None))
        elif insn.imm == JIFFIES64:
            plan.append((i, jiffies64_insns(), JIFFIES64))
        elif insn.imm == LOOKUP and i in maps:
            m = maps[i]
            gen = MAP_GEN_LOOKUP.get(getattr(m, "map_type", None))
            seq = gen(m, bypass_spec_v1=bypass_spec_v1, jit_percpu=jit_percpu_insn) if gen else None
            if seq:
                plan.append((i, seq, LOOKUP))
    for i, seq, lowered in plan:
        if lowered is not None:
            x.aux[i].extra[INLINED] = (lowered, len(seq))
    patch_many(x, [(i, seq) for i, seq, _ in plan])
    return len(plan)


def lower_for_vm(insns: list[Insn], aux) -> list[Insn]:
    """The slots the VM runs: every recorded sequence becomes the original helper call (or
    instruction) followed by a jump over the rest (see the module docstring), and calls
    rewritten by fixups.jit_subprogs get their relative offsets back."""
    # BPF_ST_NOSPEC is a nop here; BPF_ZEXT_REG (w = w with imm 1) an ordinary 32-bit mov
    out = [Insn(0x05) if insn.code == 0xC2 else insn.replace(imm=0) if insn.code == 0xBC and insn.imm == 1
           else insn for insn in insns]
    for i, a in enumerate(aux):
        if not a.extra:
            continue
        if "call_imm" in a.extra:              # fixups.jit_subprogs: relative offset back in imm
            out[i] = out[i].replace(imm=a.extra["call_imm"], off=0)
        rec = a.extra.get(INLINED)
        if rec is None:
            continue
        what, length = rec
        if what == "may_goto":                 # fixups.rewrite_may_goto: its exit is slot 1's target
            out[i] = Insn(0xE5, 0, 0, i + 1 + out[i + 1].off + 1 - i - 1, 0)
        else:
            out[i] = what if isinstance(what, Insn) else Insn(0x85, 0, 0, 0, what)
        if length > 1:
            out[i + 1] = Insn(0x05, 0, 0, length - 2, 0)
        for k in range(i + 2, i + length):     # unreachable now; no kernel-only registers left
            out[k] = Insn(0x05)
    return out


# --- bpf_loop (optimize_bpf_loop / inline_bpf_loop) -------------------------------------
def bpf_loop_insns(stack_base: int, callback_rel: int) -> list[Insn]:
    """inline_bpf_loop's 19 slots: r6-r8 saved at stack_base (+8, +16), a counted loop
    calling the callback (bpf-to-bpf, `callback_rel` from slot 12) until it returns
    non-zero, r0 = iterations, -E2BIG above BPF_MAX_LOOPS."""
    r6, r7, r8 = stack_base, stack_base + 8, stack_base + 16
    return [Insn(0xB5, 1, 0, 2, BPF_MAX_LOOPS), Insn(0xB4, 0, 0, 0, -7), Insn(0x05, 0, 0, 16, 0),
            Insn(0x7B, 10, 6, r6), Insn(0x7B, 10, 7, r7), Insn(0x7B, 10, 8, r8),
            Insn(0xBF, 6, 1), Insn(0xB4, 7, 0, 0, 0), Insn(0xBF, 8, 3),
            Insn(0x3D, 7, 6, 5), Insn(0xBF, 1, 7), Insn(0xBF, 2, 8), Insn(0x85, 0, 1, 0, callback_rel),
            _alu64_imm(_ADD, 7, 1), _jmp_imm(_JEQ, R0, 0, -6), Insn(0xBF, 0, 7),
            Insn(0x79, 6, 10, r6), Insn(0x79, 7, 10, r7), Insn(0x79, 8, 10, r8)]


def optimize_bpf_loop(x) -> int:
    """Inline every reached bpf_loop call whose callback is one constant function and
    whose flags are the constant 0 on every path (the verifier's fit_for_inline, here from
    reg_facts), with the spill area below the function's stack (x.stack_depth, which
    grows by it).  Runs without the JIT too.  Returns the calls inlined."""
    from harness.kernel.patcher import patch_many

    starts = sorted(x.subprog_starts)
    stack_depth = x.stack_depth
    if len(stack_depth) != len(starts):
        return 0
    verified = any(a.seen for a in x.aux)
    facts = reg_facts(x.insns, x.aux, starts)
    sites = []
    for i, insn in _helper_calls(x.insns):
        s = facts[i]
        if insn.imm != LOOP or s is None or (verified and not x.aux[i].seen):
            continue
        cb, flags = s.get(2), s.get(4)
        if isinstance(cb, tuple) and cb[0] == "func" and _same(flags, _const(0)):
            sub = max(n for n, st in enumerate(starts) if st <= i)
            sites.append((i, cb[1], sub))
    grow = 18
    extra_of, patches = {}, []
    for i, target, sub in sites:
        depth = stack_depth[sub]
        extra = extra_of[sub] = 24 + (_round_up8(depth) - depth)
        new_target = target + grow if target > i else target       # after this patch alone
        patches.append((i, bpf_loop_insns(-(depth + extra), new_target - (i + 12) - 1)))
    patch_many(x, patches)
    for sub, extra in extra_of.items():
        stack_depth[sub] += extra
    return len(sites)
