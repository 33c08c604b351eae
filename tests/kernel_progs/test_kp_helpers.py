"""Helper semantics, driven through an in-memory HelperCall (no VM needed)."""

from __future__ import annotations

import errno

import pytest

from harness.kernel.helpers import FUNC_IDS, dispatch
from harness.kernel.helpers.call import TailCall
from harness.kernelapi import BpfError
from harness.uapi import MAX_TAIL_CALL_CNT
from kp_fakes import FakeArray, FakeMem, FakePercpuArray, FakeProgArray

U64 = 0xFFFFFFFFFFFFFFFF


def call(name: str, h: FakeMem) -> int:
    return dispatch.call(FUNC_IDS[name], h)


def neg(e: int) -> int:
    return -e & U64


def test_lookup_returns_live_storage_and_null_on_miss():
    h, m = FakeMem(), FakeArray(value_size=8, max_entries=2)
    h.set_map(1, m)
    h.regs[2] = h.region((1).to_bytes(4, "little"))
    ptr = call("map_lookup_elem", h)
    assert h.storage_at(ptr) == (m.elems[1], 0)
    h.regs[2] = h.region((5).to_bytes(4, "little"))
    assert call("map_lookup_elem", h) == 0


@pytest.mark.parametrize("flags, key, expect", [
    (0, 0, 0), (2, 1, 0), (1, 0, neg(errno.EEXIST)), (4, 0, neg(errno.EINVAL)), (0, 9, neg(errno.E2BIG)),
])
def test_update_flags_and_errnos(flags, key, expect):
    h, m = FakeMem(), FakeArray(value_size=4, max_entries=2)
    h.set_map(1, m)
    h.regs[2:5] = [h.region(key.to_bytes(4, "little")), h.region(b"\x2a\0\0\0"), flags]
    assert call("map_update_elem", h) == expect
    if expect == 0:
        assert m.elems[key] == b"\x2a\0\0\0"


def test_delete_on_array_is_einval():
    h, m = FakeMem(), FakeArray()
    h.set_map(1, m)
    h.regs[2] = h.region(bytes(4))
    assert call("map_delete_elem", h) == neg(errno.EINVAL)


@pytest.mark.parametrize("target, found", [(0, True), (3, True), (4, False)])
def test_lookup_percpu_elem_picks_the_cpu(target, found):
    h, m = FakeMem(cpu=1), FakePercpuArray(nr_cpus=4)
    h.set_map(1, m)
    h.regs[2:4] = [h.region(bytes(4)), target]
    ptr = call("map_lookup_percpu_elem", h)
    assert (h.storage_at(ptr)[0] is m.copies[target][0]) if found else ptr == 0


@pytest.mark.parametrize("cpu", [0, 2, 3])
def test_smp_processor_id_is_the_run_cpu(cpu):
    assert call("get_smp_processor_id", FakeMem(cpu=cpu)) == cpu


def test_clock_is_monotonic_and_prandom_seeded():
    h = FakeMem(seed=7)
    t1, t2 = call("ktime_get_ns", h), call("ktime_get_ns", h)
    assert t2 > t1
    a = [call("get_prandom_u32", FakeMem(seed=7)) for _ in range(1)]
    b = [call("get_prandom_u32", FakeMem(seed=7)) for _ in range(1)]
    c = [call("get_prandom_u32", FakeMem(seed=8)) for _ in range(1)]
    assert a == b != c and all(v < 2**32 for v in a + c)


@pytest.mark.parametrize("nr, stop_at, expect", [(5, None, 5), (5, 2, 3), (0, None, 0), ((1 << 23) + 1, None, neg(errno.E2BIG))])
def test_bpf_loop(nr, stop_at, expect):
    h = FakeMem()
    seen = []
    h.callbacks[0x99] = lambda i, ctx: (seen.append((i, ctx)), int(i == stop_at))[1]
    h.regs[1:5] = [nr, 0x99, 0x1234, 0]
    assert call("loop", h) == expect
    if expect != neg(errno.E2BIG):
        assert seen == [(i, 0x1234) for i in range(expect)]


def test_bpf_loop_rejects_flags():
    h = FakeMem()
    h.regs[1:5] = [1, 0x99, 0, 1]
    assert call("loop", h) == neg(errno.EINVAL)


def test_for_each_map_elem_passes_key_value_and_stops():
    h, m = FakeMem(), FakeArray(value_size=4, max_entries=4)
    h.set_map(1, m)
    keys = []

    def cb(map_ptr, key_ptr, value_ptr, ctx):
        keys.append(int.from_bytes(h.read(key_ptr, 4), "little"))
        assert h.storage_at(value_ptr)[0] is m.elems[keys[-1]] and ctx == 7
        return 1 if keys[-1] == 2 else 0
    h.callbacks[0x55] = cb
    h.regs[2:5] = [0x55, 7, 0]
    assert call("for_each_map_elem", h) == 3 and keys == [0, 1, 2]


def test_tail_call_budget_and_fallthrough():
    target = object()
    h = FakeMem()
    h.set_map(2, FakeProgArray([target, None]))
    h.regs[3] = 0
    with pytest.raises(TailCall) as e:
        call("tail_call", h)
    assert e.value.prog is target and h.state.tail_call_cnt == 1
    h.regs[3] = 1                       # empty slot: falls through, budget spent
    assert call("tail_call", h) == 0 and h.state.tail_call_cnt == 2
    h.regs[3] = 2                       # out of range: falls through, budget kept
    assert call("tail_call", h) == 0 and h.state.tail_call_cnt == 2
    h.state.tail_call_cnt = MAX_TAIL_CALL_CNT
    h.regs[3] = 0
    assert call("tail_call", h) == 0


