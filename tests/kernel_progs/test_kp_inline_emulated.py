"""Helper inlining after verification (harness/kernel/inlining.py) on the emulated kernel
alone: the expected xlated text (checked once against 6.18, see test_kp_inline_real.py),
the conditions (JIT, percpu instruction, CAP_PERFMON, poisoned call sites) and the VM
running the rewritten programs."""

from __future__ import annotations

import pytest

from harness import kernelapi
from harness.isa import Insn, decode, encode
from harness.isa.disasm import disasm
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernel.core import ALL_FEATURES
from harness.kernel.helpers import func_id_name
from harness.kernel.inlining import CPU_NUMBER_ADDR, call_map_ptrs
from harness.kernel.progload import InsnAux
from harness.kernel.verifier.expect import match_lines, xlated_text
from harness.kernel.vm import Memory, VmFault
from harness.kernelapi import MapCreateAttr, ProgLoadAttr
from harness.uapi import BPF_F_TEST_RUN_ON_CPU, MapType, ProgType
from kp_asm import CALL, EXIT, LD_MAP_FD, MOV64_IMM, MOV64_REG
from kp_inline_progs import (
    CASES, DEAD_CODE_CASES, DIV_CASES, FASTCALL_CASES, INTERACTION_CASES, LD_ABS_CASES, LOOP_CASES, MAY_GOTO_CASES,
    RAW_TP, SUBPROG_CASES, ZEXT_CASES, lookup_prog,
)

SMP_ID = ["0: (b7) r0 = -2092916684", "1: (bf) r0 = &(void __percpu *)(r0)", "2: (61) r0 = *(u32 *)(r0 +0)",
          "3: (95) exit"]
ARRAY_LOOKUP = ["5: (07) r1 += 312", "6: (61) r0 = *(u32 *)(r2 +0)", "7: (35) if r0 >= 0x5 goto pc+3",
                "8: (27) r0 *= 24", "9: (0f) r0 += r1", "10: (05) goto pc+1", "11: (b7) r0 = 0"]
ARRAY_LOOKUP_UNPRIV = ["5: (07) r1 += 312", "6: (61) r0 = *(u32 *)(r2 +0)", "7: (35) if r0 >= 0x5 goto pc+4",
                       "8: (54) w0 &= 7", "9: (27) r0 *= 24", "10: (0f) r0 += r1", "11: (05) goto pc+1",
                       "12: (b7) r0 = 0"]
PERCPU_ARRAY_LOOKUP = ["5: (07) r1 += 312", "6: (61) r0 = *(u32 *)(r2 +0)", "7: (35) if r0 >= 0x3 goto pc+5",
                       "8: (67) r0 <<= 3", "9: (0f) r0 += r1", "10: (79) r0 = *(u64 *)(r0 +0)",
                       "11: (bf) r0 = &(void __percpu *)(r0)", "12: (05) goto pc+1", "13: (b7) r0 = 0"]
HASH_LOOKUP = ["5: (85) call bpf_map_lookup_elem#1", "6: (15) if r0 == 0x0 goto pc+1", "7: (07) r0 += 56"]
CALL_ONLY = ["5: (85) call bpf_map_lookup_elem#1", "6: (15) if r0 == 0x0 goto pc+2"]
JIFFIES = ["0: (18) r0 = 0xffffffff83009980", "2: (79) r0 = *(u64 *)(r0 +0)"]
NO_JIT_PERCPU = ALL_FEATURES - {"jit_percpu_insn"}

EXPECT = [
    # (case, kernel config, expected consecutive xlated lines)
    ("smp_id", {}, SMP_ID),
    ("smp_id", {"features": NO_JIT_PERCPU}, ["0: (85) call bpf_get_smp_processor_id#8", "1: (95) exit"]),
    ("smp_id", {"jit_enabled": False}, ["0: (85) call bpf_get_smp_processor_id#8", "1: (95) exit"]),
    ("array_mul", {}, ARRAY_LOOKUP),
    ("array_mul", {"privileged": False}, ARRAY_LOOKUP_UNPRIV),
    ("array_mul", {"jit_enabled": False}, CALL_ONLY),
    ("array_inner_flag", {}, CALL_ONLY),
    ("percpu_array", {}, PERCPU_ARRAY_LOOKUP),
    ("percpu_array", {"features": NO_JIT_PERCPU}, CALL_ONLY),
    ("hash", {}, HASH_LOOKUP),
    ("lru_percpu_hash", {}, CALL_ONLY),
    ("poisoned", {}, ["9: (85) call bpf_map_lookup_elem#1", "10: (b7) r0 = 0"]),
    ("same_map_two_paths", {}, ["9: (07) r1 += 312"]),
    ("spilled_map_ptr", {}, ["7: (07) r1 += 312"]),
    ("jiffies64", {}, JIFFIES),
]


