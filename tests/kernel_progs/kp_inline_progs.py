"""Programs whose helper calls 6.18 inlines after verification, for test_kp_inline_*.py.

Each builder takes a kernel (emulated or real) and returns (program type, slots, maps to
close) after creating the maps it needs, so that the same program runs on both kernels.
"""

from __future__ import annotations

from harness.isa import Insn
from harness.kernelapi import MapCreateAttr
from harness.uapi import BPF_F_INNER_MAP, MapType, ProgType
from kp_asm import (
    ADD, ALU64_IMM, ALU64_REG, CALL, EXIT, JEQ_IMM, LD_FUNC, LD_IMM64, LD_MAP_FD, LDX_MEM, MOV64_IMM, MOV64_REG, ST_MEM,
    STX_MEM,
)

LOOKUP, UPDATE, SMP_ID, JIFFIES, LOOKUP_PERCPU = 1, 2, 8, 118, 195
RAW_TP = ProgType.RAW_TRACEPOINT


def _key_on_stack(key: int = 1) -> list[Insn]:
    return [ST_MEM(4, 10, -4, key), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4)]


def lookup_prog(fd: int, key: int = 1) -> list[Insn]:
    """r0 = lookup(map, &key); return r0 ? *(u32 *)r0 : 7"""
    return [ST_MEM(4, 10, -4, key), *LD_MAP_FD(1, fd), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4),
            CALL(LOOKUP), JEQ_IMM(0, 0, 2), LDX_MEM(4, 0, 0, 0), EXIT(), MOV64_IMM(0, 7), EXIT()]


def _map(k, map_type, key_size=4, value_size=8, max_entries=4, flags=0, inner=0):
    return k.map_create(MapCreateAttr(map_type, key_size, value_size, max_entries, map_flags=flags,
                                      inner_map_fd=inner))


def map_lookup(map_type, key_size=4, value_size=8, max_entries=4, flags=0):
    def build(k):
        fd = _map(k, map_type, key_size, value_size, max_entries, flags)
        if key_size == 4:
            return RAW_TP, lookup_prog(fd), [fd]
        prog = [ST_MEM(8, 10, -16, 1), ST_MEM(8, 10, -8, 1), *LD_MAP_FD(1, fd), MOV64_REG(2, 10),
                ALU64_IMM(ADD, 2, -16), CALL(LOOKUP), MOV64_IMM(0, 0), EXIT()]
        return RAW_TP, prog, [fd]
    return build


def map_in_map_lookup(outer_type):
    def build(k):
        inner = _map(k, MapType.ARRAY)
        outer = _map(k, outer_type, value_size=4, max_entries=2, inner=inner)
        return RAW_TP, [*_key_on_stack(), *LD_MAP_FD(1, outer), CALL(LOOKUP), MOV64_IMM(0, 0), EXIT()], [outer, inner]
    return build


def two_maps_one_call(same: bool):
    """Two paths reach one lookup call: with the same map it is inlined, with two maps
    the kernel's map_ptr_state is poisoned and the call stays."""
    def build(k):
        a = _map(k, MapType.ARRAY)
        b = a if same else _map(k, MapType.ARRAY)
        prog = [ST_MEM(4, 10, -4, 1), *LD_MAP_FD(1, a), LDX_MEM(4, 3, 10, -4), JEQ_IMM(3, 0, 2),
                *LD_MAP_FD(1, b), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), CALL(LOOKUP), MOV64_IMM(0, 0), EXIT()]
        return RAW_TP, prog, sorted({a, b})
    return build


def spilled_map_ptr(k):
    """The map pointer goes through r6 and a stack slot before the call."""
    a = _map(k, MapType.ARRAY)
    prog = [*LD_MAP_FD(6, a), STX_MEM(8, 10, 6, -16), ST_MEM(4, 10, -4, 2), LDX_MEM(8, 1, 10, -16),
            MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), CALL(LOOKUP), JEQ_IMM(0, 0, 2), LDX_MEM(4, 0, 0, 0),
            EXIT(), MOV64_IMM(0, 9), EXIT()]
    return RAW_TP, prog, [a]


def update_array(k):
    a = _map(k, MapType.ARRAY)
    prog = [ST_MEM(4, 10, -4, 1), ST_MEM(8, 10, -16, 1), *LD_MAP_FD(1, a), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4),
            MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -16), MOV64_IMM(4, 0), CALL(UPDATE), MOV64_IMM(0, 0), EXIT()]
    return RAW_TP, prog, [a]


