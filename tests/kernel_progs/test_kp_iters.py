"""The bpf_map_elem iterator: links, iterator files, per-CPU value layout (spec §2.4, §6.2)."""

from __future__ import annotations

import errno

import pytest

from harness.isa import encode
from harness.kernel import EmulatedKernel
from harness.kernel.helpers import FUNC_IDS
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr, TestRunAttr
from harness.uapi import BPF_F_ALL_CPUS, AttachType, MapType, ProgType
from kp_asm import (ADD, ALU64_IMM, ALU64_REG, CALL, EXIT, JEQ_IMM, LD_MAP_FD, LD_MAP_VALUE, LDX_MEM,
                     MOV64_IMM, MOV64_REG, RET, ST_MEM, STX_MEM)


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


# ---------------------------------------------------------------- writes through ctx->value

NCPUS = 2


def bump_prog(off):
    """if (ctx->value) { *(u32 *)(value + off) += 1; seq_write(seq, value + off, 4); }"""
    return [MOV64_REG(6, 1), LDX_MEM(8, 7, 6, 24), JEQ_IMM(7, 0, 9),
            LDX_MEM(4, 3, 7, off), ALU64_IMM(ADD, 3, 1), STX_MEM(4, 7, 3, off),
            LDX_MEM(8, 1, 6, 0), LDX_MEM(8, 1, 1, 0), MOV64_REG(2, 7), ALU64_IMM(ADD, 2, off),
            MOV64_IMM(3, 4), CALL(FUNC_IDS["seq_write"]), *RET(0)]


def percpu_value(i):
    """User-layout value of element i: CPU c holds 100 * (c + 1) + i, stride round_up(4, 8)."""
    return b"".join((100 * (c + 1) + i).to_bytes(8, "little") for c in range(NCPUS))


@pytest.mark.parametrize("map_type,off,reaches_map", [
    # the element itself (arraymap.c / hashtab.c seq_show): the write is a map update
    (MapType.ARRAY, 0, True),
    (MapType.HASH, 0, True),
    (MapType.LRU_HASH, 0, True),
    # per-CPU maps: a scratch copy of every possible CPU's value; the program may write any
    # CPU's part (off 8 = CPU 1's copy), but nothing is copied back to the map
    (MapType.PERCPU_ARRAY, 0, False),
    (MapType.PERCPU_ARRAY, 8, False),
    (MapType.PERCPU_HASH, 0, False),
    (MapType.PERCPU_HASH, 8, False),
    (MapType.LRU_PERCPU_HASH, 8, False),
])
def test_writes_through_ctx_value(map_type, off, reaches_map):
    k = EmulatedKernel(nr_cpus=NCPUS)
    m = k.map_create(MapCreateAttr(map_type, 4, 4, 3))
    percpu = map_type in (MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
    before = {}
    for i in range(3):
        key = i.to_bytes(4, "little")
        k.map_update_elem(m, key, percpu_value(i) if percpu else (100 + i).to_bytes(4, "little"))
        before[key] = k.map_lookup_elem(m, key)
    out = read_all(k, load_iter(k, bump_prog(off)), m)
    # the program always sees its own write (the buffer is writable for every type)
    seen = sorted(int.from_bytes(out[j:j + 4], "little") for j in range(0, len(out), 4))
    assert seen == [100 * (off // 8 + 1) + i + 1 for i in range(3)]
    after = {key: k.map_lookup_elem(m, key) for key in before}
    if reaches_map:
        assert after == {key: (int.from_bytes(v, "little") + 1).to_bytes(4, "little")
                         for key, v in before.items()}
    else:
        assert after == before
    # a second iterator sees the map as the first one left it
    again = read_all(k, load_iter(k, bump_prog(off)), m)
    second = sorted(int.from_bytes(again[j:j + 4], "little") for j in range(0, len(again), 4))
    assert second == [v + (1 if reaches_map else 0) for v in seen]


@pytest.mark.parametrize("map_type,expect", [
    (MapType.ARRAY, 7 + 1),        # the iterator's write is in the element a lookup returns
    (MapType.PERCPU_ARRAY, 7),     # the iterator wrote a copy: CPU 0's value is unchanged
])
def test_iterator_write_seen_by_a_later_program_lookup(map_type, expect):
    """r0 = bpf_map_lookup_elem(m, &(u32){1}); return r0 ? *(u32 *)(r0 + 4) : -1"""
    k = EmulatedKernel(nr_cpus=NCPUS)
    m = k.map_create(MapCreateAttr(map_type, 4, 8, 2))
    vs = bytes(4) + (7).to_bytes(4, "little")
    k.map_update_elem(m, (1).to_bytes(4, "little"), vs * NCPUS if map_type == MapType.PERCPU_ARRAY else vs)
    read_all(k, load_iter(k, bump_prog(4)), m)
    lookup = [ST_MEM(4, 10, -4, 1), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), *LD_MAP_FD(1, m),
              CALL(FUNC_IDS["map_lookup_elem"]), JEQ_IMM(0, 0, 2), LDX_MEM(4, 0, 0, 4), EXIT(),
              *RET(-1)]
    fd = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(lookup))).fd
    assert k.prog_test_run(fd, TestRunAttr(data_in=bytes(64))).retval == expect
