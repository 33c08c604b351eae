"""ctypes layouts of the bpf(2) records the real-kernel backend passes (x86_64).

One class per record, fields named exactly as in include/uapi/linux/bpf.h so that
`check_layouts()` (harness.realkernel.layouts) can compare them member by member with the
running kernel's own BTF.  `union bpf_attr` (168 bytes) is never declared as a whole: each
command gets the struct of its union member, and bpf(2) is called with that struct's size
(the kernel zero-fills the rest, see running-kernel.md "Attr size rules").

Pointers are `__aligned_u64` in the UAPI, so they are `c_uint64` here and hold
`ctypes.addressof(buffer)`.  Anonymous unions use ctypes `_anonymous_`, so a union member
reads like a plain field (`attr.value` / `attr.next_key`).

LAYOUTS at the bottom says where in the kernel's BTF each class lives; it is data for the
layout check, not used at run time.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint32, c_uint64

u32 = c_uint32
s32 = c_int32
u64 = c_uint64


class AttrMapCreate(ctypes.Structure):
    """BPF_MAP_CREATE (96 bytes on 6.18)."""
    _fields_ = [
        ("map_type", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32),
        ("map_flags", u32), ("inner_map_fd", u32), ("numa_node", u32),
        ("map_name", c_char * 16), ("map_ifindex", u32), ("btf_fd", u32),
        ("btf_key_type_id", u32), ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32), ("map_extra", u64),
        ("value_type_btf_obj_fd", s32), ("map_token_fd", s32),
        ("excl_prog_hash", u64), ("excl_prog_hash_size", u32),
    ]


class _ValueOrNextKey(ctypes.Union):
    _fields_ = [("value", u64), ("next_key", u64)]


class AttrMapElem(ctypes.Structure):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM, FREEZE (32 bytes)."""
    _anonymous_ = ("_u",)
    _fields_ = [("map_fd", u32), ("key", u64), ("_u", _ValueOrNextKey), ("flags", u64)]


class AttrMapBatch(ctypes.Structure):
    """BPF_MAP_*_BATCH: `attr.batch` (56 bytes).  `elem_flags` carries BPF_F_CPU & co."""
    _fields_ = [
        ("in_batch", u64), ("out_batch", u64), ("keys", u64), ("values", u64),
        ("count", u32), ("map_fd", u32), ("elem_flags", u64), ("flags", u64),
    ]


class _AttachProgOrBtfObj(ctypes.Union):
    _fields_ = [("attach_prog_fd", u32), ("attach_btf_obj_fd", u32)]


class AttrProgLoad(ctypes.Structure):
    """BPF_PROG_LOAD (168 bytes: it is the largest member, the size of the whole union)."""
    _anonymous_ = ("_u",)
    _fields_ = [
        ("prog_type", u32), ("insn_cnt", u32), ("insns", u64), ("license", u64),
        ("log_level", u32), ("log_size", u32), ("log_buf", u64),
        ("kern_version", u32), ("prog_flags", u32), ("prog_name", c_char * 16),
        ("prog_ifindex", u32), ("expected_attach_type", u32), ("prog_btf_fd", u32),
        ("func_info_rec_size", u32), ("func_info", u64), ("func_info_cnt", u32),
        ("line_info_rec_size", u32), ("line_info", u64), ("line_info_cnt", u32),
        ("attach_btf_id", u32), ("_u", _AttachProgOrBtfObj), ("core_relo_cnt", u32),
        ("fd_array", u64), ("core_relos", u64), ("core_relo_rec_size", u32),
        ("log_true_size", u32), ("prog_token_fd", s32), ("fd_array_cnt", u32),
        ("signature", u64), ("signature_size", u32), ("keyring_id", s32),
    ]


