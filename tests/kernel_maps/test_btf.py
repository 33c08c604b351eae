"""BPF_BTF_LOAD and the BTF checks of BPF_MAP_CREATE (map_check_btf, spec §3.1)."""

from __future__ import annotations

import errno

import pytest

from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernel.core import ALL_FEATURES
from harness.kernelapi import BpfError, MapCreateAttr
from harness.uapi import BPF_ANY, BPF_F_LOCK, ENOTSUPP, MapType as T

from .btfblob import BtfBuilder, standard
from .mapsutil import u32, u64

try:
    import harness.elf.btf  # noqa: F401
    HAVE_PARSER = True
except ImportError:
    HAVE_PARSER = False
needs_parser = pytest.mark.skipif(not HAVE_PARSER, reason="harness.elf.btf (the BTF parser) is not available")


def _err(fn, *args, **kw) -> int:
    with pytest.raises(BpfError) as ei:
        fn(*args, **kw)
    return ei.value.errno


def test_btf_load_returns_fd():
    k = EmulatedKernel(nr_cpus=2)
    data, _ = standard()
    fd = k.btf_load(data)
    assert fd >= 3 and k.fds.get(fd).data == data


@pytest.mark.parametrize("mutate,desc", [
    (lambda d: d[:10], "truncated header"),
    (lambda d: b"\xeb\x9f" + d[2:], "bad magic"),
    (lambda d: d[:2] + b"\x02" + d[3:], "bad version"),
    (lambda d: d[:3] + b"\x01" + d[4:], "flags"),
    (lambda d: d[:-4], "string section past the end"),
])
def test_btf_load_rejects_malformed(mutate, desc):
    k = EmulatedKernel(nr_cpus=2)
    data, _ = standard()
    assert _err(k.btf_load, mutate(data)) == errno.EINVAL, desc


@needs_parser
@pytest.mark.parametrize("feature,add", [
    ("btf_decl_tag", lambda b, t: b.decl_tag("tag", b.struct("s", 4, [("a", t, 0)]))),
    ("btf_float", lambda b, t: b.float("float", 4)),
    ("btf_datasec", lambda b, t: b.var("v", t)),
])
def test_btf_kinds_follow_kernel_features(feature, add):
    b = BtfBuilder()
    t = b.int("int", 4)
    add(b, t)
    data = b.encode()
    EmulatedKernel(nr_cpus=1).btf_load(data)
    old = EmulatedKernel(KernelConfig(nr_cpus=1, features=ALL_FEATURES - {feature}))
    with pytest.raises(BpfError) as ei:
        old.btf_load(data)
    first = {"btf_decl_tag": 3}.get(feature, 2)
    assert ei.value.errno == errno.EINVAL and ei.value.message == "[%d] Invalid kind:%d" % (
        first, {"btf_decl_tag": 17, "btf_float": 16, "btf_datasec": 14}[feature])


@needs_parser
@pytest.mark.parametrize("target,component,ok", [
    ("struct", -1, True), ("struct", 0, True), ("struct", 5, False), ("var", -1, True), ("int", -1, False),
])
def test_decl_tag_targets(target, component, ok):
    """Checked on a 6.18 kernel: tags name a struct/union/var/func/typedef (and a member)."""
    b = BtfBuilder()
    t = b.int("int", 4)
    s = b.struct("s", 4, [("a", t, 0)])
    v = b.var("v", t)
    b.decl_tag("tag", {"struct": s, "var": v, "int": t}[target], component)
    k = EmulatedKernel(nr_cpus=1)
    if ok:
        k.btf_load(b.encode())
    else:
        assert _err(k.btf_load, b.encode()) == errno.EINVAL


