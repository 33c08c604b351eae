"""test_run of the emulated kernel against the running kernel on the same programs (only where
bpf(2) is permitted; skipped with the reason otherwise).  Any difference is a finding."""

from __future__ import annotations

import pytest

from harness import kernelapi
from harness.isa import encode
from harness.kernel import EmulatedKernel
from harness.kernel.helpers import FUNC_IDS as H
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.uapi import BPF_F_TEST_RUN_ON_CPU, ProgType
from kp_asm import ADD, ALU64_IMM, CALL, EXIT, LD_IMM64, LD_MAP_FD, LD_MAP_VALUE, LDX_MEM, MOV64_IMM, MOV64_REG, RET, ST_MEM, STX_MEM
from test_kp_testrun import ARG5, CPU_PROG, PKT, XDP_WRITE, _xdp_adjust

pytestmark = pytest.mark.realkernel


@pytest.fixture(scope="module")
def real():
    from harness.realkernel import RealKernel, probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    return RealKernel()


def outcome(k, insns, prog_type, **run_kw):
    try:
        fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns))).fd
    except BpfError as e:
        return ("load", e.errno_name)
    try:
        r = k.prog_test_run(fd, kernelapi.TestRunAttr(**run_kw))
    except BpfError as e:
        return ("run", e.errno_name)
    finally:
        k.close(fd)
    return r.retval, r.data_out, r.ctx_out


def printk(fmt: bytes, arg: int):
    return [*LD_IMM64(1, int.from_bytes(fmt.ljust(8, b"\0"), "little")), STX_MEM(8, 10, 1, -8),
            MOV64_REG(1, 10), ALU64_IMM(ADD, 1, -8), MOV64_IMM(2, 8), MOV64_IMM(3, arg),
            CALL(H["trace_printk"]), EXIT()]


BIG = bytes(i & 0xFF for i in range(5000))
MD64 = (0).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(16)
CASES = {
    # (without the flag the real kernel runs on the caller's CPU, which is not deterministic)
    "raw_tp_cpu0": (CPU_PROG, ProgType.RAW_TRACEPOINT, {"ctx_in": ARG5, "flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 0}),
    "raw_tp_cpu1": (CPU_PROG, ProgType.RAW_TRACEPOINT, {"ctx_in": ARG5, "flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 1}),
    "raw_tp_bad_cpu": (CPU_PROG, ProgType.RAW_TRACEPOINT, {"ctx_in": ARG5, "flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 64}),
    "raw_tp_cpu_no_flag": (CPU_PROG, ProgType.RAW_TRACEPOINT, {"ctx_in": ARG5, "cpu": 1}),
    "raw_tp_short_ctx": (CPU_PROG, ProgType.RAW_TRACEPOINT, {"ctx_in": ARG5[:4]}),
    "xdp_write": (XDP_WRITE, ProgType.XDP, {"data_in": PKT}),
    "xdp_md": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "ctx_in": MD64}),
    "xdp_small_out": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "data_size_out": 16}),
    "xdp_short_pkt": (XDP_WRITE, ProgType.XDP, {"data_in": PKT[:13]}),
    "xdp_batch_size": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "batch_size": 4}),
    "xdp_cpu": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "cpu": 1}),
    "xdp_live_frames": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "flags": 2}),
    "xdp_live_frames_batch": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "flags": 2, "repeat": 5, "batch_size": 2}),
    "xdp_live_frames_big_batch": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "flags": 2, "batch_size": 257}),
    "xdp_live_frames_md": (XDP_WRITE, ProgType.XDP, {"data_in": PKT, "flags": 2, "ctx_in": MD64}),
    "skb_cpu_flag": (RET(0), ProgType.SCHED_CLS, {"data_in": PKT, "flags": BPF_F_TEST_RUN_ON_CPU}),
    "skb_batch": (RET(0), ProgType.SCHED_CLS, {"data_in": PKT, "batch_size": 2}),
    "syscall_repeat": (RET(0), ProgType.SYSCALL, {"ctx_in": bytes(8), "repeat": 2}),
    "skb_ctx": (RET(0), ProgType.SCHED_CLS, {"data_in": PKT, "ctx_in": bytes(192)}),
    "skb_len_set": (RET(0), ProgType.SCHED_CLS, {"data_in": PKT, "ctx_in": bytes(4) + b"\x01" + bytes(187)}),
    "socket_filter_out": (RET(0), ProgType.SOCKET_FILTER, {"data_in": PKT}),
    "kprobe": (RET(0), ProgType.KPROBE, {}),
    "skb_ctx_tail_zero": (RET(0), ProgType.SOCKET_FILTER, {"data_in": PKT, "ctx_in": bytes(200)}),
    "skb_ctx_tail_set": (RET(0), ProgType.SCHED_CLS, {"data_in": PKT, "ctx_in": bytes(192) + b"\x01"}),
    "skb_ctx_short_out": (RET(0), ProgType.SCHED_CLS, {"data_in": PKT, "ctx_in": bytes(8)}),
    "xdp_jumbo_len": ([CALL(H["xdp_get_buff_len"]), EXIT()], ProgType.XDP, {"data_in": BIG}),
    "xdp_too_many_frags": (RET(2), ProgType.XDP, {"data_in": bytes(3520 + 17 * 4096 + 1)}),
    **{f"xdp_jumbo_tail_{d}": (_xdp_adjust("xdp_adjust_tail", d), ProgType.XDP, {"data_in": BIG})
       for d in (-10, 10, -2000, 3000)},
    **{f"printk_{fmt!r}": (printk(fmt, arg), ProgType.RAW_TRACEPOINT, {})
       for fmt, arg in ((b"c %d\n\0", 7), (b"%5d\0", 3), (b"%lld\0", -5), (b"%s\0", 0), (b"%p\0", 16),
                        (b"bad %q\0", 1))},
    **{f"{h}_{d}": (_xdp_adjust(h, d), ProgType.XDP, {"data_in": PKT, "ctx_in": MD64})
       for h, d in (("xdp_adjust_head", 4), ("xdp_adjust_head", -216), ("xdp_adjust_head", -217),
                    ("xdp_adjust_head", 51), ("xdp_adjust_tail", -50), ("xdp_adjust_tail", 3456),
                    ("xdp_adjust_tail", 3457), ("xdp_adjust_meta", -4), ("xdp_adjust_meta", -36),
                    ("xdp_adjust_meta", -6))},
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_as_running_kernel(real, name):
    insns, prog_type, run_kw = CASES[name]
    emulated = EmulatedKernel(nr_cpus=real.nr_possible_cpus())
    assert outcome(emulated, insns, prog_type, **run_kw) == outcome(real, insns, prog_type, **run_kw)