class AttrTestRun(ctypes.Structure):
    """BPF_PROG_TEST_RUN: `attr.test` (80 bytes)."""
    _fields_ = [
        ("prog_fd", u32), ("retval", u32), ("data_size_in", u32), ("data_size_out", u32),
        ("data_in", u64), ("data_out", u64), ("repeat", u32), ("duration", u32),
        ("ctx_size_in", u32), ("ctx_size_out", u32), ("ctx_in", u64), ("ctx_out", u64),
        ("flags", u32), ("cpu", u32), ("batch_size", u32),
    ]


class AttrBtfLoad(ctypes.Structure):
    """BPF_BTF_LOAD (40 bytes)."""
    _fields_ = [
        ("btf", u64), ("btf_log_buf", u64), ("btf_size", u32), ("btf_log_size", u32),
        ("btf_log_level", u32), ("btf_log_true_size", u32), ("btf_flags", u32),
        ("btf_token_fd", s32),
    ]


class AttrInfo(ctypes.Structure):
    """BPF_OBJ_GET_INFO_BY_FD: `attr.info` (16 bytes).  The kernel accepts a short info_len."""
    _fields_ = [("bpf_fd", u32), ("info_len", u32), ("info", u64)]


class _ProgOrMapFd(ctypes.Union):
    _fields_ = [("prog_fd", u32), ("map_fd", u32)]


class _TargetFdOrIfindex(ctypes.Union):
    _fields_ = [("target_fd", u32), ("target_ifindex", u32)]


class _IterInfo(ctypes.Structure):
    _fields_ = [("iter_info", u64), ("iter_info_len", u32)]


class _LinkCreateTail(ctypes.Union):
    """The per-link-type tail of link_create; only what the harness uses is declared, padded
    to the kernel's 48 bytes so the struct size matches."""
    _anonymous_ = ("_iter",)
    _fields_ = [("target_btf_id", u32), ("_iter", _IterInfo), ("_pad", u64 * 6)]


class AttrLinkCreate(ctypes.Structure):
    """BPF_LINK_CREATE: `attr.link_create` (64 bytes)."""
    _anonymous_ = ("_prog", "_target", "_tail")
    _fields_ = [
        ("_prog", _ProgOrMapFd), ("_target", _TargetFdOrIfindex),
        ("attach_type", u32), ("flags", u32), ("_tail", _LinkCreateTail),
    ]


class AttrIterCreate(ctypes.Structure):
    """BPF_ITER_CREATE: `attr.iter_create` (8 bytes)."""
    _fields_ = [("link_fd", u32), ("flags", u32)]


class AttrRawTracepoint(ctypes.Structure):
    """BPF_RAW_TRACEPOINT_OPEN: `attr.raw_tracepoint` (24 bytes)."""
    _fields_ = [("name", u64), ("prog_fd", u32), ("cookie", u64)]


class BpfMapInfo(ctypes.Structure):
    """struct bpf_map_info (104 bytes on 6.18; older kernels fill a prefix)."""
    _fields_ = [
        ("type", u32), ("id", u32), ("key_size", u32), ("value_size", u32),
        ("max_entries", u32), ("map_flags", u32), ("name", c_char * 16), ("ifindex", u32),
        ("btf_vmlinux_value_type_id", u32), ("netns_dev", u64), ("netns_ino", u64),
        ("btf_id", u32), ("btf_key_type_id", u32), ("btf_value_type_id", u32),
        ("btf_vmlinux_id", u32), ("map_extra", u64), ("hash", u64), ("hash_size", u32),
    ]