def lookup_percpu_elem(k):
    a = _map(k, MapType.PERCPU_ARRAY)
    return RAW_TP, [*_key_on_stack(), *LD_MAP_FD(1, a), MOV64_IMM(3, 0), CALL(LOOKUP_PERCPU), MOV64_IMM(0, 0),
                    EXIT()], [a]


def smp_id(k):
    return RAW_TP, [CALL(SMP_ID), EXIT()], []


def smp_id_twice_in_branches(k):
    """Two inlined calls with a jump over the first: offsets grow with each patch."""
    return RAW_TP, [MOV64_IMM(6, 0), CALL(SMP_ID), JEQ_IMM(0, 0, 2), CALL(SMP_ID), ALU64_IMM(ADD, 0, 10),
                    ALU64_REG(ADD, 0, 6), EXIT()], []


def jiffies(k):
    return RAW_TP, [CALL(JIFFIES), MOV64_IMM(0, 0), EXIT()], []


def lookup_in_subprog(k):
    """The lookup (with its own map load) inside a bpf-to-bpf callee."""
    a = _map(k, MapType.ARRAY)
    prog = [Insn(0x85, 0, 1, 0, 1), EXIT(), *lookup_prog(a)]
    return RAW_TP, prog, [a]


CASES = {
    "array_pow2": map_lookup(MapType.ARRAY, value_size=12, max_entries=5),
    "array_mul": map_lookup(MapType.ARRAY, value_size=20, max_entries=5),
    "array_one": map_lookup(MapType.ARRAY, value_size=4, max_entries=1),
    "array_inner_flag": map_lookup(MapType.ARRAY, flags=BPF_F_INNER_MAP, max_entries=3),
    "percpu_array": map_lookup(MapType.PERCPU_ARRAY, value_size=12, max_entries=3),
    "hash": map_lookup(MapType.HASH),
    "hash_key12": map_lookup(MapType.HASH, key_size=12),
    "lru_hash": map_lookup(MapType.LRU_HASH),
    "percpu_hash": map_lookup(MapType.PERCPU_HASH, key_size=12),
    "lru_percpu_hash": map_lookup(MapType.LRU_PERCPU_HASH),
    "array_of_maps": map_in_map_lookup(MapType.ARRAY_OF_MAPS),
    "hash_of_maps": map_in_map_lookup(MapType.HASH_OF_MAPS),
    "same_map_two_paths": two_maps_one_call(True),
    "poisoned": two_maps_one_call(False),
    "spilled_map_ptr": spilled_map_ptr,
    "update_array": update_array,
    "lookup_percpu_elem": lookup_percpu_elem,
    "smp_id": smp_id,
    "smp_id_twice": smp_id_twice_in_branches,
    "jiffies64": jiffies,
    "lookup_in_subprog": lookup_in_subprog,
}


def normalise(insns: list[Insn]) -> list[Insn]:
    """Zero what differs between kernels by nature: helper call immediates (the kernel
    stores function offsets), map ids in ld_imm64, kernel-image addresses (ld_imm64 of an
    address with the high half all ones, and the per-CPU symbol mov before a percpu mov)."""
    out = list(insns)
    for i, insn in enumerate(out):
        if i and insns[i - 1].code == 0x18:
            continue
        if insn.code == 0x85 and insn.src == 0:
            out[i] = insn.replace(imm=0)
        elif insn.code == 0x18 and insn.src in (1, 2, 5, 6):
            out[i] = insn.replace(imm=0)
            out[i + 1] = out[i + 1].replace(imm=0)
        elif insn.code == 0x18 and insn.src == 0 and out[i + 1].imm == -1:
            out[i] = insn.replace(imm=0)
        elif (insn.code == 0xB7 and i + 1 < len(out) and out[i + 1].code == 0xBF
              and out[i + 1].off == -1 and out[i + 1].dst == insn.dst):
            out[i] = insn.replace(imm=0)
    return out


# --- dead code and nops (opt_hard_wire_dead_code_branches, opt_remove_dead_code, opt_remove_nops)
def _fixed(insns):
    return lambda k: (RAW_TP, insns, [])


