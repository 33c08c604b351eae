"""union bpf_attr as the emulated kernel reads it from program memory (bpf_sys_bpf).

A BPF_PROG_TYPE_SYSCALL program hands bpf_sys_bpf a pointer to a `union bpf_attr` in its
own memory (upstream-spec §4.9: the light skeleton's loader keeps them in its blob), so
the emulated kernel must decode the raw bytes the way __sys_bpf does.  This module holds
those decoders, one declarative record per union member, field names as in
include/uapi/linux/bpf.h (x86_64, 6.18).

Why a separate copy of the layouts: the kernel side may not import user space
(harness/libbpf/gen_loader.py encodes the same members) nor harness.realkernel (ctypes
for bpf(2)).  tests/libbpf/test_light_skeleton_emulated.py checks every field here
against realkernel's layouts (themselves checked against the running kernel's BTF), so
the copies cannot drift.

Records are little-endian with explicit padding (`pad*` fields); an anonymous union is
declared by its first member (`value` also means `next_key`, `attach_prog_fd` also means
`attach_btf_obj_fd`).
"""

from __future__ import annotations

import errno

from harness.elf.layout import record
from harness.uapi import Cmd

#: sizeof(union bpf_attr) on 6.18 (BPF_PROG_LOAD is the largest member).
BPF_ATTR_SIZE = 168
#: bpf_check_uarg_tail_zero() refuses anything larger as "silly large".
PAGE_SIZE = 4096

MapCreate = record(
    "bpf_attr_map_create",
    "map_type:I key_size:I value_size:I max_entries:I map_flags:I inner_map_fd:I numa_node:I "
    "map_name:16s map_ifindex:I btf_fd:I btf_key_type_id:I btf_value_type_id:I "
    "btf_vmlinux_value_type_id:I map_extra:Q value_type_btf_obj_fd:i map_token_fd:i "
    "excl_prog_hash:Q excl_prog_hash_size:I pad1:I")
MapElem = record("bpf_attr_map_elem", "map_fd:I pad0:I key:Q value:Q flags:Q")
ProgLoad = record(
    "bpf_attr_prog_load",
    "prog_type:I insn_cnt:I insns:Q license:Q log_level:I log_size:I log_buf:Q "
    "kern_version:I prog_flags:I prog_name:16s prog_ifindex:I expected_attach_type:I "
    "prog_btf_fd:I func_info_rec_size:I func_info:Q func_info_cnt:I line_info_rec_size:I "
    "line_info:Q line_info_cnt:I attach_btf_id:I attach_prog_fd:I core_relo_cnt:I "
    "fd_array:Q core_relos:Q core_relo_rec_size:I log_true_size:I prog_token_fd:i "
    "fd_array_cnt:I signature:Q signature_size:I keyring_id:i")
BtfLoad = record(
    "bpf_attr_btf_load",
    "btf:Q btf_log_buf:Q btf_size:I btf_log_size:I btf_log_level:I btf_log_true_size:I "
    "btf_flags:I btf_token_fd:i")
#: BPF_*_GET_FD_BY_ID: the id (start_id / prog_id / map_id / btf_id / link_id union) first.
GetFdById = record("bpf_attr_get_fd_by_id", "map_id:I next_id:I open_flags:I")
#: link_create: the common head plus the iterator arm of its per-link-type union.
LinkCreate = record(
    "bpf_attr_link_create",
    "prog_fd:I target_fd:I attach_type:I flags:I iter_info:Q iter_info_len:I rest:36s")
#: union bpf_iter_link_info, its `map` arm.
IterLinkInfo = record("bpf_iter_link_info", "map_fd:I")

#: command -> (record, offsetofend of the command's LAST_FIELD).  CHECK_ATTR() wants every
#: byte of the union after that offset to be zero.
COMMANDS: dict[int, tuple[type, int]] = {
    Cmd.MAP_CREATE: (MapCreate, 92),              # excl_prog_hash_size
    Cmd.MAP_UPDATE_ELEM: (MapElem, 32),           # flags
    Cmd.MAP_DELETE_ELEM: (MapElem, 16),           # key
    Cmd.MAP_FREEZE: (MapElem, 4),                 # map_fd
    Cmd.MAP_GET_FD_BY_ID: (GetFdById, 12),        # open_flags
    Cmd.PROG_LOAD: (ProgLoad, BPF_ATTR_SIZE),     # keyring_id
    Cmd.BTF_LOAD: (BtfLoad, 40),                  # btf_token_fd
    Cmd.LINK_CREATE: (LinkCreate, 64),            # the end of the per-link-type union
}

#: offsetofend(union bpf_attr, log_true_size): a PROG_LOAD attr at least this large gets
#: the log's true size written back.
LOG_TRUE_SIZE_END = 144
LOG_TRUE_SIZE_OFF = 140


def copy_attr(raw: bytes, size: int) -> bytes | int:
    """__sys_bpf's prologue for an attr of `size` bytes (`raw` holds them): the union with
    the caller's bytes and zeros after them, or a positive errno (E2BIG: larger than a page,
    or non-zero bytes past the kernel's union)."""
    if size > PAGE_SIZE:
        return errno.E2BIG
    if size > BPF_ATTR_SIZE and any(raw[BPF_ATTR_SIZE:size]):
        return errno.E2BIG
    return bytes(raw[:min(size, BPF_ATTR_SIZE)]).ljust(BPF_ATTR_SIZE, b"\0")


def decode(cmd: int, attr: bytes):
    """The command's record from a full-size union, or EINVAL when CHECK_ATTR fails."""
    rec, end = COMMANDS[cmd]
    if any(attr[end:]):
        return errno.EINVAL
    return rec.unpack_from(attr.ljust(rec.SIZE, b"\0"))


def obj_name(raw: bytes) -> str:
    """The 16-byte name field up to its NUL.  Without a NUL all 16 characters are kept, so
    the command's own bpf_obj_name_cpy() check refuses it with EINVAL, as the kernel does."""
    return raw.split(b"\0", 1)[0].decode("latin-1")