class BpfProgInfo(ctypes.Structure):
    """struct bpf_prog_info (232 bytes on 6.18).  `gpl_compatible` is a 1-bit field."""
    _fields_ = [
        ("type", u32), ("id", u32), ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", u32), ("xlated_prog_len", u32),
        ("jited_prog_insns", u64), ("xlated_prog_insns", u64), ("load_time", u64),
        ("created_by_uid", u32), ("nr_map_ids", u32), ("map_ids", u64),
        ("name", c_char * 16), ("ifindex", u32), ("gpl_compatible", u32, 1),
        ("netns_dev", u64), ("netns_ino", u64),
        ("nr_jited_ksyms", u32), ("nr_jited_func_lens", u32),
        ("jited_ksyms", u64), ("jited_func_lens", u64),
        ("btf_id", u32), ("func_info_rec_size", u32), ("func_info", u64),
        ("nr_func_info", u32), ("nr_line_info", u32), ("line_info", u64),
        ("jited_line_info", u64), ("nr_jited_line_info", u32), ("line_info_rec_size", u32),
        ("jited_line_info_rec_size", u32), ("nr_prog_tags", u32), ("prog_tags", u64),
        ("run_time_ns", u64), ("run_cnt", u64), ("recursion_misses", u64),
        ("verified_insns", u32), ("attach_btf_obj_id", u32), ("attach_btf_id", u32),
    ]


class BpfFuncInfo(ctypes.Structure):
    """struct bpf_func_info: insn_off is an instruction index in the syscall (bytes in .BTF.ext)."""
    _fields_ = [("insn_off", u32), ("type_id", u32)]


class BpfLineInfo(ctypes.Structure):
    """struct bpf_line_info."""
    _fields_ = [("insn_off", u32), ("file_name_off", u32), ("line_off", u32), ("line_col", u32)]


class _IterMap(ctypes.Structure):
    _fields_ = [("map_fd", u32)]


class BpfIterLinkInfo(ctypes.Union):
    """union bpf_iter_link_info (16 bytes); only the `map` arm is used, `_pad` sizes it."""
    _fields_ = [("map", _IterMap), ("_pad", u64 * 2)]


#: Where each layout lives in the kernel's BTF: (kind, type name, member of it or None).
#: A member given as "=first_field" names the anonymous member whose first field is that.
LAYOUTS: dict[type, tuple[str, str, str | None]] = {
    AttrMapCreate: ("union", "bpf_attr", "=map_type"),
    AttrMapElem: ("union", "bpf_attr", "=map_fd"),
    AttrMapBatch: ("union", "bpf_attr", "batch"),
    AttrProgLoad: ("union", "bpf_attr", "=prog_type"),
    AttrTestRun: ("union", "bpf_attr", "test"),
    AttrBtfLoad: ("union", "bpf_attr", "=btf"),
    AttrInfo: ("union", "bpf_attr", "info"),
    AttrLinkCreate: ("union", "bpf_attr", "link_create"),
    AttrIterCreate: ("union", "bpf_attr", "iter_create"),
    AttrRawTracepoint: ("union", "bpf_attr", "raw_tracepoint"),
    BpfMapInfo: ("struct", "bpf_map_info", None),
    BpfProgInfo: ("struct", "bpf_prog_info", None),
    BpfFuncInfo: ("struct", "bpf_func_info", None),
    BpfLineInfo: ("struct", "bpf_line_info", None),
    BpfIterLinkInfo: ("union", "bpf_iter_link_info", None),
}

#: The size of union bpf_attr on the kernels the layouts were written for.
BPF_ATTR_SIZE = 168


def flat_fields(cls, base: int = 0, prefix: str = "") -> dict[str, tuple[int, int]]:
    """{dotted kernel name: (offset, size)} for a layout, anonymous members flattened and
    private padding (names starting with '_' that are not anonymous) left out.  Bitfields
    report the size of their storage unit."""
    out: dict[str, tuple[int, int]] = {}
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for spec in cls._fields_:
        name, ctype = spec[0], spec[1]
        desc = getattr(cls, name)
        off = base + desc.offset
        if name in anonymous:
            out.update(flat_fields(ctype, off, prefix))
        elif name.startswith("_"):
            continue
        elif isinstance(ctype, type) and issubclass(ctype, (ctypes.Structure, ctypes.Union)):
            out.update(flat_fields(ctype, off, f"{prefix}{name}."))
        else:
            out[prefix + name] = (off, ctypes.sizeof(ctype))
    return out
