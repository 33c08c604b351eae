"""Program load, verifier log and test_run on the running kernel (running-kernel.md §1-2)."""

import errno
import struct

import pytest

from harness.isa.insn import decode
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.kernelapi import TestRunAttr as RunAttr   # not "Test*": pytest would try to collect it
from harness.realkernel import kernel as kernel_mod
from harness.realkernel.availability import probe
from harness.realkernel.verifier_log import processed_insns
from harness.uapi import (BPF_F_SLEEPABLE, BPF_F_TEST_RUN_ON_CPU, ENOTSUPP, MapType, ProgType)
from rk_insns import (REJECTED, EXIT, R0_42, BPF_FUNC_get_smp_processor_id, add_imm, add_reg, call, ja, jeq_imm,
                      jgt_reg, jne_imm, ld_imm64, ld_map_fd, ld_map_idx, ldx, mov_imm, mov_reg, mul_imm,
                      percpu_counter, prog, st_imm, stx)
from harness.isa.insn import Insn

AVAILABLE = probe()
pytestmark = pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")

PACKET = bytes(range(64))


@pytest.mark.parametrize("prog_type, run", [
    (ProgType.SOCKET_FILTER, RunAttr(data_in=PACKET)),
    (ProgType.XDP, RunAttr(data_in=PACKET)),
    (ProgType.SCHED_CLS, RunAttr(data_in=PACKET, repeat=100)),
    (ProgType.RAW_TRACEPOINT, RunAttr()),
])
def test_r0_42_loads_and_runs(kernel, prog_type, run):
    res = kernel.prog_load(ProgLoadAttr(prog_type, R0_42, log_level=1))
    assert res.verified_insns == 2 == processed_insns(res.log)
    assert kernel.prog_test_run(res.fd, run).retval == 42


@pytest.mark.parametrize("log_level", [0, 1])
@pytest.mark.parametrize("what, code, prog_type, prog_flags, err, reason", REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_programs(kernel, what, code, prog_type, prog_flags, err, reason, log_level):
    """At log_level 0 the backend retries at level 1 for the reason, keeping the errno."""
    with pytest.raises(BpfError) as exc:
        kernel.prog_load(ProgLoadAttr(prog_type, code, prog_flags=prog_flags, log_level=log_level))
    assert (exc.value.errno, exc.value.message) == (err, reason)
    assert reason in exc.value.log


def test_sleepable_syscall_prog_loads(kernel):
    res = kernel.prog_load(ProgLoadAttr(ProgType.SYSCALL, R0_42, prog_flags=BPF_F_SLEEPABLE))
    assert res.fd > 0 and res.log == ""


def test_bounded_loop_counts_match_verified_insns(kernel):
    # r0 = 0; r1 = 10; L: r0 += r1; r1 -= 1; if r1 != 0 goto L; exit
    code = prog(mov_imm(0, 0), mov_imm(1, 10), add_reg(0, 1), add_imm(1, -1), jne_imm(1, 0, -3), EXIT)
    res = kernel.prog_load(ProgLoadAttr(ProgType.XDP, code, log_level=1))
    assert res.verified_insns == processed_insns(res.log) == 3 * 10 + 3
    assert kernel.prog_test_run(res.fd, RunAttr(data_in=PACKET)).retval == 55


class TestLogBuffer:
    def test_explicit_small_buffer_gives_enospc_and_the_tail(self, kernel):
        full = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=2)).log
        with pytest.raises(BpfError) as exc:
            kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=2, log_size=40))
        assert exc.value.errno == errno.ENOSPC
        assert 0 < len(exc.value.log) < 40 and full.endswith(exc.value.log)

    def test_fixed_flag_keeps_the_head(self, kernel):
        full = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=2)).log
        with pytest.raises(BpfError) as exc:
            kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=2 | 8, log_size=40))
        assert exc.value.errno == errno.ENOSPC and full.startswith(exc.value.log)

    def test_automatic_buffer_grows_to_log_true_size(self, kernel, monkeypatch):
        full = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=2)).log
        monkeypatch.setattr(kernel_mod, "LOG_START_SIZE", 32)
        calls = []
        real_bpf = kernel_mod.bpf
        monkeypatch.setattr(kernel_mod, "bpf", lambda cmd, a: calls.append(cmd) or real_bpf(cmd, a))
        res = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=2))
        assert res.log == full and len(full) > 32
        assert calls.count(5) == 2           # BPF_PROG_LOAD: ENOSPC, then the retry

    @pytest.mark.parametrize("log_level, log_size", [(16, 0), (1 << 30, 0), (1, 1 << 30)])
    def test_invalid_log_attributes(self, kernel, log_level, log_size):
        with pytest.raises(BpfError) as exc:
            kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=log_level, log_size=log_size))
        assert exc.value.errno == errno.EINVAL

    def test_stats_level_has_verification_time(self, kernel):
        log = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, log_level=4)).log
        assert "verification time" in log and "stack depth 0" in log and processed_insns(log) == 2


