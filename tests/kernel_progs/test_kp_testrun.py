"""BPF_PROG_TEST_RUN end to end: contexts, CPUs, per-CPU data, errno rules (running-kernel.md §2)."""

from __future__ import annotations

import errno

import pytest

from harness.isa import encode
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernel.helpers import FUNC_IDS
from harness import kernelapi
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.uapi import (BPF_F_CPU, BPF_F_SLEEPABLE, BPF_F_TEST_RUN_ON_CPU, ENOTSUPP, MapType, ProgType)
from kp_asm import (ADD, LD_IMM64, ALU64_IMM, ALU64_REG, CALL, EXIT, JEQ_IMM, JGT_REG, LD_MAP_FD, LD_MAP_VALUE,
                     LDX_MEM, MOV64_IMM, MOV64_REG, MUL, RET, ST_MEM, STX_MEM)

H = FUNC_IDS
PKT = bytes(range(64))


def load(k, insns, prog_type=ProgType.RAW_TRACEPOINT, **kw):
    return k.prog_load(ProgLoadAttr(prog_type, encode(insns), **kw)).fd


def run(k, fd, **kw):
    return k.prog_test_run(fd, kernelapi.TestRunAttr(**kw))


def err(call):
    with pytest.raises(BpfError) as e:
        call()
    return e.value


# raw_tp program of running-kernel.md §2: bpf_get_smp_processor_id() + 16 * arg0
CPU_PROG = [MOV64_REG(6, 1), CALL(H["get_smp_processor_id"]), LDX_MEM(8, 1, 6, 0),
            ALU64_IMM(MUL, 1, 16), ALU64_REG(ADD, 0, 1), EXIT()]
ARG5 = (5).to_bytes(8, "little")


@pytest.mark.parametrize("kw, expect", [
    ({}, 80),
    ({"flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 0}, 80),
    ({"flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 1}, 81),
    ({"flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 3}, 83),
    ({"cpu": 1}, errno.EINVAL),
    ({"flags": BPF_F_TEST_RUN_ON_CPU, "cpu": 4}, errno.ENXIO),
    ({"flags": 2}, errno.EINVAL),
    ({"repeat": 2}, errno.EINVAL),
    ({"data_in": PKT}, errno.EINVAL),
    ({"ctx_in": bytes(104)}, errno.EINVAL),
    ({"ctx_in": bytes(4)}, errno.EINVAL),          # the program reads 8 bytes of ctx
    ({"ctx_in": b""}, errno.EINVAL),
])
def test_raw_tp_cpu_rules(kw, expect):
    k = EmulatedKernel(nr_cpus=4)
    fd = load(k, CPU_PROG)
    kw.setdefault("ctx_in", ARG5)
    if expect >= 80:
        assert run(k, fd, **kw).retval == expect
    else:
        assert err(lambda: run(k, fd, **kw)).errno == expect


def test_default_cpu_from_config():
    k = EmulatedKernel(KernelConfig(nr_cpus=8, default_cpu=5))
    assert run(k, load(k, CPU_PROG), ctx_in=ARG5).retval == 85


def _percpu_counter(k, fd_map):
    """*(u64 *)&percpu_value[8] += 1 through ld_imm64 MAP_VALUE (+ the percpu mov)."""
    return load(k, [*LD_MAP_VALUE(1, fd_map, 8), LDX_MEM(8, 2, 1, 0), ALU64_IMM(ADD, 2, 1),
                    STX_MEM(8, 1, 2, 0), *RET(0)])


def test_global_percpu_data_is_per_cpu():
    k = EmulatedKernel(nr_cpus=3)
    m = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 16, 1))
    fd = _percpu_counter(k, m)
    for cpu, times in ((0, 2), (1, 5)):
        for _ in range(times):
            run(k, fd, flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu)
    key = bytes(4)
    got = [int.from_bytes(k.map_lookup_elem(m, key, (cpu << 32) | BPF_F_CPU)[8:16], "little") for cpu in range(3)]
    assert got == [2, 5, 0]


def test_global_data_array_shared_by_cpus():
    k = EmulatedKernel(nr_cpus=2)
    m = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 16, 1))
    fd = _percpu_counter(k, m)
    for cpu in (0, 1, 1):
        run(k, fd, flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu)
    assert int.from_bytes(k.map_lookup_elem(m, bytes(4))[8:], "little") == 3


def test_percpu_map_lookup_helper_and_lookup_percpu_elem():
    k = EmulatedKernel(nr_cpus=4)
    m = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 2))
    # r0 = lookup(map, &key0); *r0 += 7; r0 = lookup_percpu_elem(map, &key0, 2); return *r0
    prog = [ST_MEM(4, 10, -4, 0), *LD_MAP_FD(1, m), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4),
            CALL(H["map_lookup_elem"]), JEQ_IMM(0, 0, 9), LDX_MEM(8, 1, 0, 0), ALU64_IMM(ADD, 1, 7),
            STX_MEM(8, 0, 1, 0),
            *LD_MAP_FD(1, m), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), MOV64_IMM(3, 2),
            CALL(H["map_lookup_percpu_elem"]), JEQ_IMM(0, 0, 1), LDX_MEM(8, 0, 0, 0), EXIT()]
    fd = load(k, prog)
    assert run(k, fd, flags=BPF_F_TEST_RUN_ON_CPU, cpu=2).retval == 7
    assert run(k, fd, flags=BPF_F_TEST_RUN_ON_CPU, cpu=1).retval == 7
    values = k.map_lookup_elem(m, bytes(4))
    assert [int.from_bytes(values[i:i + 8], "little") for i in range(0, 32, 8)] == [0, 7, 7, 0]


