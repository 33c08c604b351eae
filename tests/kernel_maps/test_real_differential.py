"""The map layer's errno decisions against the running kernel (when bpf(2) is usable).

The emulated kernel is configured like the running one (possible CPUs, and without the
BPF_F_CPU / percpu-data series when the running kernel lacks them).  Each row runs on both
kernels and must give the same result; skipped with the reason where bpf(2) is denied."""

from __future__ import annotations

import copy

import pytest

from harness.kernelapi import BpfError, MapCreateAttr as A
from harness.uapi import BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapType as T

from .mapsutil import u32
from .test_map_create import NAMES, ROWS

try:
    from harness.realkernel import RealKernel, features, probe
    AVAILABLE = probe()
except ImportError as exc:          # the realkernel area is absent
    AVAILABLE = None
    REASON = f"harness.realkernel unavailable: {exc}"
else:
    REASON = f"kernel BPF oracle unavailable: {AVAILABLE.reason}"
pytestmark = pytest.mark.skipif(AVAILABLE is None or not AVAILABLE.ok, reason=REASON)


@pytest.fixture(scope="module")
def kernels():
    from harness.kernel import EmulatedKernel
    from harness.kernel.core import ALL_FEATURES, KernelConfig
    real = RealKernel()
    missing = frozenset({"cpu_flags", "percpu_data"}) - features()
    emu = EmulatedKernel(KernelConfig(nr_cpus=real.nr_possible_cpus(), features=ALL_FEATURES - missing))
    return real, emu


def _outcome(fn):
    try:
        fn()
        return "ok"
    except BpfError as e:
        return e.errno_name


# map types the emulated kernel refuses on purpose (not modelled), and the RealKernel
# backend's own truncation of 16-byte names to 15 (the kernel itself would say EINVAL)
NOT_COMPARED = {"unsupported bloom filter"}
CREATE = [r for r in ROWS if r[0] not in NOT_COMPARED] + \
    [(f"name {n!r}", A(T.ARRAY, 4, 4, 1, map_name=n), e) for n, e in NAMES if len(n) < 16]


@pytest.mark.parametrize("attr", [r[1] for r in CREATE], ids=[r[0] for r in CREATE])
def test_map_create_matches(kernels, attr):
    results = []
    for k in kernels:
        def create(k=k):
            k.close(k.map_create(copy.copy(attr)))
        results.append(_outcome(create))
    assert results[1] == results[0]


def _ops(k):
    """(name, thunk) pairs run on a fresh set of maps of kernel `k`."""
    arr = k.map_create(A(T.ARRAY, 4, 4, 2))
    h = k.map_create(A(T.HASH, 4, 4, 2))
    pa = k.map_create(A(T.PERCPU_ARRAY, 4, 4, 2))
    prog = k.map_create(A(T.PROG_ARRAY, 4, 4, 2))
    rb = k.map_create(A(T.RINGBUF, 0, 0, 4096))
    q = k.map_create(A(T.QUEUE, 0, 4, 2))
    aom = k.map_create(A(T.ARRAY_OF_MAPS, 4, 4, 2, inner_map_fd=arr))
    hom = k.map_create(A(T.HASH_OF_MAPS, 4, 4, 2, inner_map_fd=arr))
    frz = k.map_create(A(T.ARRAY, 4, 4, 1))
    n = k.nr_possible_cpus()
    return [
        ("array lookup_batch ignores batch.flags", lambda: k.map_lookup_batch(arr, None, 2, 0, 1)),
        ("hash lookup_batch batch.flags", lambda: k.map_lookup_batch(h, None, 2, 0, 1)),
        ("hash delete_batch missing key", lambda: k.map_delete_batch(h, u32(0), 1)),
        ("array delete_batch", lambda: k.map_delete_batch(arr, u32(0), 1)),
        ("percpu_array delete_batch", lambda: k.map_delete_batch(pa, u32(0), 1)),
        ("array lookup_and_delete", lambda: k.map_lookup_and_delete_elem(arr, u32(0))),
        ("array lookup_and_delete CPU flag", lambda: k.map_lookup_and_delete_elem(arr, u32(0), 8)),
        ("array lookup_and_delete_batch", lambda: k.map_lookup_and_delete_batch(arr, None, 2)),
        ("hash update flags 3", lambda: k.map_update_elem(h, u32(0), u32(0), BPF_NOEXIST | BPF_EXIST)),
        ("hash update LOCK", lambda: k.map_update_elem(h, u32(0), u32(0), BPF_F_LOCK)),
        ("percpu_array update flags 3", lambda: k.map_update_elem(pa, u32(0), bytes(8 * n), 3)),
        ("percpu_array update NOEXIST", lambda: k.map_update_elem(pa, u32(0), bytes(8 * n), BPF_NOEXIST)),
        ("prog_array lookup empty", lambda: k.map_lookup_elem(prog, u32(0))),
        ("prog_array update with a map fd", lambda: k.map_update_elem(prog, u32(0), u32(arr))),
        ("prog_array delete past the end", lambda: k.map_delete_elem(prog, u32(5))),
        ("prog_array get_next_key", lambda: k.map_get_next_key(prog, None)),
        ("prog_array lookup_batch", lambda: k.map_lookup_batch(prog, None, 2)),
        ("prog_array update_batch", lambda: k.map_update_batch(prog, u32(0), u32(0), 1)),
        ("ringbuf lookup", lambda: k.map_lookup_elem(rb, None)),
        ("ringbuf update", lambda: k.map_update_elem(rb, None, b"")),
        ("ringbuf delete", lambda: k.map_delete_elem(rb, None)),
        ("ringbuf get_next_key", lambda: k.map_get_next_key(rb, None)),
        ("ringbuf lookup_batch", lambda: k.map_lookup_batch(rb, None, 1)),
        ("queue lookup_batch", lambda: k.map_lookup_batch(q, None, 2)),
        ("queue update_batch", lambda: k.map_update_batch(q, b"", u32(0), 1)),
        ("aom update_batch", lambda: k.map_update_batch(aom, u32(0), u32(arr), 1)),
        ("aom delete_batch", lambda: k.map_delete_batch(aom, u32(0), 1)),
        ("aom lookup_and_delete_batch", lambda: k.map_lookup_and_delete_batch(aom, None, 2)),
        ("hom update_batch", lambda: k.map_update_batch(hom, u32(0), u32(arr), 1)),
        ("hom lookup_and_delete_elem", lambda: k.map_lookup_and_delete_elem(hom, u32(0))),
        ("hom lookup_and_delete_batch", lambda: k.map_lookup_and_delete_batch(hom, None, 2)),
        ("freeze", lambda: k.map_freeze(frz)),
        ("freeze again", lambda: k.map_freeze(frz)),
        ("update frozen", lambda: k.map_update_elem(frz, u32(0), u32(1))),
        ("lookup on fd 0", lambda: k.map_lookup_elem(0, u32(0))),
    ]


def test_map_commands_match(kernels):
    real, emu = (_ops(k) for k in kernels)
    got = [(name, _outcome(fn_r), _outcome(fn_e)) for (name, fn_r), (_, fn_e) in zip(real, emu)]
    assert [g for g in got if g[1] != g[2]] == []
