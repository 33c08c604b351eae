"""Helpers about time, randomness, CPUs, loops, tail calls and locks.

Time is a virtual clock (1 us per read, monotonic per kernel) and bpf_get_prandom_u32 a
PRNG seeded from KernelConfig.seed, so every run of the emulator is reproducible.
"""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall, TailCall
from harness.kernel.helpers.registry import helper
from harness.uapi import BPF_MAX_LOOPS, MAX_TAIL_CALL_CNT

HZ = 250


@helper("ktime_get_ns")
@helper("ktime_get_boot_ns")
@helper("ktime_get_coarse_ns")
@helper("ktime_get_tai_ns")
def ktime_get_ns(h: HelperCall) -> int:
    return h.state.clock_ns()


@helper("jiffies64")
def jiffies64(h: HelperCall) -> int:
    return h.state.clock_ns() * HZ // 1_000_000_000


@helper("get_prandom_u32")
def get_prandom_u32(h: HelperCall) -> int:
    return h.state.prandom().getrandbits(32)


@helper("get_smp_processor_id")
def get_smp_processor_id(h: HelperCall) -> int:
    return h.state.cpu


@helper("get_numa_node_id")
def get_numa_node_id(h: HelperCall) -> int:
    return 0


@helper("loop")
def loop(h: HelperCall) -> int:
    """bpf_loop(nr_loops, callback(index, ctx), ctx, flags): stops early when the callback
    returns non-zero and then reports the iterations done (that one included)."""
    nr, fn, ctx, flags = h.arg(1) & 0xFFFFFFFF, h.arg(2), h.arg(3), h.arg(4)
    if flags:
        return -errno.EINVAL
    if nr > BPF_MAX_LOOPS:
        return -errno.E2BIG
    for i in range(nr):
        if h.callback(fn, [i, ctx]) & 0xFFFFFFFFFFFFFFFF:
            return i + 1
    return nr


@helper("tail_call")
def tail_call(h: HelperCall) -> int:
    """As the interpreter does: out-of-range index or an exhausted budget fall through;
    the budget is spent even when the slot is empty (MAX_TAIL_CALL_CNT = 33)."""
    prog_array, index = h.map_arg(2), h.arg(3) & 0xFFFFFFFF
    if index >= prog_array.max_entries:
        return 0
    if h.state.tail_call_cnt >= MAX_TAIL_CALL_CNT:
        return 0
    h.state.tail_call_cnt += 1
    prog = prog_array.get_prog(index)
    if prog is None:
        return 0
    raise TailCall(prog)


@helper("spin_lock")
def spin_lock(h: HelperCall) -> int:
    """One simulated CPU runs at a time, so a lock never spins; we only keep the set of
    held locks (the verifier guarantees pairing)."""
    h.state.locks_held.append(h.arg(1))
    return 0


@helper("spin_unlock")
def spin_unlock(h: HelperCall) -> int:
    addr = h.arg(1)
    if addr in h.state.locks_held:
        h.state.locks_held.remove(addr)
    return 0


@helper("per_cpu_ptr")
def per_cpu_ptr(h: HelperCall) -> int:
    cpu = h.arg(2) & 0xFFFFFFFF
    if cpu >= h.state.nr_cpus:
        return 0
    return h.percpu_ptr(h.arg(1), cpu)


@helper("this_cpu_ptr")
def this_cpu_ptr(h: HelperCall) -> int:
    return h.percpu_ptr(h.arg(1), h.state.cpu)


# The emulated "current task": a fixed process, so tracing programs get stable values.
CURRENT_PID = 4242
CURRENT_COMM = b"bpf-harness"


@helper("get_current_pid_tgid")
def get_current_pid_tgid(h: HelperCall) -> int:
    return (CURRENT_PID << 32) | CURRENT_PID


@helper("get_current_uid_gid")
def get_current_uid_gid(h: HelperCall) -> int:
    return 0                     # root


@helper("get_current_comm")
def get_current_comm(h: HelperCall) -> int:
    dst, size = h.arg(1), h.arg(2) & 0xFFFFFFFF
    if not size:
        return -errno.EINVAL
    h.write(dst, (CURRENT_COMM[:size - 1] + b"\0").ljust(size, b"\0"))
    return 0