XDP_WRITE = [  # if (data + 1 <= data_end) data[0] = 0xff; return XDP_PASS
    LDX_MEM(4, 2, 1, 0), LDX_MEM(4, 3, 1, 4), MOV64_REG(4, 2), ALU64_IMM(ADD, 4, 1),
    JGT_REG(4, 3, 1), ST_MEM(1, 2, 0, 0xFF), *RET(2)]


def test_xdp_packet_write_shows_in_data_out():
    k = EmulatedKernel()
    r = run(k, load(k, XDP_WRITE, ProgType.XDP), data_in=PKT, repeat=3)
    assert r.retval == 2 and r.data_out == b"\xff" + PKT[1:]


def test_xdp_ctx_in_echoed_and_rules():
    k = EmulatedKernel()
    fd = load(k, XDP_WRITE, ProgType.XDP)
    md = (0).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(16)
    assert run(k, fd, data_in=PKT, ctx_in=md).ctx_out == md
    bad = md[:20] + (1).to_bytes(4, "little")          # egress_ifindex
    assert err(lambda: run(k, fd, data_in=PKT, ctx_in=bad)).errno == errno.EINVAL
    assert err(lambda: run(k, fd, data_in=PKT[:10])).errno == errno.EINVAL
    assert err(lambda: run(k, fd, data_in=PKT, data_size_out=16)).errno == errno.ENOSPC


def test_xdp_metadata_is_before_data():
    k = EmulatedKernel()
    # return data - data_meta
    fd = load(k, [LDX_MEM(4, 2, 1, 0), LDX_MEM(4, 3, 1, 8), MOV64_REG(0, 2), ALU64_REG(0x10, 0, 3), EXIT()],
              ProgType.XDP)
    md = (4).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(16)
    assert run(k, fd, data_in=PKT, ctx_in=md).retval == 4


def test_tc_skb_ctx_like_the_real_kernel():
    """running-kernel.md §2: reads mark and cb[0], writes mark=99 and cb[1]=7,
    returns mark+cb0+len -> 1084 for mark 1000, cb0 20 and a 64-byte packet."""
    k = EmulatedKernel()
    prog = [LDX_MEM(4, 2, 1, 8), LDX_MEM(4, 3, 1, 48), LDX_MEM(4, 4, 1, 0), ST_MEM(4, 1, 8, 99),
            ST_MEM(4, 1, 52, 7), MOV64_REG(0, 2), ALU64_REG(ADD, 0, 3), ALU64_REG(ADD, 0, 4), EXIT()]
    fd = load(k, prog, ProgType.SCHED_CLS)
    ctx = bytearray(192)
    ctx[8:12] = (1000).to_bytes(4, "little")
    ctx[48:52] = (20).to_bytes(4, "little")
    r = run(k, fd, data_in=PKT, ctx_in=bytes(ctx))
    assert r.retval == 1084 and r.data_out == PKT
    assert r.ctx_out[8:12] == (99).to_bytes(4, "little") and r.ctx_out[52:56] == (7).to_bytes(4, "little")
    ctx[0:4] = (5).to_bytes(4, "little")                # __sk_buff.len may not be set
    assert err(lambda: run(k, fd, data_in=PKT, ctx_in=bytes(ctx))).errno == errno.EINVAL


