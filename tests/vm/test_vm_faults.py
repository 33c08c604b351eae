"""Run-time faults and translation errors are clean HarnessErrors naming the insn."""

import pytest

from harness.errors import HarnessError
from harness.isa import Insn, assemble
from harness.kernel.vm import Memory, UnknownHelper, Vm, VmError, VmFault


def run(text, *, helpers=None, budget=1_000_000, mem=None, **regs):
    prog = assemble(text) if isinstance(text, str) else text
    return Vm(mem or Memory(), helpers=helpers, budget=budget).run(prog, **regs)


FAULTS = [
    # (program, expected pc, message fragment)
    ("ldxdw %r0, [%r10+0]\nexit", 0, "out-of-bounds read of 8 bytes"),
    ("stdw [%r10-520], 1\nexit", 0, "out-of-bounds write of 8 bytes"),
    ("mov %r1, %r10\nldxdw %r0, [%r1-513]\nexit", 1, "out-of-bounds read of 8 bytes"),
    ("mov %r1, 0\nldxw %r0, [%r1+0]\nexit", 1, "invalid read of 4 bytes at 0x0 (no memory there)"),
    ("mov %r1, 0x1234\nstxb [%r1+0], %r1\nexit", 1, "invalid write of 1 byte at 0x1234"),
    ("lddw %r1, 0xffffffffffffffff\nldxb %r0, [%r1+1]\nexit", 2, "invalid read of 1 byte"),
    ("mov %r1, 0\nmov %r2, 1\nlock add [%r1+8], %r2\nexit", 2, "invalid write of 8 bytes at 0x8"),
    ("ja -1\nexit", 0, "instruction budget exhausted"),
    ("mov %r0, 0\nL:\nadd %r0, 1\njne %r0, 0, L\nexit", 1, "instruction budget exhausted"),
    ("call 99\nexit", 0, "unknown helper id 99"),
    ("mov %r1, 77\ncall %r1\nexit", 1, "unknown helper id 77"),
    ("lddw %r1, 0x100000000000\ncall %r1\nexit", 2, "neither a helper id nor a function"),
]


@pytest.mark.parametrize("text,pc,msg", FAULTS, ids=[m for _, _, m in FAULTS])
def test_fault(text, pc, msg):
    with pytest.raises(VmFault) as exc:
        run(text)
    assert exc.value.pc == pc
    assert msg in str(exc.value) and str(exc.value).startswith(f"insn {pc}: ")


def test_fault_reports_address():
    with pytest.raises(VmFault) as exc:
        run("lddw %r1, 0xdead0000\nldxdw %r0, [%r1+8]\nexit")
    assert exc.value.addr == 0xdead0008 and "0xdead0008" in str(exc.value)


def test_read_only_region():
    mem = Memory()
    base = mem.add(b"\x01\x02\x03\x04", writable=False, kind="rodata")
    assert run("ldxw %r0, [%r1+0]\nexit", mem=mem, r1=base).r0 == 0x04030201
    with pytest.raises(VmFault, match="rodata .* is read-only"):
        run("stw [%r1+0], 0\nexit", mem=mem, r1=base)


def test_region_removed_faults_afterwards():
    mem = Memory()
    base = mem.add(bytearray(8), kind="ctx")
    mem.remove(base)
    with pytest.raises(VmFault, match="no memory there"):
        run("ldxb %r0, [%r1+0]\nexit", mem=mem, r1=base)


def test_percpu_cookie_is_not_memory():
    mem = Memory()
    cookie = mem.add_percpu(lambda cpu: bytearray(8), 8, name=".percpu")
    with pytest.raises(VmFault, match="per-CPU cookie .* without the percpu mov"):
        run("ldxw %r0, [%r1+0]\nexit", mem=mem, r1=cookie)


HELPER_FAULTS = [
    ({1: lambda vm: None}, "helper 1 returned None"),
    ({1: lambda vm: 1 // 0}, "helper 1 failed: ZeroDivisionError"),
    ({1: lambda vm: vm.memory.read(0x10, 4)}, "invalid read of 4 bytes at 0x10"),
    ({1: lambda vm: (_ for _ in ()).throw(vm.fault("bad ptr"))}, "bad ptr"),
]


@pytest.mark.parametrize("helpers,msg", HELPER_FAULTS, ids=[m for _, m in HELPER_FAULTS])
def test_helper_failures_become_faults(helpers, msg):
    with pytest.raises(VmFault) as exc:
        run("mov %r0, 0\ncall 1\nexit", helpers=helpers)
    assert exc.value.pc == 1 and msg in str(exc.value)


def test_dispatch_callable_unknown_helper():
    def dispatch(hid, vm):
        raise UnknownHelper(hid)
    with pytest.raises(VmFault, match="insn 0: invalid helper call: unknown helper id 3"):
        run("call 3\nexit", helpers=dispatch)


BAD_PROGRAMS = [
    ([Insn(0x05, 0, 0, 5), Insn(0x95)], "jump out of range"),
    ([Insn(0x18, 0, 0, 0, 1), Insn(0, 0, 0, 0, 0), Insn(0x05, 0, 0, -4), Insn(0x95)], "out of range"),
    ([Insn(0x05, 0, 0, 1), Insn(0x18, 0), Insn(0), Insn(0x95)], "into the middle of ldimm64"),
    ([Insn(0xb7, 0, 0, 0, 0)], "falls off the end"),
    ([Insn(0xb7, 10, 0, 0, 0), Insn(0x95)], "frame pointer is read only"),
    ([Insn(0x18, 0)], "invalid bpf_ld_imm64 insn"),
    ([Insn(0xf7), Insn(0x95)], "invalid BPF_ALU opcode"),
    ([Insn(0x85, 0, 1, 0, 7), Insn(0x95)], "call out of range"),
    ([], "empty program"),
]


@pytest.mark.parametrize("insns,msg", BAD_PROGRAMS, ids=[m for _, m in BAD_PROGRAMS])
def test_translation_errors(insns, msg):
    with pytest.raises(VmError) as exc:
        run(insns)
    assert msg in str(exc.value) and isinstance(exc.value, HarnessError)


def test_unknown_entry():
    with pytest.raises(VmError, match="entry point 5 is not an instruction"):
        Vm(Memory()).run(assemble("mov %r0, 0\nexit\nexit"), entry=5)