def _xlated(k, build):
    prog_type, insns, _, *kw = build(k)
    if not k.config.privileged:
        prog_type = ProgType.SOCKET_FILTER        # one a CAP_BPF-only loader may load
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL", **(kw[0] if kw else {}))).fd
    return disasm(decode(k.prog_get_info(fd).xlated), helper_name=func_id_name)


@pytest.mark.parametrize("name, cfg, lines", EXPECT, ids=[f"{n}-{'-'.join(c) or 'default'}" for n, c, _ in EXPECT])
def test_xlated(name, cfg, lines):
    got = _xlated(EmulatedKernel(KernelConfig(**cfg)), CASES[name])
    assert not match_lines("\n".join(got), lines), "\n".join(got)


def test_upstream_xlated_pattern_matches():
    """The form verifier_bpf_fastcall.c / verifier_nocsr.c check after the inlined call."""
    got = _xlated(EmulatedKernel(), CASES["smp_id"])
    assert not match_lines(xlated_text(got), ["0: r0 = {{.*}}", "1: r0 = &(void __percpu *)(r0)",
                                              "2: r0 = *(u32 *)(r0 +0)", "3: exit"])


def test_verified_insns_unchanged():
    """Inlining happens after verification: the processed count does not see it."""
    counts = []
    for jit in (True, False):
        k = EmulatedKernel(KernelConfig(jit_enabled=jit))
        _, insns, _ = CASES["array_pow2"](k)
        fd = k.prog_load(ProgLoadAttr(RAW_TP, encode(insns), license="GPL")).fd
        counts.append(k.prog_get_info(fd).verified_insns)
    assert counts[0] == counts[1] > 0


def _run(k, insns, cpu):
    fd = k.prog_load(ProgLoadAttr(RAW_TP, encode(insns), license="GPL")).fd
    return k.prog_test_run(fd, kernelapi.TestRunAttr(flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu)).retval


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("cpu", [0, 1, 3])
def test_smp_id_runs_on_each_cpu(jit, cpu):
    k = EmulatedKernel(KernelConfig(nr_cpus=4, jit_enabled=jit))
    assert _run(k, [CALL(8), EXIT()], cpu) == cpu


@pytest.mark.parametrize("map_type, value, key, want", [
    (MapType.ARRAY, 41, 1, 41),
    (MapType.ARRAY, 41, 4, 7),            # out of range: NULL
    (MapType.HASH, 42, 1, 42),
    (MapType.HASH, 42, 2, 7),             # missing key: NULL
    (MapType.LRU_HASH, 43, 1, 43),
    (MapType.PERCPU_HASH, 44, 1, 44),
    (MapType.PERCPU_ARRAY, 45, 1, 45),
])
@pytest.mark.parametrize("jit", [True, False])
def test_inlined_lookup_runs(map_type, value, key, want, jit):
    k = EmulatedKernel(KernelConfig(nr_cpus=2, jit_enabled=jit))
    fd = k.map_create(MapCreateAttr(map_type, 4, 8, 4))
    one = value.to_bytes(8, "little")
    percpu = map_type in (MapType.PERCPU_HASH, MapType.PERCPU_ARRAY)
    k.map_update_elem(fd, (1).to_bytes(4, "little"), one * 2 if percpu else one)
    assert _run(k, lookup_prog(fd, key), 1) == want


def test_percpu_array_lookup_reads_the_run_cpu():
    k = EmulatedKernel(KernelConfig(nr_cpus=3))
    fd = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 4, 2))
    k.map_update_elem(fd, (1).to_bytes(4, "little"), b"".join((10 + c).to_bytes(8, "little") for c in range(3)))
    assert [_run(k, lookup_prog(fd), c) for c in range(3)] == [10, 11, 12]


