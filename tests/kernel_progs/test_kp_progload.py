"""BPF_PROG_LOAD of the emulated kernel: attr checks, ld_imm64 resolution (spec §3.2),
GPL-only helpers, the percpu fixup in the xlated dump, prog info."""

from __future__ import annotations

import errno

import pytest

from harness.isa import Insn, decode, encode
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernel.core import ALL_FEATURES
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.uapi import (BPF_F_SLEEPABLE, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
                          BPF_PSEUDO_MAP_VALUE, ENOTSUPP, MapType, ProgType)

EXIT = Insn(0x95)
RET0 = [Insn(0xB7, 0, 0, 0, 0), EXIT]


def ldimm(src, imm, off=0, dst=1):
    return [Insn(0x18, dst, src, 0, imm), Insn(0, 0, 0, 0, off)]


def load(k, insns, prog_type=ProgType.SOCKET_FILTER, **kw):
    return k.prog_load(ProgLoadAttr(prog_type, encode(insns), **kw))


def mkmap(k, map_type=MapType.ARRAY, value_size=8, max_entries=1, **kw):
    return k.map_create(MapCreateAttr(map_type, 4, value_size, max_entries, **kw))


def err(call):
    with pytest.raises(BpfError) as e:
        call()
    return e.value


def test_minimal_program_loads_and_reports_info():
    k = EmulatedKernel()
    r = load(k, RET0, prog_name="fifteen_chars_x")
    info = k.prog_get_info(r.fd)
    assert info.type == ProgType.SOCKET_FILTER and info.name == "fifteen_chars_x"
    assert decode(info.xlated) == RET0 and r.verified_insns >= 1


@pytest.mark.parametrize("attr_kw, code", [
    ({"prog_type": 999}, errno.EINVAL),
    ({"prog_type": 0}, errno.EINVAL),
    ({"prog_flags": 1 << 20}, errno.EINVAL),
    ({"log_level": 16}, errno.EINVAL),
    ({"log_size": 100}, errno.EINVAL),
    ({"prog_name": "sixteen_chars_xx"}, errno.EINVAL),
    ({"prog_name": "bad-name"}, errno.EINVAL),
    ({"prog_type": ProgType.SYSCALL}, errno.EINVAL),
])
def test_bad_attrs(attr_kw, code):
    k = EmulatedKernel()
    kw = {"prog_type": ProgType.SOCKET_FILTER, **attr_kw}
    assert err(lambda: k.prog_load(ProgLoadAttr(insns=encode(RET0), **kw))).errno == code


def test_syscall_needs_sleepable():
    k = EmulatedKernel()
    e = err(lambda: load(k, RET0, ProgType.SYSCALL))
    assert e.message == "Syscall programs can only be sleepable"
    assert load(k, RET0, ProgType.SYSCALL, prog_flags=BPF_F_SLEEPABLE).fd > 0


@pytest.mark.parametrize("data, code", [(b"", errno.E2BIG), (b"\x95" * 7, errno.EINVAL)])
def test_empty_or_ragged_program(data, code):
    k = EmulatedKernel()
    assert err(lambda: k.prog_load(ProgLoadAttr(1, data))).errno == code


def test_unprivileged_types():
    k = EmulatedKernel(privileged=False)
    assert load(k, RET0).fd > 0
    assert err(lambda: load(k, RET0, ProgType.XDP)).errno == errno.EPERM


def test_gpl_only_helper_from_non_gpl_program():
    k = EmulatedKernel()
    prog = [Insn(0xB7, 2, 0, 0, 1), Insn(0x85, 0, 0, 0, 6), *RET0]       # trace_printk
    e = err(lambda: load(k, prog, license="Proprietary"))
    assert e.errno == errno.EINVAL and "GPL-restricted" in e.message


@pytest.mark.parametrize("make, src, off, code, message", [
    (lambda k: 999, BPF_PSEUDO_MAP_FD, 0, errno.EBADF, "fd 999 is not pointing to valid bpf_map"),
    (lambda k: load(k, RET0).fd, BPF_PSEUDO_MAP_FD, 0, errno.EINVAL, "is not pointing to valid bpf_map"),
    (lambda k: mkmap(k, MapType.HASH), BPF_PSEUDO_MAP_VALUE, 0, errno.EINVAL,
     "no direct value access support for this map type"),
    (lambda k: mkmap(k, value_size=16), BPF_PSEUDO_MAP_VALUE, 16, errno.EINVAL,
     "invalid access to map value pointer, value_size=16 off=16"),
    (lambda k: mkmap(k, max_entries=2), BPF_PSEUDO_MAP_VALUE, 0, ENOTSUPP,
     "invalid access to map value pointer, value_size=8 off=0"),
    (lambda k: mkmap(k, MapType.PERCPU_ARRAY, max_entries=2), BPF_PSEUDO_MAP_VALUE, 0, errno.EOPNOTSUPP,
     "invalid access to map value pointer, value_size=8 off=0"),
    (lambda k: mkmap(k, MapType.PERCPU_ARRAY), BPF_PSEUDO_MAP_VALUE, 8, errno.EINVAL,
     "invalid access to map value pointer, value_size=8 off=8"),
])
def test_ldimm64_resolution_errors(make, src, off, code, message):
    k = EmulatedKernel()
    fd = make(k)
    e = err(lambda: load(k, [*ldimm(src, fd, off), *RET0]))
    assert e.errno == code and message in e.message