def test_skb_packet_pointers_and_socket_filter_len():
    k = EmulatedKernel()
    # return data_end - data
    prog = [LDX_MEM(4, 2, 1, 76), LDX_MEM(4, 3, 1, 80), MOV64_REG(0, 3), ALU64_REG(0x10, 0, 2), EXIT()]
    assert run(k, load(k, prog, ProgType.SCHED_CLS), data_in=PKT).retval == 64
    sf = load(k, [LDX_MEM(4, 0, 1, 0), EXIT()], ProgType.SOCKET_FILTER)
    assert run(k, sf, data_in=PKT).retval == 64 - 14


def test_syscall_ctx_written_back():
    k = EmulatedKernel()
    fd = load(k, [LDX_MEM(4, 2, 1, 0), ALU64_IMM(ADD, 2, 100), STX_MEM(4, 1, 2, 0), *RET(0)],
              ProgType.SYSCALL, prog_flags=BPF_F_SLEEPABLE)
    ctx = (1).to_bytes(4, "little") + (77).to_bytes(4, "little")
    r = run(k, fd, ctx_in=ctx)
    assert r.ctx_out == (101).to_bytes(4, "little") + (77).to_bytes(4, "little")
    assert err(lambda: run(k, fd, ctx_in=ctx, flags=BPF_F_TEST_RUN_ON_CPU)).errno == errno.EINVAL


@pytest.mark.parametrize("prog_type, code", [(ProgType.KPROBE, ENOTSUPP), (ProgType.TRACEPOINT, ENOTSUPP),
                                             (ProgType.PERF_EVENT, ENOTSUPP)])
def test_types_without_test_run(prog_type, code):
    k = EmulatedKernel()
    fd = load(k, RET(0), prog_type)
    assert err(lambda: run(k, fd)).errno == code


def test_retval_is_u32():
    k = EmulatedKernel()
    fd = load(k, [MOV64_IMM(0, 1), ALU64_IMM(0x60, 0, 32), ALU64_IMM(ADD, 0, 5), EXIT()])
    assert run(k, fd).retval == 5


def test_trace_printk_output_captured():
    k = EmulatedKernel()
    fmt = int.from_bytes(b"cpu %d\n\0", "little")          # 8 bytes: one ld_imm64
    prog = [*LD_IMM64(1, fmt), STX_MEM(8, 10, 1, -8), MOV64_REG(1, 10), ALU64_IMM(ADD, 1, -8),
            MOV64_IMM(2, 8), MOV64_IMM(3, 1), CALL(H["trace_printk"]), EXIT()]
    r = run(k, load(k, prog), flags=BPF_F_TEST_RUN_ON_CPU, cpu=1)
    assert r.output == "cpu 1\n" and r.retval == len("cpu 1\n")


def test_vm_fault_is_efault_and_unknown_helper(monkeypatch):
    """Programs the verifier would refuse, loaded with the verifier switched off: the run
    fails cleanly with EFAULT instead of a Python exception."""
    from harness.kernel import progcmds
    monkeypatch.setattr(progcmds, "_verifier", lambda: None)
    k = EmulatedKernel()
    fd = load(k, [MOV64_IMM(1, 0x1234), LDX_MEM(8, 0, 1, 0), EXIT()])
    e = err(lambda: run(k, fd))
    assert e.errno == errno.EFAULT and e.message.startswith("vm fault")
    fd = load(k, [CALL(9999), EXIT()])
    e = err(lambda: run(k, fd))
    assert e.errno == errno.EFAULT and "9999" in e.message
    fd = load(k, [CALL(H["seq_write"]), EXIT()])           # not offered to raw_tp programs
    e = err(lambda: run(k, fd))
    assert e.errno == errno.EFAULT and "unknown func bpf_seq_write#127" in e.message


def test_bad_prog_fd():
    k = EmulatedKernel()
    assert err(lambda: run(k, 42)).errno == errno.EBADF