def test_prog_info_xlated_and_name(kernel):
    res = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, prog_name="answer_to_everything"))
    info = kernel.prog_get_info(res.fd)
    assert info.xlated == R0_42
    assert (info.type, info.name, info.verified_insns, info.jited) == \
        (ProgType.SOCKET_FILTER, "answer_to_every", 2, True)
    assert info.map_ids == []


def test_prog_info_map_ids_and_ld_imm64_rewrite(kernel):
    """The xlated ld_imm64 of a map comes back as src=1 imm=<map id> (running-kernel.md §3)."""
    fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1, map_name="cnt"))
    res = kernel.prog_load(ProgLoadAttr(ProgType.XDP, percpu_counter(fd), log_level=2))
    assert "map_ptr(map=cnt,ks=4,vs=8)" in res.log
    info = kernel.prog_get_info(res.fd)
    map_id = kernel.map_get_info(fd).id
    assert info.map_ids == [map_id]
    ld = [i for i in decode(info.xlated) if i.code == 0x18][0]
    assert (ld.src, ld.imm) == (1, map_id)
    assert len(info.xlated) > len(percpu_counter(fd))      # the array lookup got inlined


def test_fd_array_with_pseudo_map_idx(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1))
    code = percpu_counter(fd).replace(prog(ld_map_fd(1, fd)), prog(ld_map_idx(1, 0)))
    res = kernel.prog_load(ProgLoadAttr(ProgType.XDP, code, fd_array=[fd]))
    for _ in range(3):
        last = kernel.prog_test_run(res.fd, RunAttr(data_in=PACKET)).retval
    assert last == 3 and kernel.map_lookup_elem(fd, bytes(4)) == struct.pack("<Q", 3)


def test_bad_map_fd_message(kernel):
    with pytest.raises(BpfError) as exc:
        kernel.prog_load(ProgLoadAttr(ProgType.XDP, percpu_counter(999)))
    assert exc.value.errno == errno.EBADF and exc.value.message == "fd 999 is not pointing to valid bpf_map"


