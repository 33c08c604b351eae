"""BPF_BTF_LOAD: the kernel's BTF object.

A loaded blob is parsed with harness.elf.btf (the one BTF model of the project) and
kept as `BtfObject.btf`, so map creation can check key/value types and find a value's
bpf_spin_lock, and program load can read func_info types.  The kernel rejects kinds it
does not know; which kinds this emulated kernel knows is a configuration matter
(KernelConfig.features), so loading BTF with, say, a DECL_TAG into a kernel configured
without "btf_decl_tag" fails with EINVAL like an older kernel would.  The log text is
the kernel's ("[<id>] Invalid kind:<n>").
"""

from __future__ import annotations

import errno
import struct

from harness.kernelapi import BpfError

BTF_MAX_SIZE = 16 * 1024 * 1024      # BTF_MAX_SIZE in kernel/bpf/btf.c
_HEADER = struct.Struct("<HBBIIIII")

try:  # the parser is another area's module; without it only the header is checked
    from harness.elf import btf_kinds as K
    from harness.elf.btf import Btf
    from harness.errors import FormatError
except ImportError:  # pragma: no cover - only while the parser is being written
    Btf = None

#: BTF kind -> the config feature whose absence makes the kind unknown to the kernel
KIND_FEATURE = {} if Btf is None else {
    K.FUNC: "btf_func", K.FUNC_PROTO: "btf_func",
    K.VAR: "btf_datasec", K.DATASEC: "btf_datasec",
    K.FLOAT: "btf_float", K.DECL_TAG: "btf_decl_tag",
    K.TYPE_TAG: "btf_type_tag", K.ENUM64: "btf_enum64",
}


class BtfObject:
    """A loaded BTF: the raw blob, the parsed model (or None) and its BTF object id."""

    def __init__(self, data: bytes, btf, btf_id: int):
        self.data = bytes(data)
        self.btf = btf
        self.id = btf_id

    def __repr__(self) -> str:
        return f"<BtfObject id={self.id} {len(self.data)} bytes>"


def _check_header(data: bytes) -> None:
    """The checks btf_parse_hdr() makes, for when no parser is available."""
    if len(data) < _HEADER.size:
        raise BpfError(errno.EINVAL, "btf_header not found")
    magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
    if magic != 0xEB9F:
        raise BpfError(errno.EINVAL, "Invalid magic")
    if version != 1:
        raise BpfError(errno.EINVAL, "Unsupported version")
    if flags:
        raise BpfError(errno.EINVAL, "Unsupported flags")
    if hdr_len < _HEADER.size or hdr_len > len(data):
        raise BpfError(errno.EINVAL, "Unsupported btf_header")
    body = len(data) - hdr_len
    if type_off + type_len > body or str_off + str_len > body or str_len == 0:
        raise BpfError(errno.EINVAL, "Invalid section offset/length")


def parse_btf(data: bytes, config):
    """Parse `data` as the kernel would accept it; BpfError(EINVAL) on anything it rejects."""
    if len(data) > BTF_MAX_SIZE:
        raise BpfError(errno.E2BIG, f"BTF of {len(data)} bytes exceeds {BTF_MAX_SIZE}")
    _check_header(data)
    if Btf is None:
        return None
    try:
        btf = Btf.parse(data, where="BTF_LOAD")
    except FormatError as e:
        raise BpfError(errno.EINVAL, str(e), log=str(e)) from None
    for tid, t in enumerate(btf.types[1:], start=1):
        feature = KIND_FEATURE.get(t.kind)
        if feature is not None and not config.has(feature):
            line = f"[{tid}] Invalid kind:{t.kind}"
            raise BpfError(errno.EINVAL, line, log=line)
        if t.kind == K.DECL_TAG:
            problem = _decl_tag_problem(btf, t)
            if problem:
                line = f"[{tid}] DECL_TAG {btf.name_of(t)} {problem}"
                raise BpfError(errno.EINVAL, line, log=line)
    return btf


def _decl_tag_problem(btf, tag) -> str | None:
    """btf_decl_tag_resolve: a tag names a struct/union/var/func/typedef and, with a
    component index, one of its members or parameters."""
    target = btf.types[tag.type]
    if target.kind not in (K.STRUCT, K.UNION, K.VAR, K.FUNC, K.TYPEDEF):
        return "Invalid next_type"
    idx = tag.component_idx
    if idx == -1:
        return None
    if target.kind in (K.STRUCT, K.UNION):
        count = len(target.members)
    elif target.kind == K.FUNC:
        count = len(btf.types[target.type].members)
    else:
        count = 0
    return None if 0 <= idx < count else "Invalid component_idx"


class BtfCommands:
    """The BPF_BTF_LOAD command of the emulated kernel (mixed into EmulatedKernel)."""

    def btf_load(self, data: bytes, log_level: int = 0, log_size: int = 0) -> int:
        btf = parse_btf(bytes(data), self.config)
        return self.fds.install(BtfObject(data, btf, self.fds.new_id()))
