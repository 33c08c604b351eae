"""The address space: lazy regions, per-CPU cookies and the percpu mov, helper access."""

import pytest

from harness.isa import Insn, assemble
from harness.kernel.vm import Memory, Vm, VmFault

PERCPU_MOV = Insn(0xbf, 1, 1, -1)     # (bf) r1 = &(void __percpu *)(r1)


def ld_imm64(dst, value):
    return [Insn(0x18, dst, 0, 0, value & 0xFFFFFFFF), Insn(0, 0, 0, 0, (value >> 32) & 0xFFFFFFFF)]


def test_address_of_is_stable_and_lazy():
    mem = Memory()
    value = bytearray(8)
    a = mem.address_of(value)
    assert mem.address_of(value) == a and mem.address_of(bytearray(8)) != a
    assert mem.storage_at(a + 3) == (value, 3)
    mem.release(value)
    assert mem.storage_at(a) is None


def test_map_value_from_helper_is_writable_by_program():
    mem = Memory()
    value = bytearray(16)

    def lookup(vm):
        return vm.memory.address_of(value)
    prog = assemble("call 1\nstdw [%r0+8], 0x55\nldxdw %r0, [%r0+8]\nexit")
    for _ in range(2):
        assert Vm(mem, helpers={1: lookup}).run(prog).r0 == 0x55
    assert value[8] == 0x55 and len(mem.regions) >= 1


def test_percpu_mov_selects_current_cpu_copy():
    mem = Memory()
    copies = {}

    def resolve(cpu):
        return copies.setdefault(cpu, bytearray((cpu + 1) * 10 for _ in range(8)))
    cookie = mem.add_percpu(resolve, 8, name=".percpu")
    prog = ld_imm64(1, cookie + 4) + [PERCPU_MOV] + assemble(
        "ldxb %r0, [%r1+0]\nstb [%r1+1], 7\nexit")
    assert Vm(mem, cpu=0).run(prog).r0 == 10
    assert Vm(mem, cpu=2).run(prog).r0 == 30
    assert sorted(copies) == [0, 2]                 # memory only for the CPUs touched
    assert copies[2][5] == 7 and copies[0][5] == 7 and copies[2][4] == 30


def test_percpu_mov_of_non_cookie_faults():
    prog = [Insn(0xb7, 1, 0, 0, 0x100), PERCPU_MOV, Insn(0x95)]
    with pytest.raises(VmFault, match="insn 1: percpu address of 0x100, which is not a per-CPU cookie"):
        Vm(Memory()).run(prog)


def test_percpu_addr_api_for_helpers():
    mem = Memory()
    cpus = [bytearray(4) for _ in range(4)]
    cookie = mem.add_percpu(lambda cpu: cpus[cpu], 4)
    a1, a3 = mem.percpu_addr(cookie + 1, 1), mem.percpu_addr(cookie + 1, 3)
    assert mem.storage_at(a1) == (cpus[1], 1) and mem.storage_at(a3) == (cpus[3], 1)
    assert mem.percpu_addr(cookie, 1) == a1 - 1


def test_object_handles():
    mem = Memory()
    obj = object()
    a = mem.add_object(obj, name="map")
    assert mem.add_object(obj) == a and mem.object_at(a) is obj and mem.object_at(a + 1) is None
    with pytest.raises(VmFault, match="is not memory"):
        mem.read(a, 1)


def test_helper_byte_access():
    mem = Memory()
    buf = bytearray(b"hello\0world")
    a = mem.add(buf, kind="packet")
    assert mem.read(a, 5) == b"hello" and mem.read_str(a) == b"hello"
    mem.write(a, b"J")
    assert buf[:5] == b"Jello"
    assert bytes(mem.view(a + 6, 5)) == b"world"
    with pytest.raises(VmFault, match="out-of-bounds read of 4 bytes"):
        mem.read(a + 9, 4)
    with pytest.raises(VmFault, match="unterminated|out-of-bounds"):
        mem.read_str(a + 6)


def test_memoryview_regions():
    mem = Memory()
    raw = bytearray(16)
    a = mem.add(memoryview(raw)[4:12], kind="ctx")
    assert Vm(mem).run(assemble("stw [%r1+4], -1\nldxw %r0, [%r1+4]\nexit"), r1=a).r0 == 0xFFFFFFFF
    assert raw[8:12] == b"\xff" * 4
    with pytest.raises(ValueError):
        mem.add(b"ro", writable=True)


def test_region_churn_does_not_exhaust_the_address_space():
    """Hash-map churn registers and releases a value region per element, forever."""
    mem = Memory()
    last = 0
    for _ in range(100_000):
        value = bytearray(8)
        last = mem.address_of(value)
        mem.release(value)
    assert last > 0 and not mem.regions