class TestRun:
    def test_retval_is_u32(self, kernel):
        res = kernel.prog_load(ProgLoadAttr(ProgType.XDP, prog(ld_imm64(0, 0x100000005), EXIT)))
        assert kernel.prog_test_run(res.fd, RunAttr(data_in=PACKET)).retval == 5

    def test_raw_tp_rejects_repeat(self, kernel):
        res = kernel.prog_load(ProgLoadAttr(ProgType.RAW_TRACEPOINT, R0_42))
        assert kernel.prog_test_run(res.fd, RunAttr(repeat=1)).retval == 42
        with pytest.raises(BpfError) as exc:
            kernel.prog_test_run(res.fd, RunAttr(repeat=2))
        assert exc.value.errno == errno.EINVAL

    def test_cpu_selection(self, kernel):
        """retval = smp_processor_id + 16 * ctx arg0 (running-kernel.md §2 'raw_tp and cpu')."""
        code = prog(ldx(8, 6, 1, 0), call(BPF_FUNC_get_smp_processor_id), mul_imm(6, 16), add_reg(0, 6), EXIT)
        fd = kernel.prog_load(ProgLoadAttr(ProgType.RAW_TRACEPOINT, code)).fd
        ctx = struct.pack("<Q", 5)
        ncpus = kernel.nr_possible_cpus()
        for cpu in range(ncpus):
            run = RunAttr(ctx_in=ctx, flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu)
            assert kernel.prog_test_run(fd, run).retval == 80 + cpu
        with pytest.raises(BpfError) as exc:
            kernel.prog_test_run(fd, RunAttr(ctx_in=ctx, flags=BPF_F_TEST_RUN_ON_CPU, cpu=ncpus))
        assert exc.value.errno == errno.ENXIO
        with pytest.raises(BpfError) as exc:
            kernel.prog_test_run(fd, RunAttr(ctx_in=ctx, cpu=1))
        assert exc.value.errno == errno.EINVAL

    def test_percpu_counter_per_cpu(self, kernel):
        ncpus = kernel.nr_possible_cpus()
        if ncpus < 2:
            pytest.skip("needs two possible CPUs")
        fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1))
        prog_fd = kernel.prog_load(ProgLoadAttr(ProgType.RAW_TRACEPOINT, percpu_counter(fd))).fd
        for cpu, times in ((0, 2), (1, 5)):
            for _ in range(times):
                kernel.prog_test_run(prog_fd, RunAttr(flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu))
        value = kernel.map_lookup_elem(fd, bytes(4))
        assert list(struct.unpack(f"<{ncpus}Q", value))[:2] == [2, 5]

    def test_syscall_prog_writes_ctx_in(self, kernel):
        code = prog(ldx(4, 2, 1, 0), add_imm(2, 100), stx(4, 1, 2, 0), mov_imm(0, 0), EXIT)
        fd = kernel.prog_load(ProgLoadAttr(ProgType.SYSCALL, code, prog_flags=BPF_F_SLEEPABLE)).fd
        out = kernel.prog_test_run(fd, RunAttr(ctx_in=struct.pack("<II", 1, 77)))
        assert struct.unpack("<II", out.ctx_out) == (101, 77)

    def test_skb_ctx_in_and_out(self, kernel):
        # mark (+8) = 99; cb[1] (+52) = 7; return mark_in + cb[0] + len
        code = prog(ldx(4, 2, 1, 8), ldx(4, 3, 1, 48), ldx(4, 0, 1, 0), add_reg(0, 2), add_reg(0, 3),
                    st_imm(4, 1, 8, 99), st_imm(4, 1, 52, 7), EXIT)
        fd = kernel.prog_load(ProgLoadAttr(ProgType.SCHED_CLS, code)).fd
        ctx = bytearray(192)
        struct.pack_into("<I", ctx, 8, 1000)
        struct.pack_into("<I", ctx, 48, 20)
        out = kernel.prog_test_run(fd, RunAttr(data_in=PACKET, ctx_in=bytes(ctx)))
        assert out.retval == 1000 + 20 + len(PACKET)
        assert len(out.ctx_out) == 192
        assert struct.unpack_from("<I", out.ctx_out, 8)[0] == 99 and struct.unpack_from("<I", out.ctx_out, 52)[0] == 7
        assert out.data_out == PACKET

    def test_xdp_packet_write_shows_in_data_out(self, kernel):
        code = prog(ldx(4, 2, 1, 0), ldx(4, 3, 1, 4), mov_reg(4, 2), add_imm(4, 1), jgt_reg(4, 3, 1),
                    st_imm(1, 2, 0, 0xFF), mov_imm(0, 2), EXIT)
        fd = kernel.prog_load(ProgLoadAttr(ProgType.XDP, code)).fd
        out = kernel.prog_test_run(fd, RunAttr(data_in=PACKET))
        assert out.retval == 2 and out.data_out == b"\xff" + PACKET[1:]

    def test_small_data_out_is_enospc(self, kernel):
        fd = kernel.prog_load(ProgLoadAttr(ProgType.XDP, prog(mov_imm(0, 2), EXIT))).fd
        with pytest.raises(BpfError) as exc:
            kernel.prog_test_run(fd, RunAttr(data_in=PACKET, data_size_out=16))
        assert exc.value.errno == errno.ENOSPC

    def test_kprobe_test_run_is_enotsupp(self, kernel):
        fd = kernel.prog_load(ProgLoadAttr(ProgType.KPROBE, R0_42)).fd
        with pytest.raises(BpfError) as exc:
            kernel.prog_test_run(fd, RunAttr())
        assert (exc.value.errno, exc.value.errno_name) == (ENOTSUPP, "ENOTSUPP")

    def test_short_skb_packet_is_einval(self, kernel):
        fd = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42)).fd
        with pytest.raises(BpfError) as exc:
            kernel.prog_test_run(fd, RunAttr(data_in=bytes(10)))
        assert exc.value.errno == errno.EINVAL