# (id, features removed, map type, key, value, key_size, value_size, max_entries, errno)
ROWS = [
    ("array int key ok", (), T.ARRAY, "int", "pair", 4, 8, 4, None),
    ("array u64 key", (), T.ARRAY, "u64", "pair", 8, 8, 4, errno.EINVAL),
    ("array value size mismatch", (), T.ARRAY, "int", "pair", 4, 16, 4, errno.EINVAL),
    ("array struct key", (), T.ARRAY, "pair", "pair", 4, 8, 4, errno.EINVAL),
    ("keyless .data array", (), T.ARRAY, None, ".data", 4, 4, 1, None),
    ("keyless array 2 entries", (), T.ARRAY, None, ".data", 4, 4, 2, errno.EINVAL),
    ("keyless array struct value", (), T.ARRAY, None, "pair", 4, 8, 1, errno.EINVAL),
    ("keyless .percpu percpu_array", (), T.PERCPU_ARRAY, None, ".percpu", 4, 4, 1, None),
    ("keyless percpu_array 2 entries", (), T.PERCPU_ARRAY, None, ".percpu", 4, 4, 2, errno.EINVAL),
    ("keyless percpu_array pre-series", ("percpu_data",), T.PERCPU_ARRAY, None, ".percpu", 4, 4, 1, errno.EINVAL),
    ("keyless hash", (), T.HASH, None, "pair", 4, 8, 4, errno.EINVAL),
    ("hash struct key ok", (), T.HASH, "pair", "int", 8, 4, 4, None),
    ("hash key size mismatch", (), T.HASH, "pair", "int", 4, 4, 4, errno.EINVAL),
    ("spin lock in hash", (), T.HASH, "int", "locked", 4, 8, 4, None),
    ("spin lock in array", (), T.ARRAY, "int", "locked", 4, 8, 4, None),
    ("spin lock in percpu_array", (), T.PERCPU_ARRAY, "int", "locked", 4, 8, 4, errno.EOPNOTSUPP),
    ("spin lock in lru hash", (), T.LRU_HASH, "int", "locked", 4, 8, 4, errno.EOPNOTSUPP),
    ("btf on prog_array", (), T.PROG_ARRAY, "int", "int", 4, 4, 4, None),
    ("keyless prog_array", (), T.PROG_ARRAY, None, "int", 4, 4, 4, errno.EINVAL),
    ("bad type id", (), T.HASH, "int", 999, 4, 4, 4, errno.EINVAL),
]


@needs_parser
@pytest.mark.parametrize("removed,map_type,key,value,ks,vs,entries,expected", [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_map_btf_checks(removed, map_type, key, value, ks, vs, entries, expected):
    k = EmulatedKernel(KernelConfig(nr_cpus=2, features=ALL_FEATURES - set(removed)))
    data, ids = standard()
    btf_fd = k.btf_load(data)
    value_id = value if isinstance(value, int) else ids[value]
    attr = MapCreateAttr(map_type, ks, vs, entries, btf_fd=btf_fd,
                         btf_key_type_id=ids[key] if key else 0, btf_value_type_id=value_id)
    if expected is None:
        info = k.map_get_info(k.map_create(attr))
        assert (info.btf_key_type_id, info.btf_value_type_id) == (attr.btf_key_type_id, value_id)
        assert info.btf_id == k.fds.get(btf_fd).id
    else:
        assert _err(k.map_create, attr) == expected


@needs_parser
def test_spin_lock_enables_f_lock_and_blocks_freeze():
    k = EmulatedKernel(nr_cpus=2)
    data, ids = standard()
    btf_fd = k.btf_load(data)
    fd = k.map_create(MapCreateAttr(T.HASH, 4, 8, 4, btf_fd=btf_fd, btf_key_type_id=ids["int"],
                                    btf_value_type_id=ids["locked"]))
    m = k.map_object(fd)
    assert m.spin_lock_off == 4
    k.map_update_elem(fd, u32(1), u32(7) + b"\xff" * 4, BPF_F_LOCK)
    assert k.map_lookup_elem(fd, u32(1), BPF_F_LOCK) == u32(7) + bytes(4)   # lock reads as 0
    assert m.prog_update(u32(1), u32(8) + b"\xff" * 4, BPF_F_LOCK, 0) == 0
    assert bytes(m.prog_lookup(u32(1), 0)) == u32(8) + bytes(4)             # lock never copied
    assert _err(k.map_freeze, fd) == ENOTSUPP


def test_btf_fd_must_be_btf():
    k = EmulatedKernel(nr_cpus=2)
    other = k.map_create(MapCreateAttr(T.ARRAY, 4, 4, 1))
    assert _err(k.map_create, MapCreateAttr(T.ARRAY, 4, 4, 1, btf_fd=other, btf_value_type_id=1)) == errno.EINVAL


def test_map_without_btf_has_no_spin_lock():
    k = EmulatedKernel(nr_cpus=2)
    fd = k.map_create(MapCreateAttr(T.HASH, 4, 8, 4))
    assert k.map_object(fd).spin_lock_off is None
    assert _err(k.map_update_elem, fd, u32(1), u64(1), BPF_F_LOCK) == errno.EINVAL
    k.map_update_elem(fd, u32(1), u64(1), BPF_ANY)