DEAD_CODE_CASES = {
    # always-taken jump: the jump and the skipped slot go
    "dead_fallthrough": _fixed([MOV64_IMM(0, 1), JEQ_IMM(0, 1, 1), MOV64_IMM(0, 2), EXIT()]),
    # never-taken jump: it becomes a nop and goes, its target stays
    "dead_target": _fixed([MOV64_IMM(0, 1), JEQ_IMM(0, 2, 1), MOV64_IMM(0, 2), EXIT()]),
    # an ld_imm64 in the dead part, and a jump from before the hole over it
    "dead_ldimm64": _fixed([MOV64_IMM(0, 1), MOV64_IMM(1, 5), JEQ_IMM(1, 5, 3), *LD_IMM64(0, 1 << 40), EXIT(),
                            JEQ_IMM(0, 0, 1), MOV64_IMM(0, 3), EXIT()]),
    # a backward jump over the hole (a bounded loop with a dead slot inside)
    "dead_in_loop": _fixed([MOV64_IMM(0, 0), MOV64_IMM(1, 0), ALU64_IMM(ADD, 0, 1), JEQ_IMM(1, 0, 1),
                            ALU64_IMM(ADD, 0, 100), Insn(0xA5, 0, 0, -4, 3), EXIT()]),
    # a backward jump to a nop lands on the slot after it
    "jump_back_to_nop": _fixed([MOV64_IMM(0, 0), Insn(0x05), ALU64_IMM(ADD, 0, 1), Insn(0xA5, 0, 0, -3, 3), EXIT()]),
    # explicit nops in live code
    "nops": _fixed([MOV64_IMM(0, 4), Insn(0x05), Insn(0x05), ALU64_IMM(ADD, 0, 1), Insn(0x05), EXIT()]),
    # a subprogram only called from dead code disappears
    "dead_subprog": _fixed([MOV64_IMM(0, 1), JEQ_IMM(0, 1, 1), Insn(0x85, 0, 1, 0, 2), MOV64_IMM(0, 6), EXIT(),
                            MOV64_IMM(0, 9), EXIT()]),
    # a live subprogram after removed slots: the call offset shrinks
    "live_subprog_after_hole": _fixed([MOV64_IMM(0, 1), JEQ_IMM(0, 1, 1), MOV64_IMM(0, 2), Insn(0x85, 0, 1, 0, 1),
                                       EXIT(), MOV64_IMM(0, 9), EXIT()]),
}


# --- bpf_fastcall spill/fill pairs around bpf_get_smp_processor_id (remove_fastcall_spills_fills)
def _spill(reg, off):
    return STX_MEM(8, 10, reg, off)


def _fill(reg, off):
    return LDX_MEM(8, reg, 10, off)


_SUM12 = [ALU64_REG(ADD, 0, 1), ALU64_REG(ADD, 0, 2), EXIT()]
FASTCALL_CASES = {
    # two pairs at the lowest offsets, innermost first: removed
    "fastcall_simple": _fixed([MOV64_IMM(1, 1), MOV64_IMM(2, 2), _spill(1, -8), _spill(2, -16), CALL(SMP_ID),
                               _fill(2, -16), _fill(1, -8), *_SUM12]),
    # innermost pair not at the lowest offset: no pattern
    "fastcall_wrong_order": _fixed([MOV64_IMM(1, 1), MOV64_IMM(2, 2), _spill(2, -16), _spill(1, -8), CALL(SMP_ID),
                                    _fill(1, -8), _fill(2, -16), *_SUM12]),
    # the pair is not at the function's lowest spill offset: kept
    "fastcall_not_lowest": _fixed([MOV64_IMM(1, 1), MOV64_IMM(2, 2), ST_MEM(8, 10, -32, 0), STX_MEM(8, 10, 1, -24),
                                   _spill(2, -16), CALL(SMP_ID), _fill(2, -16), LDX_MEM(8, 1, 10, -24), *_SUM12]),
    # another instruction reads the spill slot: the contract is broken, pairs kept
    "fastcall_slot_read": _fixed([MOV64_IMM(1, 1), MOV64_IMM(2, 2), _spill(1, -8), CALL(SMP_ID), _fill(1, -8),
                                  LDX_MEM(8, 2, 10, -8), *_SUM12]),
    # ... through a copy of r10
    "fastcall_slot_alias": _fixed([MOV64_IMM(1, 1), MOV64_IMM(2, 2), _spill(1, -8), CALL(SMP_ID), _fill(1, -8),
                                   MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8), LDX_MEM(8, 2, 3, 0), *_SUM12]),
    # a helper reads the spill slot through its key pointer
    "fastcall_helper_reads_slot": lambda k: _fastcall_helper_reads_slot(k),
    # a non-fastcall helper with the same shape: kept
    "fastcall_other_helper": _fixed([MOV64_IMM(1, 1), _spill(1, -8), CALL(5), _fill(1, -8), ALU64_REG(ADD, 0, 1),
                                     EXIT()]),
    # a pattern in a loop body, reached twice, with a branch around it
    "fastcall_in_loop": _fixed([MOV64_IMM(1, 0), MOV64_IMM(6, 0), _spill(1, -8), CALL(SMP_ID), _fill(1, -8),
                                ALU64_REG(ADD, 6, 0), ALU64_IMM(ADD, 1, 1), Insn(0xA5, 1, 0, -6, 3),
                                MOV64_REG(0, 6), EXIT()]),
    # r0 spilled around a non-void helper is not a fastcall pair
    "fastcall_r0": _fixed([MOV64_IMM(0, 3), _spill(0, -8), CALL(SMP_ID), _fill(0, -8), EXIT()]),
}


