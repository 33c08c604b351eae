"""Load small programs into an emulated kernel for verifier tests.

Programs are written in the conformance assembler syntax (harness.isa.asm) with two
extensions for maps, resolved after assembling: `lddw %rN, map:NAME` (BPF_PSEUDO_MAP_FD)
and `lddw %rN, mapval:NAME+OFF` (BPF_PSEUDO_MAP_VALUE).  Malformed encodings the assembler
refuses are given as raw Insn lists instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.isa import Insn, encode
from harness.isa.asm import assemble
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr

_MARK = 0x7EADBEEF00000000  # placeholder immediates, one per referencing line
_MAPREF = re.compile(r"\b(map|mapval):([A-Za-z_][\w.]*)(?:\+(\d+))?")


@dataclass
class Outcome:
    ok: bool
    errno: str = ""
    message: str = ""
    log: str = ""
    processed: int = 0


@dataclass
class MapSpec:
    map_type: int
    key_size: int
    value_size: int
    max_entries: int = 1
    flags: int = 0
    init: bytes | None = None      # value of key 0 (array maps), written before freezing
    freeze: bool = False
    btf_value: str = ""            # name of a VALUE_BTF type ("locked", "pair"): map with BTF
    inner: "MapSpec | None" = None  # map-in-map: the inner map template (also entry 0)


def _btf(strings: list[str], types: list[tuple]) -> bytes:
    """Encode BTF: types are (name, kind, vlen, size_or_type, tail bytes)."""
    import struct
    blob, offs = b"\0", {}
    for n in strings:
        offs[n] = len(blob)
        blob += n.encode() + b"\0"
    body = b"".join(struct.pack("<III", offs.get(n, 0), (kind << 24) | vlen, st) + tail
                    for n, kind, vlen, st, tail in types)
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(blob)) + body + blob


def _members(*ms):
    import struct
    return b"".join(struct.pack("<III", name_off, tid, bit_off) for name_off, tid, bit_off in ms)


def value_btf() -> tuple[bytes, dict[str, int]]:
    """[1] int, [2] struct bpf_spin_lock {int val}, [3] struct locked {int x; lock @4},
    [4] struct pair {int a; int b}: 8-byte map values with and without a lock."""
    import struct
    names = ["int", "bpf_spin_lock", "val", "locked", "x", "lock", "pair", "a", "b"]
    off, o = 1, {}
    for n in names:
        o[n] = off
        off += len(n) + 1
    int_t = ("int", 1, 0, 4, struct.pack("<I", (1 << 24) | 32))
    lock = ("bpf_spin_lock", 4, 1, 4, _members((o["val"], 1, 0)))
    locked = ("locked", 4, 2, 8, _members((o["x"], 1, 0), (o["lock"], 2, 32)))
    pair = ("pair", 4, 2, 8, _members((o["a"], 1, 0), (o["b"], 1, 32)))
    return _btf(names, [int_t, lock, locked, pair]), {"int": 1, "locked": 3, "pair": 4}


@dataclass
class Prog:
    text: str | None = None
    raw: list[Insn] | None = None
    prog_type: int = 1
    maps: dict[str, MapSpec] = field(default_factory=dict)
    license: str = "GPL"
    attach_type: int = 0
    flags: int = 0
    func_info: list = field(default_factory=list)


def build(prog: Prog, kernel: EmulatedKernel) -> list[Insn]:
    fds = {}
    for name, m in prog.maps.items():
        btf = {}
        if m.btf_value:
            data, ids = value_btf()
            btf = dict(btf_fd=kernel.btf_load(data), btf_key_type_id=ids["int"],
                       btf_value_type_id=ids[m.btf_value])
        if m.inner is not None:
            i = m.inner
            inner_fd = kernel.map_create(MapCreateAttr(i.map_type, i.key_size, i.value_size,
                                                       i.max_entries, i.flags, map_name=name + "_in"))
            btf = dict(btf, inner_map_fd=inner_fd)
        fd = kernel.map_create(MapCreateAttr(m.map_type, m.key_size, m.value_size, m.max_entries,
                                             m.flags, map_name=name, **btf))
        if m.inner is not None:
            kernel.map_update_elem(fd, bytes(m.key_size), inner_fd.to_bytes(4, "little"), 0)
        if m.init is not None:
            kernel.map_update_elem(fd, bytes(m.key_size), m.init, 0)
        if m.freeze:
            kernel.map_freeze(fd)
        fds[name] = fd
    if prog.raw is not None:
        return list(prog.raw)
    refs: dict[int, tuple[str, str, int]] = {}
    lines = []
    for n, line in enumerate(prog.text.strip().splitlines()):
        m = _MAPREF.search(line)
        if m:
            refs[n] = (m.group(1), m.group(2), int(m.group(3) or 0))
            line = line[:m.start()] + f"{_MARK + n:#x}" + line[m.end():]
        lines.append(line)
    out = assemble("\n".join(lines))
    for slot, first in enumerate(out[:-1]):
        if first.code != 0x18:
            continue
        n = (((out[slot + 1].imm & 0xFFFFFFFF) << 32) | (first.imm & 0xFFFFFFFF)) - _MARK
        if n in refs:
            kind, name, off = refs[n]
            out[slot] = first.replace(src=1 if kind == "map" else 2, imm=fds[name])
            out[slot + 1] = out[slot + 1].replace(imm=off)
    return out


def load(prog: Prog, *, privileged: bool = True, log_level: int = 1,
         config: KernelConfig | None = None) -> Outcome:
    kernel = EmulatedKernel(config or KernelConfig(privileged=True))
    insns = build(prog, kernel)
    kernel.config.privileged = privileged
    attr = ProgLoadAttr(prog.prog_type, encode(insns), prog.license, log_level=log_level,
                        log_size=(1 << 24) if log_level else 0, expected_attach_type=prog.attach_type,
                        prog_flags=prog.flags, func_info=list(prog.func_info))
    try:
        res = kernel.prog_load(attr)
    except BpfError as e:
        return Outcome(False, e.errno_name, e.message, e.log)
    return Outcome(True, log=res.log, processed=res.verified_insns)
