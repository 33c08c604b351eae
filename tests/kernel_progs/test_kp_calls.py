"""Tail calls, bpf_loop and bpf_for_each_map_elem through the VM."""

from __future__ import annotations

import pytest

from harness import kernelapi
from harness.isa import encode
from harness.kernel import EmulatedKernel
from harness.kernel.helpers import FUNC_IDS
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.uapi import MAX_TAIL_CALL_CNT, MapType, ProgType
from kp_asm import (ADD, ALU64_IMM, ALU64_REG, CALL, EXIT, JEQ_IMM, LD_FUNC, LD_MAP_FD, LD_MAP_VALUE, LDX_MEM,
                     MOV64_IMM, MOV64_REG, RET, ST_MEM, STX_MEM)

H = FUNC_IDS


def load(k, insns, prog_type=ProgType.RAW_TRACEPOINT, cb_start=None):
    """Load `insns`; with `cb_start`, also BTF func_info for main and the callback at that
    instruction (the kernel wants it for ld_imm64 BPF_PSEUDO_FUNC: "missing btf func_info")."""
    if cb_start is None:
        return k.prog_load(ProgLoadAttr(prog_type, encode(insns))).fd
    btf_fd = k.btf_load(_func_btf())
    return k.prog_load(ProgLoadAttr(prog_type, encode(insns), prog_btf_fd=btf_fd,
                                    func_info=[(0, 3), (cb_start, 4)])).fd


def _func_btf() -> bytes:
    """[1] int, [2] FUNC_PROTO int(void), [3] FUNC main, [4] FUNC cb (both static)."""
    import struct
    strings = b"\0int\0main\0cb\0"
    types = (struct.pack("<IIII", 1, 1 << 24, 4, 32)            # INT "int", 4 bytes, 32 bits
             + struct.pack("<III", 0, 13 << 24, 1)               # FUNC_PROTO, returns [1]
             + struct.pack("<III", 5, 12 << 24, 2)               # FUNC "main" -> [2]
             + struct.pack("<III", 10, 12 << 24, 2))             # FUNC "cb" -> [2]
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


def run(k, fd):
    return k.prog_test_run(fd, kernelapi.TestRunAttr())


def tail_call_to(parray, index, fallthrough):
    return [MOV64_REG(6, 1), *LD_MAP_FD(2, parray), MOV64_IMM(3, index), CALL(H["tail_call"]),
            *RET(fallthrough)]


def test_tail_call_into_another_program_and_empty_slot():
    k = EmulatedKernel()
    parray = k.map_create(MapCreateAttr(MapType.PROG_ARRAY, 4, 4, 2))
    target = load(k, RET(42))
    k.map_update_elem(parray, (0).to_bytes(4, "little"), target.to_bytes(4, "little"))
    assert run(k, load(k, tail_call_to(parray, 0, 1))).retval == 42
    assert run(k, load(k, tail_call_to(parray, 1, 1))).retval == 1      # empty slot
    assert run(k, load(k, tail_call_to(parray, 7, 1))).retval == 1      # out of range


def test_tail_call_limit():
    """A program tail-calling itself runs 1 + MAX_TAIL_CALL_CNT times, then falls through."""
    k = EmulatedKernel()
    parray = k.map_create(MapCreateAttr(MapType.PROG_ARRAY, 4, 4, 1))
    counter = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1))
    prog = [MOV64_REG(6, 1), *LD_MAP_VALUE(7, counter, 0), LDX_MEM(8, 2, 7, 0), ALU64_IMM(ADD, 2, 1),
            STX_MEM(8, 7, 2, 0), MOV64_REG(1, 6), *LD_MAP_FD(2, parray), MOV64_IMM(3, 0),
            CALL(H["tail_call"]), *RET(7)]
    fd = load(k, prog)
    k.map_update_elem(parray, bytes(4), fd.to_bytes(4, "little"))
    assert run(k, fd).retval == 7
    assert int.from_bytes(k.map_lookup_elem(counter, bytes(4)), "little") == 1 + MAX_TAIL_CALL_CNT


LOOP_PROG = [
    ST_MEM(8, 10, -8, 0), MOV64_IMM(1, 10), *LD_FUNC(2, 7), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8),
    MOV64_IMM(4, 0), CALL(H["loop"]), LDX_MEM(8, 0, 10, -8), EXIT(),
    # callback(index, ctx): *ctx += index
    LDX_MEM(8, 3, 2, 0), ALU64_REG(ADD, 3, 1), STX_MEM(8, 2, 3, 0), *RET(0),
]


def test_bpf_loop_runs_the_callback():
    k = EmulatedKernel()
    assert run(k, load(k, LOOP_PROG, cb_start=10)).retval == sum(range(10))


def test_callback_without_func_info_is_rejected():
    with pytest.raises(BpfError, match="missing btf func_info"):
        load(EmulatedKernel(), LOOP_PROG)


