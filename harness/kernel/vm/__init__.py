"""The BPF virtual machine of the emulated kernel (RFC 9669 v1-v4, every group).

API
---
    from harness.kernel.vm import Memory, Vm, RunResult, VmFault, VmError, translate

    mem = Memory()                                  # one address space per emulated kernel
    ctx_addr = mem.add(bytearray(64), kind="ctx")   # -> base address (u64)
    vm = Vm(mem, helpers=dispatch, cpu=0, budget=100_000_000)
    res = vm.run(insns, entry=0, r1=ctx_addr)       # -> RunResult(r0, insns_executed, tail_calls)
    mem.remove(ctx_addr); vm.close()                # per-run regions / the VM's stacks

Program: a list of harness.isa.Insn slots (ld_imm64 = 2 slots) or `translate(insns)`.
Translation (Python source per BPF function, see codegen.py) is cached per program, so
running the same slots again costs only the call.  The VM executes ld_imm64 immediates as
they are: prog_load must already have replaced map references by addresses from the same
Memory (`mem.address_of(value_bytearray)` for map values, `mem.add_percpu(resolver, size)`
for per-CPU cookies, `mem.add_object(bpf_map)` for map pointers).  Only ld_imm64 with
src = BPF_PSEUDO_FUNC is interpreted by the VM (a callback address).

Memory (memory.py): regions of (base, buffer, writable, kind) at 4 GiB-aligned bases;
`add`, `address_of` (lazy, same storage -> same address), `add_percpu`, `add_object`,
`remove`, `release`, `region_at`, `storage_at`, `object_at`, `percpu_addr(cookie, cpu)`,
`read`, `write`, `view`, `read_str`.  Out-of-bounds, wild, read-only and cookie accesses
raise VmFault naming the instruction and address.

Helpers: `helpers` is `dispatch(helper_id, vm) -> int` (raise UnknownHelper for ids it does
not implement) or a mapping {helper_id: fn(vm) -> int}.  A helper sees `vm.args` /
`vm.arg(n)` (r1..r5), `vm.memory`, `vm.cpu`, `vm.context` (free for the caller),
`vm.call_function(callback_addr, *args) -> r0` (bpf_loop, for_each_map_elem: runs in a new
frame, within the budget), `vm.stop(r0)` (end the run now), `vm.tail_call(insns)`
(continue in another program with the same r1; at most 33), `vm.fault(msg)`.
Its return value is r0 (masked to u64); any other exception becomes a VmFault.

Semantics: registers are u64; 512-byte zeroed stack per frame; MAX_CALL_FRAMES 8;
division by zero gives 0 and modulo by zero leaves the dividend (32-bit forms truncate);
callx calls the helper whose id is in the register, or a callback address; the
kernel-internal percpu mov (0xbf, off -1) turns a per-CPU cookie into the address of the
current CPU's copy; may_goto allows 8M iterations per frame; legacy LD_ABS/IND fault.
The instruction budget stops runaway programs ('instruction budget exhausted').
"""

from harness.kernel.vm.errors import VmError, VmFault  # noqa: F401
from harness.kernel.vm.memory import Memory, Region  # noqa: F401
from harness.kernel.vm.codegen import MAX_CALL_FRAMES, STACK_SIZE, Program, translate  # noqa: F401
from harness.kernel.vm.machine import (  # noqa: F401
    DEFAULT_BUDGET, RunResult, UnknownHelper, Vm, VmStop, VmTailCall,
)
