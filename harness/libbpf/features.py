"""Kernel feature probes, as libbpf's features.c runs them.

Each probe asks the target kernel (through the Kernel protocol only) to do the smallest
thing that needs the feature: load a tiny BTF blob with one new kind, create a map with a
flag, load a three-instruction program.  Success means "supported"; any BpfError means
"missing".  Results are cached per kernel object, like libbpf caches them per process.
The descriptions are libbpf's, so a debug line reads the same.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf, Type
from harness.isa.insn import Insn, encode
from harness.kernelapi import BpfError, Kernel, MapCreateAttr, ProgLoadAttr
from harness.uapi import (BPF_F_MMAPABLE, BPF_PSEUDO_MAP_VALUE, AttachType, MapType, ProgType)

# --- tiny instruction builders for the probe programs (encoding via harness.isa) -------
_MOV64_IMM, _EXIT, _LD_IMM64, _LDX_DW, _ST_DW = 0xB7, 0x95, 0x18, 0x79, 0x7A


def _ld_map_value(dst: int, map_fd: int, off: int) -> list[Insn]:
    return [Insn(_LD_IMM64, dst, BPF_PSEUDO_MAP_VALUE, 0, map_fd), Insn(0, 0, 0, 0, off)]


_RET0 = [Insn(_MOV64_IMM, 0, 0, 0, 0), Insn(_EXIT)]


def _probe_prog(kernel: Kernel, insns: list[Insn], prog_type: int = ProgType.SOCKET_FILTER, **kw) -> bool:
    try:
        fd = kernel.prog_load(ProgLoadAttr(prog_type=prog_type, insns=encode(insns), license="GPL", **kw)).fd
    except BpfError:
        return False
    kernel.close(fd)
    return True


def _probe_btf(kernel: Kernel, build: Callable[[Btf], None]) -> bool:
    btf = Btf()
    build(btf)
    try:
        fd = kernel.btf_load(btf.encode())
    except BpfError:
        return False
    kernel.close(fd)
    return True


def _with_map(kernel: Kernel, attr: MapCreateAttr, use: Callable[[int], bool]) -> bool:
    try:
        fd = kernel.map_create(attr)
    except BpfError:
        return False
    try:
        return use(fd)
    finally:
        kernel.close(fd)


# --- BTF blobs (what features.c encodes by hand) ----------------------------------------
def _int(b: Btf) -> int:
    return b.add_int("int", 4, K.BTF_INT_SIGNED)


def _btf_func(b: Btf, linkage: int) -> None:
    i = _int(b)
    proto = b.add_type(Type(K.FUNC_PROTO, 0, i, members=[K.BtfParam(b.add_string("a"), i)]))
    b.add_type(Type(K.FUNC, b.add_string("a"), proto, vlen_raw=linkage))


def _btf_datasec(b: Btf, sec_name: str) -> None:
    i = _int(b)
    var = b.add_type(Type(K.VAR, b.add_string("a"), i, single=K.BtfVar(K.BTF_VAR_STATIC)))
    b.add_type(Type(K.DATASEC, b.add_string(sec_name), 4, members=[K.BtfVarSecinfo(var, 0, 4)]))


def _btf_decl_tag(b: Btf) -> None:
    i = _int(b)
    var = b.add_type(Type(K.VAR, b.add_string("a"), i, single=K.BtfVar(K.BTF_VAR_STATIC)))
    b.add_type(Type(K.DECL_TAG, b.add_string("tag"), var, single=K.BtfDeclTag(-1)))


def _btf_type_tag(b: Btf) -> None:
    i = _int(b)
    tag = b.add_type(Type(K.TYPE_TAG, b.add_string("tag"), i))
    b.add_type(Type(K.PTR, 0, tag))


def _btf_enum64(b: Btf) -> None:
    b.add_type(Type(K.ENUM64, b.add_string("enum"), 8, members=[K.BtfEnum64(b.add_string("v"), 0, 1)]))


# --- program/map probes ------------------------------------------------------------------
def probe_global_data(kernel: Kernel) -> bool:
    attr = MapCreateAttr(MapType.ARRAY, 4, 32, 1, map_name="libbpf_global")
    prog = lambda fd: _probe_prog(kernel, _ld_map_value(1, fd, 16) + [Insn(_ST_DW, 1, 0, 0, 42)] + _RET0)
    return _with_map(kernel, attr, prog)


def probe_percpu_data(kernel: Kernel) -> bool:
    """upstream-spec §4.6: a PERCPU_ARRAY "libbpf_percpu" and a direct value load from it."""
    attr = MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1, map_name="libbpf_percpu")
    prog = lambda fd: _probe_prog(kernel, _ld_map_value(1, fd, 0) + [Insn(_LDX_DW, 0, 1, 0, 0), Insn(_EXIT)])
    return _with_map(kernel, attr, prog)


def probe_array_mmap(kernel: Kernel) -> bool:
    return _with_map(kernel, MapCreateAttr(MapType.ARRAY, 4, 4, 1, BPF_F_MMAPABLE, map_name="libbpf_mmap"),
                     lambda fd: True)


@dataclass(frozen=True)
class Feature:
    name: str          # libbpf's FEAT_* without the prefix, lower case
    desc: str          # libbpf's description string
    probe: Callable[[Kernel], bool]


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("prog_name", "BPF program name",
            lambda k: _probe_prog(k, _RET0, prog_name="libbpf_nametest")),
    Feature("global_data", "global variables", probe_global_data),
    Feature("btf", "minimal BTF", lambda k: _probe_btf(k, _int)),
    Feature("btf_func", "BTF functions", lambda k: _probe_btf(k, lambda b: _btf_func(b, K.BTF_FUNC_STATIC))),
    Feature("btf_global_func", "BTF global function",
            lambda k: _probe_btf(k, lambda b: _btf_func(b, K.BTF_FUNC_GLOBAL))),
    Feature("btf_datasec", "BTF data section and variable", lambda k: _probe_btf(k, lambda b: _btf_datasec(b, ".data"))),
    Feature("btf_qmark_datasec", "BTF DATASEC names starting from '?'",
            lambda k: _probe_btf(k, lambda b: _btf_datasec(b, "?.data"))),
    Feature("btf_float", "BTF_KIND_FLOAT support",
            lambda k: _probe_btf(k, lambda b: b.add_type(Type(K.FLOAT, b.add_string("float"), 4)))),
    Feature("btf_decl_tag", "BTF_KIND_DECL_TAG support", lambda k: _probe_btf(k, _btf_decl_tag)),
    Feature("btf_type_tag", "BTF_KIND_TYPE_TAG support", lambda k: _probe_btf(k, _btf_type_tag)),
    Feature("btf_enum64", "BTF_KIND_ENUM64 support", lambda k: _probe_btf(k, _btf_enum64)),
    Feature("array_mmap", "ARRAY map mmap()", probe_array_mmap),
    Feature("exp_attach_type", "BPF_PROG_LOAD expected_attach_type attribute",
            lambda k: _probe_prog(k, [Insn(_MOV64_IMM, 0, 0, 0, 1), Insn(_EXIT)], ProgType.CGROUP_SOCK,
                                  expected_attach_type=AttachType.CGROUP_INET_SOCK_CREATE)),
    Feature("percpu_data", "kernel supports percpu data", probe_percpu_data),
)}

_CACHE: "weakref.WeakKeyDictionary[object, dict[str, bool]]" = weakref.WeakKeyDictionary()


def kernel_supports(kernel: Kernel, name: str) -> bool:
    """libbpf's kernel_supports(): run the probe once per kernel object, then cache it."""
    try:
        cache = _CACHE.setdefault(kernel, {})
    except TypeError:          # kernel object not weak-referenceable: no caching
        cache = {}
    if name not in cache:
        cache[name] = bool(FEATURES[name].probe(kernel))
    return cache[name]


def probe_all(kernel: Kernel) -> dict[str, bool]:
    return {name: kernel_supports(kernel, name) for name in FEATURES}