def test_probe_read_kernel_ok_and_fault_zeroes_dst():
    h = FakeMem()
    dst = bytearray(b"\xff" * 8)
    h.regs[1:4] = [h.region(dst), 8, h.region(b"abcdefgh")]
    assert call("probe_read_kernel", h) == 0 and dst == b"abcdefgh"
    h.regs[3] = 0xdead0000
    assert call("probe_read_kernel", h) == neg(errno.EFAULT) and dst == bytes(8)


def test_probe_read_kernel_str():
    h = FakeMem()
    dst = bytearray(8)
    h.regs[1:4] = [h.region(dst), 4, h.region(b"hello\0")]
    assert call("probe_read_kernel_str", h) == 4 and dst[:4] == b"hel\0"


@pytest.mark.parametrize("fmt, args, text", [
    (b"x=%d\0", [-5 & U64], "x=-5"),
    (b"%u %x %lx\0", [-1 & U64, 255, 1 << 40], "4294967295 ff 10000000000"),
    (b"%lld %llu %c%%\0", [-2 & U64, 3, 0x41], "-2 3 A%"),
    (b"%i %ld %lu\0", [7, -9 & U64, 9], "7 -9 9"),
])
def test_trace_printk_formats_and_captures(fmt, args, text):
    h = FakeMem()
    h.regs[1:6] = [h.region(fmt), len(fmt), *args, *[0] * (3 - len(args))]
    assert call("trace_printk", h) == len(text)
    assert h.state.output == [text]


@pytest.mark.parametrize("fmt", [b"%q\0", b"%d %d %d %d\0", b"no nul"])
def test_trace_printk_rejects_bad_formats(fmt):
    h = FakeMem()
    h.regs[1:3] = [h.region(fmt), len(fmt)]
    assert call("trace_printk", h) == neg(errno.EINVAL) and h.state.output == []


def test_trace_printk_string_argument():
    h = FakeMem()
    fmt = b"[%s]\0"
    h.regs[1:4] = [h.region(fmt), len(fmt), h.region(b"str\0")]
    call("trace_printk", h)
    assert h.state.output == ["[str]"]


@pytest.mark.parametrize("size, written, ret", [(16, b"data 42\0", 8), (5, b"data\0", 8), (0, b"", 8)])
def test_snprintf_truncates_and_returns_full_length(size, written, ret):
    h = FakeMem()
    dst = bytearray(16)
    h.regs[1:6] = [h.region(dst), size, h.region(b"data %d\0"), h.region((42).to_bytes(8, "little")), 8]
    assert call("snprintf", h) == ret and bytes(dst[:len(written)]) == written


def test_snprintf_bad_data_len():
    h = FakeMem()
    h.regs[1:6] = [h.region(bytearray(8)), 8, h.region(b"%d\0"), h.region(bytes(8)), 4]
    assert call("snprintf", h) == neg(errno.EINVAL)


@pytest.mark.parametrize("s1, n, s2, expect", [
    (b"test\0", 5, b"test\0", 0), (b"tesa\0", 5, b"test\0", neg(1)), (b"tesz\0", 5, b"test\0", 1),
    (b"testXX", 4, b"test\0", 0), (b"te\0", 3, b"test\0", neg(1)),
])
def test_strncmp(s1, n, s2, expect):
    h = FakeMem()
    h.regs[1:4] = [h.region(s1), n, h.region(s2)]
    assert call("strncmp", h) == expect


def test_seq_helpers_append_to_seq_file():
    h = FakeMem()
    h.state.seq = bytearray()
    h.regs[1:4] = [0, h.region(b"raw"), 3]
    assert call("seq_write", h) == 0
    fmt = b" v=%d\0"
    h.regs[1:6] = [0, h.region(fmt), len(fmt), h.region((9).to_bytes(8, "little")), 8]
    assert call("seq_printf", h) == 0
    assert h.state.seq == b"raw v=9"


def test_unknown_and_unimplemented_helpers_are_clean_errors(monkeypatch):
    with pytest.raises(BpfError) as e:
        dispatch.call(100000, FakeMem())
    assert e.value.errno == errno.EINVAL and "invalid func" in e.value.message
    monkeypatch.delitem(dispatch.IMPLS, FUNC_IDS["jiffies64"])      # a prototype without code
    with pytest.raises(BpfError) as e:
        dispatch.call(FUNC_IDS["jiffies64"], FakeMem())
    assert "bpf_jiffies64#118 is not implemented" in e.value.message


def test_spin_lock_pairs():
    h = FakeMem()
    h.regs[1] = 0x1000
    call("spin_lock", h)
    assert h.state.locks_held == [0x1000]
    call("spin_unlock", h)
    assert h.state.locks_held == []


def test_current_task_helpers():
    h = FakeMem()
    assert call("get_current_pid_tgid", h) >> 32 == call("get_current_pid_tgid", h) & 0xFFFFFFFF > 0
    assert call("get_current_uid_gid", h) == 0
    dst = bytearray(b"\xff" * 6)
    h.regs[1:3] = [h.region(dst), 6]
    assert call("get_current_comm", h) == 0 and dst == b"bpf-h\0"


@pytest.mark.parametrize("fmt, arg, text", [
    (b"%s\0", 0, ""),                                  # NULL string: empty (checked on 6.18)
    (b"%p\0", 16, "0000000000000010"),                 # 16 hex digits like a hashed %p
])
def test_printf_null_string_and_pointer(fmt, arg, text):
    h = FakeMem()
    h.regs[1:4] = [h.region(fmt), len(fmt), arg]
    assert call("trace_printk", h) == len(text) and h.state.output == [text]
