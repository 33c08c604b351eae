"""The bpf_map_elem iterator: links, iterator files, per-CPU value layout (spec §2.4, §6.2)."""

from __future__ import annotations

import errno

import pytest

from harness.isa import encode
from harness.kernel import EmulatedKernel
from harness.kernel.helpers import FUNC_IDS
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.uapi import BPF_F_ALL_CPUS, AttachType, MapType, ProgType
from kp_asm import (ADD, ALU64_IMM, ALU64_REG, CALL, EXIT, JEQ_IMM, LD_MAP_VALUE, LDX_MEM, MOV64_IMM,
                     RET, STX_MEM)


def load_iter(k, insns):
    return k.prog_load(ProgLoadAttr(ProgType.TRACING, encode(insns),
                                    expected_attach_type=AttachType.TRACE_ITER)).fd


def read_all(k, prog_fd, map_fd):
    link = k.link_create(prog_fd, 0, AttachType.TRACE_ITER, iter_map_fd=map_fd)
    it = k.iter_create(link)
    out = k.iter_read(it)
    assert k.iter_read(it) == b""            # EOF afterwards
    return out


def sum_prog(sum_fd, ncpus, off, elem_sz):
    """if (ctx->value) for each cpu: sum += *(u32 *)(value + off + cpu * elem_sz)."""
    body = [LDX_MEM(8, 2, 1, 24), JEQ_IMM(2, 0, 2 * ncpus + 6), MOV64_IMM(3, 0)]
    for cpu in range(ncpus):
        body += [LDX_MEM(4, 4, 2, off + cpu * elem_sz), ALU64_REG(ADD, 3, 4)]
    body += [*LD_MAP_VALUE(1, sum_fd, 0), LDX_MEM(8, 4, 1, 0), ALU64_REG(ADD, 4, 3), STX_MEM(8, 1, 4, 0)]
    return body + RET(0)


@pytest.mark.parametrize("ncpus", [1, 3, 4])
def test_percpu_iterator_sums_every_cpu(ncpus):
    """The upstream `iter` subtest: an ALL_CPUS-written value seen once per possible CPU,
    with a round_up(value_size, 8) stride."""
    k = EmulatedKernel(nr_cpus=ncpus)
    m = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 12, 1))       # elem_size 16
    k.map_update_elem(m, bytes(4), bytes(8) + (0xC0DE).to_bytes(4, "little"), BPF_F_ALL_CPUS)
    total = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1))
    prog = sum_prog(total, ncpus, 8, 16)
    assert read_all(k, load_iter(k, prog), m) == b""
    assert int.from_bytes(k.map_lookup_elem(total, bytes(4)), "little") == 0xC0DE * ncpus


def test_seq_write_output_per_element_and_stop_call():
    k = EmulatedKernel()
    m = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 4, 3))
    for i in range(3):
        k.map_update_elem(m, i.to_bytes(4, "little"), bytes([65 + i]) * 4)
    # if (!value) { seq_write(seq, key, 4) is skipped; return 0 } else seq_write(seq, value, 4)
    prog = [LDX_MEM(8, 2, 1, 24), JEQ_IMM(2, 0, 4), LDX_MEM(8, 6, 1, 0), LDX_MEM(8, 1, 6, 0),
            MOV64_IMM(3, 4), CALL(FUNC_IDS["seq_write"]), *RET(0)]
    assert read_all(k, load_iter(k, prog), m) == b"AAAABBBBCCCC"


def test_iterator_errors():
    k = EmulatedKernel()
    m = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 4, 1))
    ring = k.map_create(MapCreateAttr(MapType.RINGBUF, 0, 0, 4096))
    it_prog = load_iter(k, RET(0))
    sf = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(RET(0)))).fd

    def code(call):
        with pytest.raises(BpfError) as e:
            call()
        return e.value.errno
    assert code(lambda: k.link_create(sf, 0, AttachType.TRACE_ITER, iter_map_fd=m)) == errno.EINVAL
    assert code(lambda: k.link_create(it_prog, 0, AttachType.TRACE_ITER)) == errno.EBADF
    assert code(lambda: k.link_create(it_prog, 0, AttachType.TRACE_ITER, iter_map_fd=99)) == errno.EBADF
    assert code(lambda: k.link_create(it_prog, 0, AttachType.TRACE_ITER, iter_map_fd=ring)) == errno.EINVAL
    assert code(lambda: k.link_create(it_prog, 0, AttachType.XDP, iter_map_fd=m)) == errno.EINVAL
    assert code(lambda: k.iter_create(m)) == errno.EINVAL
    assert code(lambda: k.iter_read(m)) == errno.EINVAL
