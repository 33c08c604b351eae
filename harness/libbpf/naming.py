"""Names of maps: kernel-visible name, user-visible name, skeleton identifiers.

Three different names exist for one internal map (upstream-spec §4.4, §5.1):
- the kernel-visible name (`map->name`, at most BPF_OBJ_NAME_LEN-1 = 15 characters),
  built by libbpf's internal_map_name() from the object name and the section name;
- the user-visible name (`bpf_map__name()`): the kernel name, except for custom
  `.data.*` / `.rodata.*` maps and every per-CPU map, which show the full section name
  (truncation would otherwise make two names collide or lose meaning);
- the skeleton identifier bpftool derives (`percpu_data`, `data_percpu`, `bss`, ...).
"""

from __future__ import annotations

import enum
import os

from harness.uapi import BPF_OBJ_NAME_LEN, MapType


class LibbpfMapType(enum.IntEnum):
    """libbpf's enum libbpf_map_type (LIBBPF_MAP_PERCPU appended by f4e64cb6)."""
    UNSPEC = 0
    DATA = 1
    BSS = 2
    RODATA = 3
    KCONFIG = 4
    PERCPU = 5


DATA_SEC = ".data"
BSS_SEC = ".bss"
RODATA_SEC = ".rodata"
KCONFIG_SEC = ".kconfig"
KSYMS_SEC = ".ksyms"
PERCPU_SEC = ".percpu"
MAPS_SEC = ".maps"


def object_name(path: str) -> str:
    """libbpf's obj->name for an object opened from a file: the base name cut at its
    first dot ("test_global_percpu_data.bpf.o" -> "test_global_percpu_data")."""
    base = os.path.basename(path)
    return base.split(".", 1)[0]


def _sanitize_kernel(name: str) -> str:
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_." else "_" for c in name)


def internal_map_name(obj_name: str, real_name: str, kind: LibbpfMapType) -> str:
    """The kernel-visible name of an internal map (libbpf's internal_map_name()).

    The section name keeps at least 7 characters (so ".bss" still leaves room for an
    8-character object prefix); a name with a second dot (custom ".data.foo") or a per-CPU
    map gets no prefix; the whole is cut to 15 characters and sanitised.
    """
    limit = BPF_OBJ_NAME_LEN - 1
    sfx_len = min(max(7, len(real_name)), limit)
    if "." in real_name[1:] or kind == LibbpfMapType.PERCPU:
        pfx_len = 0
    else:
        pfx_len = min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = (obj_name[:pfx_len] + real_name[:sfx_len])[:limit]
    return _sanitize_kernel(name)


def map_uses_real_name(kind: LibbpfMapType, real_name: str) -> bool:
    """Whether bpf_map__name() shows the section name instead of the kernel name."""
    if kind == LibbpfMapType.DATA and real_name != DATA_SEC:
        return True
    if kind == LibbpfMapType.RODATA and real_name != RODATA_SEC:
        return True
    return kind == LibbpfMapType.PERCPU


def sanitize_identifier(name: str) -> str:
    """bpftool's sanitize_identifier(): anything but [A-Za-z0-9_] becomes '_'."""
    return "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_" for c in name)


# Order matters: bpftool tries these substrings one after another.
_INTERNAL_SUFFIXES = (".data", ".rodata", ".bss", ".kconfig")


def map_ident(user_name: str, internal: bool, map_type: int) -> str | None:
    """bpftool's get_map_ident(): the C identifier of a map in a skeleton, or None when
    an internal map has no recognisable section name."""
    if not internal:
        return user_name
    if map_type == MapType.PERCPU_ARRAY:
        return sanitize_identifier(user_name[1:])
    for sfx in _INTERNAL_SUFFIXES:
        pos = user_name.find(sfx)
        if pos >= 0:
            return sanitize_identifier(user_name[pos + 1:])
    return None


_DATASEC_PREFIXES = (".data", ".rodata", ".bss", ".percpu", ".kconfig")


def datasec_ident(sec_name: str) -> str | None:
    """bpftool's get_datasec_ident(): identifier of a DATASEC in skeleton types."""
    if sec_name == ".addr_space.1":
        return "arena"
    for pfx in _DATASEC_PREFIXES:
        if sec_name.startswith(pfx):
            return sanitize_identifier(sec_name[1:])
    return None


def section_kind(sec_name: str) -> LibbpfMapType | None:
    """Classification of a non-executable PROGBITS section (bpf_object__elf_collect, §4.2):
    .data(.*) first, then .rodata(.*), then .percpu(.*); anything else is skipped."""
    for base, kind in ((DATA_SEC, LibbpfMapType.DATA), (RODATA_SEC, LibbpfMapType.RODATA),
                       (PERCPU_SEC, LibbpfMapType.PERCPU)):
        if sec_name == base or sec_name.startswith(base + "."):
            return kind
    return None
