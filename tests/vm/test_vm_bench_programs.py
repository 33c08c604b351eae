"""The benchmark programs (corpus/bench) compute their documented r0 on the VM, compiled
by the newest available Clang (the bpf_build fixture skips with the reason when none is)."""

import re
from pathlib import Path

import pytest

from harness.kernel.vm import Memory, Vm

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "bench"
DIRECT = sorted(p for p in CORPUS.glob("*.c") if p.stem != "hashmap")


@pytest.mark.parametrize("path", DIRECT, ids=[p.stem for p in DIRECT])
def test_bench_program_result(path, bpf_build):
    from harness.elf import BpfObject
    mem_size, want = map(int, re.search(r"bench:\s*mem=(\d+)\s+r0=(\d+)", path.read_text()).groups())
    obj = bpf_build(path, mcpu="v3")
    (prog,) = [p for p in BpfObject.open(str(obj)).programs() if p.section != ".text"]
    assert not prog.relocations
    mem = Memory()
    base = mem.add(bytearray(mem_size), kind="ctx")
    out = Vm(mem).run(prog.insns, r1=base, r2=mem_size)
    assert out.r0 & 0xFFFFFFFF == want and out.insns_executed > 1000