def test_skb_load_and_store_bytes():
    k = EmulatedKernel()
    # store 0xab at data[2]; load 4 bytes from data[0] into the stack; return them (u32)
    prog = [MOV64_REG(6, 1), ST_MEM(1, 10, -8, 0xAB), MOV64_REG(1, 6), MOV64_IMM(2, 2), MOV64_REG(3, 10),
            ALU64_IMM(ADD, 3, -8), MOV64_IMM(4, 1), MOV64_IMM(5, 0), CALL(H["skb_store_bytes"]),
            MOV64_REG(1, 6), MOV64_IMM(2, 0), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -16), MOV64_IMM(4, 4),
            CALL(H["skb_load_bytes"]), LDX_MEM(4, 0, 10, -16), EXIT()]
    r = run(k, load(k, prog, ProgType.SCHED_CLS), data_in=PKT)
    assert r.retval == int.from_bytes(bytes([0, 1, 0xAB, 3]), "little")
    assert r.data_out[2] == 0xAB
    # out of the packet: -EFAULT
    far = [MOV64_IMM(2, 100), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8), MOV64_IMM(4, 4),
           CALL(H["skb_load_bytes"]), EXIT()]
    assert run(k, load(k, far, ProgType.SCHED_CLS), data_in=PKT).retval == (-errno.EFAULT) & 0xFFFFFFFF


def test_xdp_get_buff_len():
    k = EmulatedKernel()
    assert run(k, load(k, [CALL(H["xdp_get_buff_len"]), EXIT()], ProgType.XDP), data_in=PKT).retval == 64


def test_details_checked_against_a_6_18_kernel():
    """Behaviour observed on the running kernel (differential run of these programs)."""
    k = EmulatedKernel()
    sf = load(k, RET(0), ProgType.SOCKET_FILTER)
    assert run(k, sf, data_in=PKT).data_out == bytes(14) + PKT[14:]        # L2 header pushed back zeroed
    tc = load(k, RET(0), ProgType.SCHED_CLS)
    out = run(k, tc, data_in=PKT, ctx_in=bytes(192)).ctx_out                # len is not reported
    assert [(i, out[i:i + 4]) for i in range(0, 192, 4) if any(out[i:i + 4])] == [
        (40, b"\x01\0\0\0"), (160, b"\x40\0\0\0")]                  # ifindex lo, wire_len
    xdp = load(k, RET(2), ProgType.XDP)
    md = (4).to_bytes(4, "little") + (60).to_bytes(4, "little") + bytes(16)
    r = run(k, xdp, data_in=PKT, ctx_in=md)
    assert r.ctx_out == md and r.data_out == PKT                            # short data_end echoed


def _xdp_adjust(helper, delta):
    """r0 = helper(ctx, delta); if r0 != 0 return 1000 + (-r0); else return data_end - data."""
    return [MOV64_REG(6, 1), MOV64_IMM(2, delta), CALL(H[helper]), JEQ_IMM(0, 0, 5),
            MOV64_IMM(1, 0), ALU64_REG(0x10, 1, 0), MOV64_REG(0, 1), ALU64_IMM(ADD, 0, 1000), EXIT(),
            LDX_MEM(4, 2, 6, 0), LDX_MEM(4, 3, 6, 4), MOV64_REG(0, 3), ALU64_REG(0x10, 0, 2), EXIT()]


@pytest.mark.parametrize("helper, delta, retval, out", [
    ("xdp_adjust_head", 4, 60, PKT[4:]),                      # pop 4 bytes
    ("xdp_adjust_head", -8, 72, bytes(8) + PKT),              # push 8 bytes of headroom
    ("xdp_adjust_head", -256, 1000 + errno.EINVAL, PKT),      # past the xdp_frame
    ("xdp_adjust_head", 51, 1000 + errno.EINVAL, PKT),        # less than ETH_HLEN left
    ("xdp_adjust_tail", -10, 54, PKT[:54]),
    ("xdp_adjust_tail", 6, 70, PKT + bytes(6)),
    ("xdp_adjust_tail", 4000, 1000 + errno.EINVAL, PKT),
])
def test_xdp_adjust(helper, delta, retval, out):
    """Results identical to a 6.18 kernel for these inputs (differential run)."""
    k = EmulatedKernel()
    r = run(k, load(k, _xdp_adjust(helper, delta), ProgType.XDP), data_in=PKT)
    assert r.retval == retval and r.data_out == out


@pytest.mark.parametrize("delta, retval", [(-4, 64), (-6, 1000 + errno.EACCES), (-36, 64), (-32, 64),
                                           (4, 1000 + errno.EINVAL)])
def test_xdp_adjust_meta(delta, retval):
    k = EmulatedKernel()
    r = run(k, load(k, _xdp_adjust("xdp_adjust_meta", delta), ProgType.XDP), data_in=PKT)
    assert r.retval == retval