def test_for_each_map_elem_sums_values():
    k = EmulatedKernel()
    m = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 3))
    for i in range(3):
        k.map_update_elem(m, i.to_bytes(4, "little"), (10 * (i + 1)).to_bytes(8, "little"))
    prog = [ST_MEM(8, 10, -8, 0), *LD_MAP_FD(1, m), *LD_FUNC(2, 7), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -8),
            MOV64_IMM(4, 0), CALL(H["for_each_map_elem"]), LDX_MEM(8, 0, 10, -8), EXIT(),
            # callback(map, key, value, ctx): *ctx += *value
            LDX_MEM(8, 5, 3, 0), LDX_MEM(8, 6, 4, 0), ALU64_REG(ADD, 6, 5), STX_MEM(8, 4, 6, 0), *RET(0)]
    assert run(k, load(k, prog, cb_start=11)).retval == 60


def test_ringbuf_reserve_submit_output_query():
    k = EmulatedKernel()
    rb = k.map_create(MapCreateAttr(MapType.RINGBUF, 0, 0, 4096))
    prog = [*LD_MAP_FD(1, rb), MOV64_IMM(2, 8), MOV64_IMM(3, 0), CALL(H["ringbuf_reserve"]),
            JEQ_IMM(0, 0, 5), ST_MEM(8, 0, 0, 0x11), MOV64_REG(1, 0), MOV64_IMM(2, 0), CALL(H["ringbuf_submit"]),
            ST_MEM(4, 10, -4, 0x22),
            *LD_MAP_FD(1, rb), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), MOV64_IMM(3, 4), MOV64_IMM(4, 0),
            CALL(H["ringbuf_output"]),
            *LD_MAP_FD(1, rb), MOV64_IMM(2, 0), CALL(H["ringbuf_query"]), EXIT()]
    assert run(k, load(k, prog)).retval == 16 + 16        # two records with 8-byte headers
    ring = k.fds.get(rb)
    assert ring.consume() == [(0x11).to_bytes(8, "little"), (0x22).to_bytes(4, "little")]


def test_hash_map_from_program():
    k = EmulatedKernel()
    m = k.map_create(MapCreateAttr(MapType.HASH, 4, 8, 4))
    # update(key 3, 40, BPF_NOEXIST) twice: 0 then -EEXIST; return lookup(3) value + second result
    prog = [ST_MEM(4, 10, -4, 3), ST_MEM(8, 10, -16, 40)]
    upd = [*LD_MAP_FD(1, m), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4), MOV64_REG(3, 10), ALU64_IMM(ADD, 3, -16),
           MOV64_IMM(4, 1), CALL(H["map_update_elem"])]
    prog += upd + upd + [MOV64_REG(6, 0), *LD_MAP_FD(1, m), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -4),
                         CALL(H["map_lookup_elem"]), JEQ_IMM(0, 0, 3), LDX_MEM(8, 0, 0, 0), ALU64_REG(ADD, 0, 6),
                         EXIT(), *RET(99)]
    assert run(k, load(k, prog)).retval == (40 - 17) & 0xFFFFFFFF      # -EEXIST == -17
    assert k.map_lookup_elem(m, (3).to_bytes(4, "little")) == (40).to_bytes(8, "little")


def test_queue_push_pop_from_program():
    k = EmulatedKernel()
    q = k.map_create(MapCreateAttr(MapType.QUEUE, 0, 8, 4))
    # push 5, push 6 (BPF_ANY), pop into the stack: returns the first value pushed
    prog = []
    for v in (5, 6):
        prog += [ST_MEM(8, 10, -8, v), *LD_MAP_FD(1, q), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -8),
                 MOV64_IMM(3, 0), CALL(H["map_push_elem"])]
    prog += [*LD_MAP_FD(1, q), MOV64_REG(2, 10), ALU64_IMM(ADD, 2, -16), CALL(H["map_pop_elem"]),
             LDX_MEM(8, 0, 10, -16), EXIT()]
    assert run(k, load(k, prog)).retval == 5
    assert k.map_lookup_elem(q, None) == (6).to_bytes(8, "little")


def test_ringbuf_discard_and_full_ring():
    k = EmulatedKernel()
    rb = k.map_create(MapCreateAttr(MapType.RINGBUF, 0, 0, 4096))
    # reserve 8 and discard it; then reserve 5000 bytes: NULL -> return 1, else 2
    prog = [*LD_MAP_FD(1, rb), MOV64_IMM(2, 8), MOV64_IMM(3, 0), CALL(H["ringbuf_reserve"]),
            JEQ_IMM(0, 0, 3), MOV64_REG(1, 0), MOV64_IMM(2, 0), CALL(H["ringbuf_discard"]),
            *LD_MAP_FD(1, rb), MOV64_IMM(2, 5000), MOV64_IMM(3, 0), CALL(H["ringbuf_reserve"]),
            JEQ_IMM(0, 0, 5), MOV64_REG(1, 0), MOV64_IMM(2, 0), CALL(H["ringbuf_discard"]), *RET(2), *RET(1)]
    assert run(k, load(k, prog)).retval == 1
    assert k.fds.get(rb).consume() == []