@pytest.mark.parametrize("features, code, message", [
    (ALL_FEATURES - {"percpu_data"}, errno.EINVAL, "no direct value access support for this map type"),
    (ALL_FEATURES - {"jit_percpu_insn"}, errno.EOPNOTSUPP, "invalid access to map value pointer"),
])
def test_percpu_value_needs_features(features, code, message):
    k = EmulatedKernel(features=features)
    fd = mkmap(k, MapType.PERCPU_ARRAY)
    e = err(lambda: load(k, [*ldimm(BPF_PSEUDO_MAP_VALUE, fd), *RET0]))
    assert e.errno == code and message in e.message


def test_fd_array_indices():
    k = EmulatedKernel()
    fd = mkmap(k)
    prog = [*ldimm(BPF_PSEUDO_MAP_IDX, 1), *ldimm(BPF_PSEUDO_MAP_IDX_VALUE, 1, 4, dst=2), *RET0]
    assert err(lambda: load(k, prog)).errno == errno.EPROTO
    assert err(lambda: load(k, prog, fd_array=[fd])).errno == errno.EFAULT
    r = load(k, prog, fd_array=[0, fd])
    info = k.prog_get_info(r.fd)
    xl = decode(info.xlated)
    map_id = k.map_get_info(fd).id
    assert info.map_ids == [map_id]
    assert (xl[0].src, xl[0].imm, xl[1].imm) == (BPF_PSEUDO_MAP_FD, map_id, 0)
    assert (xl[2].src, xl[2].imm, xl[3].imm) == (BPF_PSEUDO_MAP_VALUE, map_id, 4)


@pytest.mark.parametrize("second", [Insn(0x95), Insn(0, 1, 0, 0, 0), Insn(0, 0, 0, 1, 0)])
def test_malformed_ldimm64(second):
    k = EmulatedKernel()
    e = err(lambda: load(k, [Insn(0x18, 1, 0, 0, 0), second, *RET0]))
    assert e.errno == errno.EINVAL and e.message == "invalid bpf_ld_imm64 insn"


def test_unknown_pseudo_kind():
    k = EmulatedKernel()
    e = err(lambda: load(k, [*ldimm(7, 0), *RET0]))
    assert e.message == "unrecognized bpf_ld_imm64 insn"


def test_percpu_load_grows_xlated_by_one_mov():
    k = EmulatedKernel()
    fd = mkmap(k, MapType.PERCPU_ARRAY, value_size=16)
    r = load(k, [*ldimm(BPF_PSEUDO_MAP_VALUE, fd, 8), Insn(0x79, 0, 1, 0, 0), EXIT])
    xl = decode(k.prog_get_info(r.fd).xlated)
    assert len(xl) == 5
    assert xl[1].imm == 8 and (xl[2].code, xl[2].dst, xl[2].src, xl[2].off) == (0xBF, 1, 1, -1)


def test_percpu_load_without_jit():
    k = EmulatedKernel(KernelConfig(jit_enabled=False))
    fd = mkmap(k, MapType.PERCPU_ARRAY)
    e = err(lambda: load(k, [*ldimm(BPF_PSEUDO_MAP_VALUE, fd), Insn(0x79, 0, 1, 0, 0), EXIT]))
    assert e.message == "program requires BPF JIT compiler but it is not available"


def test_log_size_too_small_is_enospc():
    k = EmulatedKernel()
    e = err(lambda: load(k, RET0, log_level=1, log_size=8))
    assert e.errno == errno.ENOSPC


def test_info_on_bad_fds():
    k = EmulatedKernel()
    assert err(lambda: k.prog_get_info(77)).errno == errno.EBADF
    fd = mkmap(k)
    assert err(lambda: k.prog_get_info(fd)).errno == errno.EINVAL


def test_rejection_log_rules():
    """A rejected program: no log at level 0; a log that does not fit -> ENOSPC."""
    from harness.kernel.progcmds import _verifier
    if _verifier() is None:
        pytest.skip("the verifier (harness.kernel.verifier.verify) is not available yet")
    k = EmulatedKernel()
    bad = [Insn(0x95)]                                   # R0 !read_ok
    e = err(lambda: load(k, bad))
    assert e.errno == errno.EACCES and e.log == "" and e.message
    e = err(lambda: load(k, bad, log_level=1))
    assert e.errno == errno.EACCES and "R0 !read_ok" in e.log
    e = err(lambda: load(k, bad, log_level=1, log_size=8))
    assert e.errno == errno.ENOSPC