def _fastcall_helper_reads_slot(k):
    a = _map(k, MapType.ARRAY)
    prog = [MOV64_IMM(1, 1), _spill(1, -8), CALL(SMP_ID), _fill(1, -8), *LD_MAP_FD(1, a), MOV64_REG(2, 10),
            ALU64_IMM(ADD, 2, -8), CALL(LOOKUP), MOV64_IMM(0, 0), EXIT()]
    return RAW_TP, prog, [a]


# --- division guards (do_misc_fixups: divide-by-zero / divide-by-minus-one)
def _div_prog(a: int, b: int, ops: list[Insn]) -> list[Insn]:
    """r0 = a; r1 = b (64-bit immediates through ld_imm64); ops; return r0 ^ (r0 >> 32)."""
    return [*LD_IMM64(0, a), *LD_IMM64(1, b), *ops, MOV64_REG(2, 0), Insn(0x77, 2, 0, 0, 32), Insn(0xAF, 0, 2), EXIT()]


_OPS = {"div": 0x3F, "div32": 0x3C, "mod": 0x9F, "mod32": 0x9C}
I64_MIN = 1 << 63
_PAIRS = ((100, 7), (-100, 7), (-100, 0), (-100, -1), (I64_MIN, -1), (1 << 31, -1))
DIV_CASES = {
    **{f"{sign}{op}_{n}": _fixed(_div_prog(a, b, [Insn(code, 0, 1, int(sign == "s"))]))
       for sign in ("u", "s") for op, code in _OPS.items() for n, (a, b) in enumerate(_PAIRS)},
    **{f"s{op}_imm_m1_{n}": _fixed(_div_prog(a, 0, [Insn(code & ~0x08, 0, 0, 1, -1)]))
       for op, code in _OPS.items() for n, a in enumerate((-100, I64_MIN, 1 << 31))},
}


# --- bpf-to-bpf calls and callbacks after jit_subprogs (imm = subprogram index)
def _for_each_callback(k):
    """bpf_for_each_map_elem over a 4-element array with a callback counting elements."""
    from test_kp_calls import _func_btf
    a = _map(k, MapType.ARRAY)
    btf = k.btf_load(_func_btf())
    prog = [ST_MEM(8, 10, -8, 0), *LD_MAP_FD(1, a), *LD_FUNC(2, 7), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8),
            MOV64_IMM(4, 0), CALL(FOR_EACH), LDX_MEM(8, 0, 10, -8), EXIT(),
            # callback(map, key, value, ctx): *ctx += 1; return 0
            LDX_MEM(8, 1, 4, 0), ALU64_IMM(ADD, 1, 1), STX_MEM(8, 4, 1, 0), MOV64_IMM(0, 0), EXIT()]
    return RAW_TP, prog, [a, btf], {"prog_btf_fd": btf, "func_info": [(0, 3), (11, 4)]}


FOR_EACH = 164
SUBPROG_CASES = {
    # three functions: `call pc+N` shows the callee's subprogram index
    "three_funcs": _fixed([Insn(0x85, 0, 1, 0, 2), ALU64_IMM(ADD, 0, 1), EXIT(), MOV64_IMM(0, 5),
                           Insn(0x85, 0, 1, 0, 1), EXIT(), MOV64_IMM(0, 7), EXIT()]),
    "for_each_callback": _for_each_callback,
}