def test_map_ptr_flow():
    """call_map_ptrs: direct loads, copies, spills; clobbered by calls; lost at joins."""
    m, other = object(), object()
    ld = LD_MAP_FD(1, 3)
    insns = [*ld, MOV64_REG(6, 1), CALL(1), MOV64_REG(1, 6), CALL(1), CALL(1), EXIT()]
    aux = [InsnAux() for _ in insns]
    aux[0].map = m
    assert call_map_ptrs(insns, aux) == {3: m, 5: m}
    join = [*LD_MAP_FD(1, 3), Insn(0x15, 2, 0, 2, 0), *LD_MAP_FD(1, 4), CALL(1), EXIT()]
    aux = [InsnAux() for _ in join]
    aux[0].map, aux[3].map = m, other
    assert call_map_ptrs(join, aux) == {}
    aux[3].map = m
    assert call_map_ptrs(join, aux) == {5: m}


def test_percpu_symbol_resolves_per_cpu():
    mem = Memory()
    mem.add_percpu_symbol(CPU_NUMBER_ADDR, lambda cpu: cpu.to_bytes(4, "little"), 4, name="cpu_number")
    a0, a2 = mem.percpu_addr(CPU_NUMBER_ADDR, 0), mem.percpu_addr(CPU_NUMBER_ADDR, 2)
    assert (mem.read(a0, 4), mem.read(a2, 4)) == ((0).to_bytes(4, "little"), (2).to_bytes(4, "little"))
    assert mem.percpu_addr(CPU_NUMBER_ADDR, 2) == a2
    with pytest.raises(VmFault):
        mem.write(a2, b"\1")              # read-only copy
    with pytest.raises(VmFault):
        mem.percpu_addr(CPU_NUMBER_ADDR + 4, 0)


DEAD_CODE_EXPECT = {
    "dead_fallthrough": ["0: (b7) r0 = 1", "1: (95) exit"],
    # never taken, but its target is reached through the fall-through: kept
    "dead_target": ["0: (b7) r0 = 1", "1: (15) if r0 == 0x2 goto pc+1", "2: (b7) r0 = 2", "3: (95) exit"],
    "dead_in_loop": ["0: (b7) r0 = 0", "1: (b7) r1 = 0", "2: (07) r0 += 1", "3: (a5) if r0 < 0x3 goto pc-2",
                     "4: (95) exit"],
    "nops": ["0: (b7) r0 = 4", "1: (07) r0 += 1", "2: (95) exit"],
    "dead_subprog": ["0: (b7) r0 = 1", "1: (b7) r0 = 6", "2: (95) exit"],
    "live_subprog_after_hole": ["0: (b7) r0 = 1", "1: (85) call pc+1", "2: (95) exit", "3: (b7) r0 = 9",
                                "4: (95) exit"],
}
DEAD_CODE_EXPECT["jump_back_to_nop"] = ["0: (b7) r0 = 0", "1: (07) r0 += 1", "2: (a5) if r0 < 0x3 goto pc-2",
                                         "3: (95) exit"]
DEAD_CODE_RETVAL = {
    "jump_back_to_nop": 3, "dead_fallthrough": 1, "dead_target": 2, "dead_in_loop": 3,
    "nops": 5, "dead_subprog": 6, "live_subprog_after_hole": 9, "dead_ldimm64": 3,
}


@pytest.mark.parametrize("name", list(DEAD_CODE_EXPECT))
def test_dead_code_removed(name):
    assert _xlated(EmulatedKernel(), DEAD_CODE_CASES[name]) == DEAD_CODE_EXPECT[name]


@pytest.mark.parametrize("name", list(DEAD_CODE_RETVAL))
def test_dead_code_removal_keeps_results(name):
    _, insns, _ = DEAD_CODE_CASES[name](None)
    assert _run(EmulatedKernel(KernelConfig(nr_cpus=2)), insns, 0) == DEAD_CODE_RETVAL[name]


