"""bpf-to-bpf calls, frames, callbacks, callx, stop and tail calls."""

import pytest

from harness.isa import Insn, assemble
from harness.kernel.vm import MAX_CALL_FRAMES, Memory, Vm, VmFault

PSEUDO_FUNC = 4


def chain(depth: int) -> str:
    """main calls f1 calls f2 ... f<depth>; each adds 1 to r0 on the way back."""
    lines = ["mov %r0, 0", "call local f1" if depth else "", "exit"]
    for k in range(1, depth + 1):
        lines += [f"f{k}:", f"call local f{k + 1}" if k < depth else "mov %r0, 0", "add %r0, 1", "exit"]
    return "\n".join(ln for ln in lines if ln)


def test_deepest_allowed_chain():
    assert Vm(Memory()).run(assemble(chain(MAX_CALL_FRAMES - 1))).r0 == MAX_CALL_FRAMES - 1


def test_too_deep_chain_faults():
    with pytest.raises(VmFault, match="the call stack of 9 frames is too deep"):
        Vm(Memory()).run(assemble(chain(MAX_CALL_FRAMES)))


def test_recursion_stops_at_depth_limit():
    with pytest.raises(VmFault, match="too deep"):
        Vm(Memory()).run(assemble("call local f\nexit\nf:\ncall local f\nexit"))


def test_frames_have_separate_zeroed_stacks_and_callee_saved_regs():
    prog = assemble("""
        stdw [%r10-8], 11
        mov %r6, 6
        call local f
        ldxdw %r1, [%r10-8]
        lsh %r1, 8
        or %r0, %r1
        add %r0, %r6
        exit
    f:
        ldxdw %r0, [%r10-8]
        stdw [%r10-8], 99
        mov %r6, 0
        exit
    """)
    # callee saw a zeroed stack (r0 = 0), caller's slot kept 11, r6 preserved by the frame
    assert Vm(Memory()).run(prog).r0 == (11 << 8) + 6


def test_pointer_to_caller_stack_is_usable_by_callee():
    prog = assemble("""
        stdw [%r10-8], 5
        mov %r1, %r10
        add %r1, -8
        call local f
        ldxdw %r0, [%r10-8]
        exit
    f:
        stdw [%r1+0], 42
        exit
    """)
    assert Vm(Memory()).run(prog).r0 == 42


def with_callback(body: str, cb: str) -> list[Insn]:
    """`body` with r2 = address of the callback `cb` loaded by ld_imm64 PSEUDO_FUNC."""
    main = assemble(body)
    callback = assemble(cb)
    head = [Insn(0x18, 2, PSEUDO_FUNC, 0, len(main) + 1), Insn(0)]
    return head + main + callback


def bpf_loop(vm):
    nr, func, ctx = vm.arg(1), vm.arg(2), vm.arg(3)
    for i in range(nr):
        if vm.call_function(func, i, ctx):
            return i + 1
    return nr


def test_callback_through_helper():
    prog = with_callback(
        "stdw [%r10-8], 0\nmov %r1, 10\nmov %r3, %r10\nadd %r3, -8\ncall 181\nldxdw %r1, [%r10-8]\n"
        "lsh %r0, 16\nor %r0, %r1\nexit",
        "ldxdw %r0, [%r2+0]\nadd %r0, %r1\nstxdw [%r2+0], %r0\nmov %r0, 0\nexit")
    res = Vm(Memory(), helpers={181: bpf_loop}).run(prog)
    assert res.r0 == (10 << 16) + sum(range(10))


def test_callback_insns_count_against_budget():
    prog = with_callback("mov %r1, 1000000\nmov %r3, 0\ncall 181\nexit", "L:\nja L\nexit")
    with pytest.raises(VmFault, match="budget"):
        Vm(Memory(), helpers={181: bpf_loop}, budget=10_000).run(prog)


def test_callx_to_callback_address():
    prog = with_callback("mov %r1, 20\ncall %r2\nadd %r0, 1\nexit", "mov %r0, %r1\nexit")
    assert Vm(Memory()).run(prog).r0 == 21


def test_stop_from_helper_ends_run():
    def stop(vm):
        vm.stop(7)
    res = Vm(Memory(), helpers={5: stop}).run(assemble("call local f\nmov %r0, 1\nexit\nf:\ncall 5\nexit"))
    assert res.r0 == 7 and res.insns_executed >= 2


def test_tail_call_keeps_r1():
    target = assemble("mov %r0, %r1\nadd %r0, 1000\nexit")

    def tail(vm):
        vm.tail_call(target)
    res = Vm(Memory(), helpers={12: tail}).run(assemble("mov %r6, %r1\ncall 12\nmov %r0, 0\nexit"), r1=5)
    assert res.r0 == 1005 and res.tail_calls == 1


def test_tail_call_limit():
    prog = assemble("call 12\nexit")

    def tail(vm):
        vm.tail_call(prog)
    with pytest.raises(VmFault, match="more than 33 tail calls"):
        Vm(Memory(), helpers={12: tail}).run(prog)


def test_insn_count_and_entry_point():
    prog = assemble("mov %r0, 1\nexit\nmov %r0, %r1\nadd %r0, 2\nexit")
    vm = Vm(Memory())
    assert vm.run(prog).insns_executed == 2
    res = vm.run(prog, entry=2, r1=40)
    assert res.r0 == 42 and res.insns_executed == 3


def test_helper_sees_args_cpu_and_context():
    seen = {}

    def helper(vm):
        seen.update(args=vm.args, cpu=vm.cpu, ctx=vm.context)
        return -1
    vm = Vm(Memory(), helpers={1: helper}, cpu=3)
    vm.context = "state"
    res = vm.run(assemble("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, -5\ncall 1\nexit"))
    assert res.r0 == (1 << 64) - 1
    assert seen == {"args": (1, 2, 3, 4, (1 << 64) - 5), "cpu": 3, "ctx": "state"}


def test_translation_cache_sees_mutated_list():
    prog = assemble("mov %r0, 1\nexit")
    vm = Vm(Memory())
    assert vm.run(prog).r0 == 1
    prog[0] = Insn(0xb7, 0, 0, 0, 2)
    assert vm.run(prog).r0 == 2 and vm.run(tuple(prog)).r0 == 2


def test_long_branch_chains_translate_flat():
    """3000 conditional jumps in a row (superblocks must not nest Python blocks)."""
    lines = ["mov %r0, 0", "mov %r1, 5"]
    for k in range(3000):
        lines += [f"jeq %r1, {k & 7}, +1", "add %r0, 1"]
    res = Vm(Memory()).run(assemble("\n".join(lines + ["exit"])))
    assert res.r0 == 3000 - 375 and res.insns_executed == 2 + 3000 + 2625 + 1