# --- bpf_loop with a constant callback and flags 0 (optimize_bpf_loop)
LOOP = 181
_LOOP_CB = [LDX_MEM(8, 3, 2, 0), ALU64_REG(ADD, 3, 1), STX_MEM(8, 2, 3, 0), MOV64_IMM(0, 0), EXIT()]


def _with_callback(insns: list[Insn], cb_start: int, callback: list[Insn] = _LOOP_CB):
    def build(k):
        from test_kp_calls import _func_btf
        btf = k.btf_load(_func_btf())
        return RAW_TP, insns + callback, [btf], {"prog_btf_fd": btf, "func_info": [(0, 3), (cb_start, 4)]}
    return build


def _loop_call(n_insns: list[Insn], func_rel: int, flags: Insn) -> list[Insn]:
    return [*n_insns, *LD_FUNC(2, func_rel), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8), flags, CALL(LOOP)]


LOOP_CASES = {
    # sum of 0..9 through the callback; stack depth 8: r6-r8 saved at -32..-16
    "loop_basic": _with_callback([ST_MEM(8, 10, -8, 0), *_loop_call([MOV64_IMM(1, 10)], 7, MOV64_IMM(4, 0)),
                                  LDX_MEM(8, 0, 10, -8), EXIT()], 10),
    # stack depth 12 is rounded up to 16 before the save area
    "loop_depth12": _with_callback([ST_MEM(4, 10, -12, 0), ST_MEM(8, 10, -8, 0),
                                    *_loop_call([MOV64_IMM(1, 10)], 7, MOV64_IMM(4, 0)), LDX_MEM(8, 0, 10, -8),
                                    EXIT()], 11),
    # flags not 0: stays a helper call (which returns -EINVAL)
    "loop_flags1": _with_callback([ST_MEM(8, 10, -8, 0), *_loop_call([MOV64_IMM(1, 10)], 6, MOV64_IMM(4, 1)),
                                   EXIT()], 9),
    # flags set with a 32-bit mov
    "loop_flags_w4": _with_callback([ST_MEM(8, 10, -8, 0), *_loop_call([MOV64_IMM(1, 3)], 7, Insn(0xB4, 4)),
                                     LDX_MEM(8, 0, 10, -8), EXIT()], 10),
    # more than BPF_MAX_LOOPS: -E2BIG from the inlined check
    "loop_too_many": _with_callback([ST_MEM(8, 10, -8, 0), *_loop_call([*LD_IMM64(1, (1 << 23) + 1)], 6,
                                                                       MOV64_IMM(4, 0)), EXIT()], 10),
    # two inlined loops sharing one callback (the second patch moves the first call's target)
    "loop_two_calls": _with_callback([ST_MEM(8, 10, -8, 0), *_loop_call([MOV64_IMM(1, 3)], 14, MOV64_IMM(4, 0)),
                                      *_loop_call([MOV64_IMM(1, 4)], 7, MOV64_IMM(4, 0)), LDX_MEM(8, 0, 10, -8),
                                      EXIT()], 17),
}


# --- may_goto (timed countdown below the stack, prologue per function)
MAY_GOTO_CASES = {
    "may_goto_first": _fixed([Insn(0xE5, 0, 0, 1, 0), MOV64_IMM(0, 1), MOV64_IMM(0, 2), EXIT()]),
    "may_goto_mid_stack12": _fixed([ST_MEM(4, 10, -12, 0), MOV64_IMM(0, 1), Insn(0xE5, 0, 0, 1, 0), MOV64_IMM(0, 2),
                                    EXIT()]),
    # the function starts with a jump, which the prologue pushes down
    "may_goto_after_jump": _fixed([JEQ_IMM(1, 0, 1), MOV64_IMM(1, 0), MOV64_IMM(0, 1), Insn(0xE5, 0, 0, 1, 0),
                                   MOV64_IMM(0, 2), EXIT()]),
    # the may_goto exit jumps over a guarded division
    "may_goto_over_div": _fixed([MOV64_IMM(0, 8), MOV64_IMM(1, 2), Insn(0xE5, 0, 0, 1, 0), Insn(0x3F, 0, 1), EXIT()]),
    "may_goto_in_subprog": _fixed([MOV64_IMM(0, 3), Insn(0x85, 0, 1, 0, 1), EXIT(), ST_MEM(8, 10, -8, 0),
                                   MOV64_IMM(0, 5), Insn(0xE5, 0, 0, 1, 0), MOV64_IMM(0, 4), EXIT()]),
}