FASTCALL_EXPECT = [
    # (case, kernel config, expected consecutive xlated lines)
    ("fastcall_simple", {}, ["1: (b7) r2 = 2", "2: (b7) r0 = -2092916684", "3: (bf) r0 = &(void __percpu *)(r0)",
                             "4: (61) r0 = *(u32 *)(r0 +0)", "5: (0f) r0 += r1"]),
    # not inlined (no percpu instruction): the pairs stay
    ("fastcall_simple", {"features": NO_JIT_PERCPU}, ["3: (7b) *(u64 *)(r10 -16) = r2",
                                                      "4: (85) call bpf_get_smp_processor_id#8",
                                                      "5: (79) r2 = *(u64 *)(r10 -16)"]),
    ("fastcall_slot_read", {}, ["2: (7b) *(u64 *)(r10 -8) = r1", "3: (b7) r0 = -2092916684"]),
    ("fastcall_slot_alias", {}, ["2: (7b) *(u64 *)(r10 -8) = r1", "3: (b7) r0 = -2092916684"]),
    ("fastcall_not_lowest", {}, ["4: (7b) *(u64 *)(r10 -16) = r2", "5: (b7) r0 = -2092916684"]),
    ("fastcall_helper_reads_slot", {}, ["0: (b7) r1 = 1", "1: (b7) r0 = -2092916684"]),
    ("fastcall_other_helper", {}, ["1: (7b) *(u64 *)(r10 -8) = r1", "2: (85) call bpf_ktime_get_ns#5"]),
    ("fastcall_in_loop", {}, ["1: (b7) r6 = 0", "2: (b7) r0 = -2092916684", "3: (bf) r0 = &(void __percpu *)(r0)",
                              "4: (61) r0 = *(u32 *)(r0 +0)", "5: (0f) r6 += r0", "6: (07) r1 += 1",
                              "7: (a5) if r1 < 0x3 goto pc-6"]),
]


@pytest.mark.parametrize("name, cfg, lines", FASTCALL_EXPECT,
                         ids=[f"{n}-{'-'.join(c) or 'default'}" for n, c, _ in FASTCALL_EXPECT])
def test_fastcall_xlated(name, cfg, lines):
    got = _xlated(EmulatedKernel(KernelConfig(**cfg)), FASTCALL_CASES[name])
    assert not match_lines("\n".join(got), lines), "\n".join(got)


@pytest.mark.parametrize("name, want", [("fastcall_simple", lambda c: 3 + c), ("fastcall_in_loop", lambda c: 3 * c),
                                        ("fastcall_slot_read", lambda c: 2 + c), ("fastcall_r0", lambda c: 3)])
@pytest.mark.parametrize("cpu", [0, 2])
def test_fastcall_programs_run(name, want, cpu):
    """r1..r5 survive the inlined call once their spill/fill pairs are gone."""
    _, insns, _ = FASTCALL_CASES[name](None)
    assert _run(EmulatedKernel(KernelConfig(nr_cpus=3)), insns, cpu) == want(cpu)


# retvals of kp_inline_progs.DIV_CASES as the running kernel gave them (r0 ^ r0 >> 32, low half)
DIV_RETVAL = {
    "udiv_0": 14, "udiv_2": 0, "udiv32_1": 613566742, "umod_2": 99, "umod32_2": 4294967196, "umod32_5": 2147483648,
    "sdiv_1": 13, "sdiv_2": 0, "sdiv_3": 100, "sdiv_4": 2147483648, "sdiv_5": 2147483647, "sdiv32_1": 4294967282,
    "sdiv32_5": 2147483648, "smod_1": 1, "smod_2": 99, "smod_4": 0, "smod32_1": 4294967294, "smod32_2": 4294967196,
    "smod32_5": 0, "sdiv_imm_m1_1": 2147483648, "sdiv32_imm_m1_2": 2147483648, "smod_imm_m1_0": 0,
}


@pytest.mark.parametrize("name", list(DIV_RETVAL))
def test_division_guards_keep_results(name):
    _, insns, _ = DIV_CASES[name](None)
    assert _run(EmulatedKernel(KernelConfig(nr_cpus=2)), insns, 0) == DIV_RETVAL[name]


DIV_XLATED = {
    "udiv_0": ["4: (55) if r1 != 0x0 goto pc+2", "5: (ac) w0 ^= w0", "6: (05) goto pc+1", "7: (3f) r0 /= r1"],
    "umod32_0": ["4: (16) if w1 == 0x0 goto pc+2", "5: (9c) w0 %= w1", "6: (05) goto pc+1", "7: (bc) w0 = w0"],
    "sdiv_0": ["4: (bf) r11 = r1", "5: (07) r11 += 1", "6: (25) if r11 > 0x1 goto pc+4",
               "7: (15) if r11 == 0x0 goto pc+1", "8: (b7) r0 = 0", "9: (87) r0 = -r0", "10: (05) goto pc+1",
               "11: (3f) r0 s/= r1"],
    "smod32_0": ["4: (bf) r11 = r1", "5: (04) w11 += 1", "6: (26) if w11 > 0x1 goto pc+3",
                 "7: (16) if w11 == 0x1 goto pc+4", "8: (b4) w0 = 0", "9: (05) goto pc+1", "10: (9c) w0 s%= w1",
                 "11: (05) goto pc+1", "12: (bc) w0 = w0"],
    "sdiv_imm_m1_0": ["4: (87) r0 = -r0", "5: (bf) r2 = r0"],
    "smod32_imm_m1_0": ["4: (b4) w0 = 0", "5: (bf) r2 = r0"],
}