def _maps_scenario(k):
    """Tail-call budget (1 + 33 runs) and a per-CPU hash written by a program on CPU 1."""
    from harness.kernelapi import MapCreateAttr
    from harness.uapi import MapType
    parray = k.map_create(MapCreateAttr(MapType.PROG_ARRAY, 4, 4, 1))
    counter = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1))
    prog = [MOV64_REG(6, 1), *LD_MAP_VALUE(7, counter, 0), LDX_MEM(8, 2, 7, 0), ALU64_IMM(ADD, 2, 1),
            STX_MEM(8, 7, 2, 0), MOV64_REG(1, 6), *LD_MAP_FD(2, parray), MOV64_IMM(3, 0),
            CALL(H["tail_call"]), *RET(7)]
    fd = k.prog_load(ProgLoadAttr(ProgType.XDP, encode(prog))).fd
    k.map_update_elem(parray, bytes(4), fd.to_bytes(4, "little"))
    r1 = k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=PKT)).retval
    h = k.map_create(MapCreateAttr(MapType.PERCPU_HASH, 4, 4, 4))
    upd = [ST_MEM(4, 10, -4, 1), ST_MEM(4, 10, -8, 99), *LD_MAP_FD(1, h), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4),
           MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8), MOV64_IMM(4, 0), CALL(H["map_update_elem"]), EXIT()]
    fd2 = k.prog_load(ProgLoadAttr(ProgType.RAW_TRACEPOINT, encode(upd))).fd
    r2 = k.prog_test_run(fd2, kernelapi.TestRunAttr(flags=BPF_F_TEST_RUN_ON_CPU, cpu=1)).retval
    result = (r1, k.map_lookup_elem(counter, bytes(4)), r2, k.map_lookup_elem(h, (1).to_bytes(4, "little")))
    k.map_delete_elem(parray, bytes(4))          # break the prog <-> prog_array cycle
    for obj in (fd2, h, fd, counter, parray):
        k.close(obj)
    return result


def test_maps_from_programs_same_as_running_kernel(real):
    if real.nr_possible_cpus() < 2:
        pytest.skip("needs 2 possible CPUs")
    assert _maps_scenario(EmulatedKernel(nr_cpus=real.nr_possible_cpus())) == _maps_scenario(real)