# --- interactions: the fastcall area leaves the stack depth, which may_goto and bpf_loop use
_SMP_PAIR_16 = [MOV64_IMM(1, 1), STX_MEM(8, 10, 1, -16), CALL(SMP_ID), LDX_MEM(8, 1, 10, -16)]
_RET0 = [MOV64_IMM(0, 0), EXIT()]
INTERACTION_CASES = {
    # counter at -24: the pattern area at -16 is gone, the stack is 8 bytes
    "fastcall_may_goto": _fixed([*_SMP_PAIR_16, Insn(0xE5, 0, 0, 1, 0), STX_MEM(8, 10, 1, -8), *_RET0]),
    # r6-r8 saved at -32: stack 8 after the removal
    "fastcall_bpf_loop": _with_callback([*_SMP_PAIR_16, *LD_FUNC(2, 7), MOV64_IMM(3, 0), MOV64_IMM(4, 0), CALL(LOOP),
                                         STX_MEM(8, 10, 0, -8), *_RET0], 12, _RET0),
    # a pattern around a call that stays (prandom) keeps the area: saved at -40
    "fastcall_kept_bpf_loop": _with_callback([*_SMP_PAIR_16, STX_MEM(8, 10, 1, -16), CALL(7), LDX_MEM(8, 1, 10, -16),
                                              *LD_FUNC(2, 6), MOV64_IMM(3, 0), MOV64_IMM(4, 0), CALL(LOOP), *_RET0],
                                             14, _RET0),
    # a helper writing into the area through a pointer (raw mode) keeps the pairs
    "fastcall_helper_write": _fixed([MOV64_IMM(1, 1), STX_MEM(8, 10, 1, -8), CALL(SMP_ID), LDX_MEM(8, 1, 10, -8),
                                     MOV64_REG(1, 10), ALU64_IMM(ADD, 1, -8), MOV64_IMM(2, 1), MOV64_IMM(3, 42),
                                     CALL(113), EXIT()]),
}


# --- LD_ABS / LD_IND (bpf_gen_ld_abs): a call of an internal skb load function
def _ld(mode_size: int, src: int, imm: int) -> Insn:
    return Insn(mode_size, 0, src, 0, imm)


_ABS_B, _ABS_H, _ABS_W, _IND_B, _IND_H = 0x30, 0x28, 0x20, 0x50, 0x48
LD_ABS_PROGS = {
    "abs_b": [MOV64_REG(6, 1), _ld(_ABS_B, 0, 20), EXIT()],
    "abs_h": [MOV64_REG(6, 1), _ld(_ABS_H, 0, 20), EXIT()],
    "abs_w": [MOV64_REG(6, 1), _ld(_ABS_W, 0, 20), EXIT()],
    "abs_w_outside": [MOV64_REG(6, 1), MOV64_IMM(0, 9), _ld(_ABS_W, 0, 100), EXIT()],
    "ind_b": [MOV64_REG(6, 1), MOV64_IMM(7, 3), _ld(_IND_B, 7, 4), EXIT()],
    "ind_h_no_imm": [MOV64_REG(6, 1), MOV64_IMM(7, 30), _ld(_IND_H, 7, 0), EXIT()],
    "abs_net_header": [MOV64_REG(6, 1), _ld(_ABS_B, 0, -0x100000), EXIT()],
    "abs_mac_header": [MOV64_REG(6, 1), _ld(_ABS_B, 0, -0x200000 + 2), EXIT()],
    "abs_below_ll": [MOV64_REG(6, 1), MOV64_IMM(0, 9), _ld(_ABS_B, 0, -0x200001), EXIT()],
    # two loads and a jump over the second: offsets follow the growth
    "abs_two_jump": [MOV64_REG(6, 1), _ld(_ABS_B, 0, 0), JEQ_IMM(0, 0, 1), _ld(_ABS_B, 0, 1), EXIT()],
}
LD_ABS_CASES = {f"{name}_{t.name.lower()}": (lambda k, p=prog, t=t: (t, p, []))
                for name, prog in LD_ABS_PROGS.items() for t in (ProgType.SOCKET_FILTER, ProgType.SCHED_CLS)}