@pytest.mark.parametrize("name", list(DIV_XLATED))
def test_division_guards_xlated(name):
    got = _xlated(EmulatedKernel(), DIV_CASES[name])
    assert not match_lines("\n".join(got), DIV_XLATED[name]), "\n".join(got)


@pytest.mark.parametrize("jit, calls", [(True, ["0: (85) call pc+1", "4: (85) call pc+2"]),
                                        (False, ["0: (85) call pc+2", "4: (85) call pc+1"])])
def test_calls_carry_subprog_index_with_jit(jit, calls):
    """jit_subprogs: with the JIT, `call pc+N` names subprogram N; the VM still runs it."""
    got = _xlated(EmulatedKernel(KernelConfig(jit_enabled=jit)), SUBPROG_CASES["three_funcs"])
    assert [ln for ln in got if "call" in ln] == calls
    _, insns, _ = SUBPROG_CASES["three_funcs"](None)
    assert _run(EmulatedKernel(KernelConfig(jit_enabled=jit)), insns, 0) == 8


def test_callback_load_carries_subprog_index():
    k = EmulatedKernel()
    got = _xlated(k, SUBPROG_CASES["for_each_callback"])
    assert "3: (18) r2 = 0x100000007" in got              # second slot: subprogram 1
    prog_type, insns, _, kw = SUBPROG_CASES["for_each_callback"](k)
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL", **kw)).fd
    assert k.prog_test_run(fd, kernelapi.TestRunAttr()).retval == 4


LOOP_XLATED = {
    "loop_basic": ["7: (b5) if r1 <= 0x800000 goto pc+2", "8: (b4) w0 = -7", "9: (05) goto pc+16",
                   "10: (7b) *(u64 *)(r10 -32) = r6", "11: (7b) *(u64 *)(r10 -24) = r7",
                   "12: (7b) *(u64 *)(r10 -16) = r8", "13: (bf) r6 = r1", "14: (b4) w7 = 0", "15: (bf) r8 = r3",
                   "16: (3d) if r7 >= r6 goto pc+5", "17: (bf) r1 = r7", "18: (bf) r2 = r8", "19: (85) call pc+1",
                   "20: (07) r7 += 1", "21: (15) if r0 == 0x0 goto pc-6", "22: (bf) r0 = r7",
                   "23: (79) r6 = *(u64 *)(r10 -32)", "24: (79) r7 = *(u64 *)(r10 -24)",
                   "25: (79) r8 = *(u64 *)(r10 -16)", "26: (79) r0 = *(u64 *)(r10 -8)"],
    "loop_depth12": ["11: (7b) *(u64 *)(r10 -40) = r6"],
    "loop_flags1": ["7: (85) call bpf_loop#181"],
}
LOOP_RETVAL = {"loop_basic": 45, "loop_depth12": 45, "loop_flags1": -22 & 0xFFFFFFFF, "loop_flags_w4": 3,
               "loop_too_many": -7 & 0xFFFFFFFF, "loop_two_calls": 9}


@pytest.mark.parametrize("name", list(LOOP_XLATED))
def test_bpf_loop_xlated(name):
    got = _xlated(EmulatedKernel(), LOOP_CASES[name])
    assert not match_lines("\n".join(got), LOOP_XLATED[name]), "\n".join(got)


@pytest.mark.parametrize("name", list(LOOP_RETVAL))
def test_bpf_loop_runs(name):
    k = EmulatedKernel()
    prog_type, insns, _, kw = LOOP_CASES[name](k)
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL", **kw)).fd
    assert k.prog_test_run(fd, kernelapi.TestRunAttr()).retval == LOOP_RETVAL[name]


MAY_GOTO_XLATED = {
    "may_goto_first": ["0: (7a) *(u64 *)(r10 -16) = 65535", "1: (7a) *(u64 *)(r10 -8) = 0",
                       "2: (79) r11 = *(u64 *)(r10 -16)", "3: (15) if r11 == 0x0 goto pc+6", "4: (17) r11 -= 1",
                       "5: (55) if r11 != 0x0 goto pc+2", "6: (b7) r11 = -16", "7: (85) call unknown#0",
                       "8: (7b) *(u64 *)(r10 -16) = r11", "9: (b7) r0 = 1"],
    "may_goto_mid_stack12": ["0: (7a) *(u64 *)(r10 -32) = 65535", "1: (7a) *(u64 *)(r10 -24) = 0",
                             "2: (62) *(u32 *)(r10 -12) = 0"],
    "may_goto_in_subprog": ["1: (85) call pc+1", "2: (95) exit", "3: (7a) *(u64 *)(r10 -24) = 65535"],
}


@pytest.mark.parametrize("name", list(MAY_GOTO_XLATED))
def test_may_goto_xlated(name):
    got = _xlated(EmulatedKernel(), MAY_GOTO_CASES[name])
    assert not match_lines("\n".join(got), MAY_GOTO_XLATED[name]), "\n".join(got)


@pytest.mark.parametrize("name, want", [("may_goto_first", 2), ("may_goto_mid_stack12", 2), ("may_goto_in_subprog", 4)])
def test_may_goto_programs_run(name, want):
    _, insns, _ = MAY_GOTO_CASES[name](None)
    assert _run(EmulatedKernel(), insns, 0) == want


INTERACTION_XLATED = {
    # the fastcall area is dropped from the stack: the may_goto counter lands at -24
    "fastcall_may_goto": ["0: (7a) *(u64 *)(r10 -24) = 65535", "1: (7a) *(u64 *)(r10 -16) = 0", "2: (b7) r1 = 1",
                          "3: (b7) r0 = -2092916684"],
    "fastcall_bpf_loop": ["11: (7b) *(u64 *)(r10 -32) = r6"],
    "fastcall_kept_bpf_loop": ["4: (7b) *(u64 *)(r10 -16) = r1", "5: (85) call bpf_get_prandom_u32#7",
                               "6: (79) r1 = *(u64 *)(r10 -16)", "...", "14: (7b) *(u64 *)(r10 -40) = r6"],
    "fastcall_helper_write": ["1: (7b) *(u64 *)(r10 -8) = r1", "2: (b7) r0 = -2092916684"],
}


@pytest.mark.parametrize("name", list(INTERACTION_XLATED))
def test_fastcall_stack_interactions(name):
    got = _xlated(EmulatedKernel(), INTERACTION_CASES[name])
    assert not match_lines("\n".join(got), INTERACTION_XLATED[name]), "\n".join(got)


def test_nospec_barriers_where_the_verifier_marks_them():
    """insert_nospec: before an instruction marked "nospec", after a stack write marked
    "nospec_result"; the marked instruction keeps its aux; the VM runs barriers as nops."""
    from harness.kernel.fixups import ST_NOSPEC, Xlated, insert_nospec
    from harness.kernel.inlining import lower_for_vm
    insns = [Insn(0x62, 10, 0, -4, 1), Insn(0xB7, 0, 0, 0, 3), Insn(0x95)]
    aux = [InsnAux(seen=True) for _ in insns]
    aux[0].extra["nospec_result"] = True
    aux[1].extra["nospec"] = True
    aux[1].map_off = 77                                   # a fact that must stay with r0 = 3
    x = Xlated(insns, aux)
    assert insert_nospec(x) == 2
    assert x.insns == [insns[0], ST_NOSPEC, ST_NOSPEC, insns[1], insns[2]]
    assert x.aux[3].map_off == 77 and x.aux[2].map_off == 0
    assert lower_for_vm(x.insns, x.aux)[1] == Insn(0x05)