def inner_map_lookup(outer_type, inner_flags=0):
    """lookup(outer, &0) -> inner; lookup(inner, &1) is inlined by the template's shape."""
    def build(k):
        template = _map(k, MapType.ARRAY, value_size=12, max_entries=3, flags=inner_flags)
        outer = _map(k, outer_type, value_size=4, max_entries=2, inner=template)
        inner = _map(k, MapType.ARRAY, value_size=12, max_entries=3, flags=inner_flags)
        k.map_update_elem(outer, (0).to_bytes(4, "little"), inner.to_bytes(4, "little"))
        k.map_update_elem(inner, (1).to_bytes(4, "little"), (77).to_bytes(12, "little"))
        prog = [ST_MEM(4, 10, -4, 0), *LD_MAP_FD(1, outer), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), CALL(LOOKUP),
                JEQ_IMM(0, 0, 7), MOV64_REG(1, 0), ST_MEM(4, 10, -8, 1), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -8),
                CALL(LOOKUP), JEQ_IMM(0, 0, 1), LDX_MEM(4, 0, 0, 0), EXIT()]
        return RAW_TP, prog, [outer, inner, template]
    return build


INNER_MAP_CASES = {
    "inner_array_of_maps": inner_map_lookup(MapType.ARRAY_OF_MAPS),
    "inner_hash_of_maps": inner_map_lookup(MapType.HASH_OF_MAPS),
    "inner_flag_not_inlined": inner_map_lookup(MapType.ARRAY_OF_MAPS, BPF_F_INNER_MAP),
}


# --- `w0 = w0` after a 32-bit cmpxchg whose r0 is read as 64 bits later
_CMPXCHG_W = Insn(0xC3, 10, 1, -8, 0xF1)
_CMPXCHG_BASE = [ST_MEM(8, 10, -8, 5), MOV64_IMM(0, 5), MOV64_IMM(1, 9), _CMPXCHG_W]
ZEXT_CASES = {
    "zext_exit": _fixed(_CMPXCHG_BASE + [EXIT()]),
    "zext_alu32_use": _fixed(_CMPXCHG_BASE + [Insn(0x04, 0, 0, 0, 1), EXIT()]),
    "zext_jmp64": _fixed(_CMPXCHG_BASE + [JEQ_IMM(0, 5, 1), MOV64_IMM(0, 1), EXIT()]),
    "zext_jmp32_then_exit": _fixed(_CMPXCHG_BASE + [Insn(0x16, 0, 0, 1, 5), MOV64_IMM(0, 1), EXIT()]),
    "zext_redefined": _fixed(_CMPXCHG_BASE + [MOV64_IMM(0, 1), EXIT()]),
    "zext_mov32_copy": _fixed(_CMPXCHG_BASE + [Insn(0xBC, 2, 0), MOV64_IMM(0, 0), EXIT()]),
    "zext_stx_w": _fixed(_CMPXCHG_BASE + [STX_MEM(4, 10, 0, -16), MOV64_IMM(0, 0), EXIT()]),
    "zext_stx_dw": _fixed(_CMPXCHG_BASE + [STX_MEM(8, 10, 0, -16), MOV64_IMM(0, 0), EXIT()]),
    "zext_alu64_src": _fixed(_CMPXCHG_BASE + [MOV64_IMM(2, 0), ALU64_REG(ADD, 2, 0), MOV64_IMM(0, 0), EXIT()]),
    "zext_not_for_dw": _fixed([ST_MEM(8, 10, -8, 5), MOV64_IMM(0, 5), MOV64_IMM(1, 9), Insn(0xDB, 10, 1, -8, 0xF1),
                               EXIT()]),
}


def map_ptr_across_fastcall(k):
    """The map pointer survives an inlined bpf_get_smp_processor_id in r1 once its
    fastcall spill/fill is gone: the lookup after it is inlined as well."""
    a = _map(k, MapType.ARRAY)
    prog = [ST_MEM(4, 10, -4, 1), *LD_MAP_FD(1, a), STX_MEM(8, 10, 1, -16), CALL(SMP_ID), LDX_MEM(8, 1, 10, -16),
            MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), CALL(LOOKUP), JEQ_IMM(0, 0, 2), LDX_MEM(4, 0, 0, 0), EXIT(),
            MOV64_IMM(0, 7), EXIT()]
    return RAW_TP, prog, [a]


CASES["map_ptr_across_fastcall"] = map_ptr_across_fastcall