@pytest.mark.parametrize("index, want", [(0, 42), (1, 5), (7, 5)])
def test_guarded_tail_call_runs(index, want):
    """Without CAP_PERFMON the tail call gets a bound check and a mask; the VM runs them."""
    k = EmulatedKernel(KernelConfig(privileged=False))
    pa = k.map_create(MapCreateAttr(MapType.PROG_ARRAY, 4, 4, 2))
    sf = ProgType.SOCKET_FILTER
    target = k.prog_load(ProgLoadAttr(sf, encode([MOV64_IMM(0, 42), EXIT()]), license="GPL")).fd
    k.map_update_elem(pa, (0).to_bytes(4, "little"), target.to_bytes(4, "little"))
    prog = [*LD_MAP_FD(2, pa), MOV64_IMM(3, index), CALL(12), MOV64_IMM(0, 5), EXIT()]
    fd = k.prog_load(ProgLoadAttr(sf, encode(prog), license="GPL")).fd
    got = disasm(decode(k.prog_get_info(fd).xlated))
    assert "3: (35) if r3 >= 0x2 goto pc+2" in got and "4: (54) w3 &= 1" in got
    assert k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=bytes(64))).retval == want


# retvals of kp_inline_progs.LD_ABS_CASES on 6.18 with data_in = bytes(range(64))
LD_ABS_RETVAL = {
    "abs_b_socket_filter": 34, "abs_b_sched_cls": 20, "abs_h_socket_filter": 0x2223, "abs_h_sched_cls": 0x1415,
    "abs_w_socket_filter": 0x22232425, "abs_w_sched_cls": 0x14151617, "abs_w_outside_socket_filter": 0,
    "ind_b_socket_filter": 21, "ind_b_sched_cls": 7, "ind_h_no_imm_sched_cls": 0x1E1F,
    "abs_net_header_socket_filter": 14, "abs_net_header_sched_cls": 14, "abs_mac_header_sched_cls": 2,
    "abs_below_ll_socket_filter": 0, "abs_two_jump_socket_filter": 15, "abs_two_jump_sched_cls": 0,
}


@pytest.mark.parametrize("name", list(LD_ABS_RETVAL))
def test_ld_abs_runs(name):
    """Socket filters see the packet from the network header, tc programs from the mac one."""
    k = EmulatedKernel()
    prog_type, insns, _ = LD_ABS_CASES[name](k)
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL")).fd
    assert k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=bytes(range(64)))).retval == LD_ABS_RETVAL[name]


@pytest.mark.parametrize("name, lines", [
    ("abs_b_socket_filter", ["1: (b7) r2 = 20", "2: (bf) r1 = r6", "3: (85) call unknown#-65537",
                             "4: (75) if r0 s>= 0x0 goto pc+2", "5: (ac) w0 ^= w0", "6: (95) exit", "7: (95) exit"]),
    ("ind_b_sched_cls", ["2: (bf) r2 = r7", "3: (07) r2 += 4", "4: (bf) r1 = r6", "5: (85) call unknown#-65537"]),
    ("abs_two_jump_sched_cls", ["7: (15) if r0 == 0x0 goto pc+6", "8: (b7) r2 = 1"]),
])
def test_ld_abs_xlated(name, lines):
    got = _xlated(EmulatedKernel(), LD_ABS_CASES[name])
    assert not match_lines("\n".join(got), lines), "\n".join(got)


def test_inner_map_known_by_its_template():
    """call_map_ptrs: r0 of a lookup in a map-in-map is the outer map's inner_map_meta."""
    class Outer:
        map_type = MapType.ARRAY_OF_MAPS
        inner_map_meta = object()
    outer = Outer()
    insns = [*LD_MAP_FD(1, 3), CALL(1), Insn(0x15, 0, 0, 2, 0), MOV64_REG(1, 0), CALL(1), EXIT()]
    aux = [InsnAux() for _ in insns]
    aux[0].map = outer
    assert call_map_ptrs(insns, aux) == {2: outer, 5: Outer.inner_map_meta}


@pytest.mark.parametrize("name, zext", [("zext_exit", True), ("zext_alu32_use", False), ("zext_jmp64", True),
                                        ("zext_jmp32_then_exit", True), ("zext_redefined", False),
                                        ("zext_mov32_copy", False), ("zext_stx_w", False), ("zext_stx_dw", True),
                                        ("zext_alu64_src", True), ("zext_not_for_dw", False)])
def test_cmpxchg32_zero_extension(name, zext):
    """`w0 = w0` (BPF_ZEXT_REG) right after the cmpxchg exactly where 6.18 puts it."""
    k = EmulatedKernel()
    prog_type, insns, _ = ZEXT_CASES[name](k)
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL")).fd
    x = decode(k.prog_get_info(fd).xlated)
    assert (x[4] == Insn(0xBC, 0, 0, 0, 1)) == zext
    assert k.prog_test_run(fd, kernelapi.TestRunAttr()).retval in (0, 1, 5, 6)
