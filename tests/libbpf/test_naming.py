"""Map naming: upstream-spec §4.4 table (object test_global_percpu_data) and §5.1 idents."""

import pytest

from harness.libbpf.naming import (LibbpfMapType as T, datasec_ident, internal_map_name, map_ident,
                                   map_uses_real_name, section_kind)
from harness.uapi import MapType

OBJ = "test_global_percpu_data"

# section, libbpf type, map type, kernel name, bpf_map__name, bpftool ident
TABLE = [
    (".percpu", T.PERCPU, MapType.PERCPU_ARRAY, ".percpu", ".percpu", "percpu"),
    (".percpu.data", T.PERCPU, MapType.PERCPU_ARRAY, ".percpu.data", ".percpu.data", "percpu_data"),
    (".percpu.looooooooong", T.PERCPU, MapType.PERCPU_ARRAY, ".percpu.loooooo", ".percpu.looooooooong",
     "percpu_looooooooong"),
    (".percpu.fmt", T.PERCPU, MapType.PERCPU_ARRAY, ".percpu.fmt", ".percpu.fmt", "percpu_fmt"),
    (".data.percpu", T.DATA, MapType.ARRAY, ".data.percpu", ".data.percpu", "data_percpu"),
    (".data", T.DATA, MapType.ARRAY, "test_glo.data", "test_glo.data", "data"),
    (".bss", T.BSS, MapType.ARRAY, "test_glo.bss", "test_glo.bss", "bss"),
    (".rodata", T.RODATA, MapType.ARRAY, "test_glo.rodata", "test_glo.rodata", "rodata"),
    (".kconfig", T.KCONFIG, MapType.ARRAY, "test_gl.kconfig", "test_gl.kconfig", "kconfig"),
    (".rodata.str1.1", T.RODATA, MapType.ARRAY, ".rodata.str1.1", ".rodata.str1.1", "rodata_str1_1"),
]


@pytest.mark.parametrize("sec,kind,mtype,kname,uname,ident", TABLE)
def test_internal_map_names(sec, kind, mtype, kname, uname, ident):
    name = internal_map_name(OBJ, sec, kind)
    assert name == kname
    assert len(name) <= 15
    user = sec if map_uses_real_name(kind, sec) else name
    assert user == uname
    assert map_ident(user, True, mtype) == ident


def test_short_object_name_and_sanitising():
    assert internal_map_name("gp", ".bss", T.BSS) == "gp.bss"
    assert internal_map_name("a-b", ".data", T.DATA) == "a_b.data"


def test_user_maps_keep_their_name():
    assert map_ident("my_map", False, MapType.HASH) == "my_map"


@pytest.mark.parametrize("sec,kind", [
    (".data", T.DATA), (".data.percpu", T.DATA), (".rodata.x", T.RODATA), (".percpu", T.PERCPU),
    (".percpu.data", T.PERCPU), (".percpuX", None), (".bss", None), ("license", None),
])
def test_section_classification_order(sec, kind):
    assert section_kind(sec) == kind


@pytest.mark.parametrize("sec,ident", [(".percpu.fmt", "percpu_fmt"), (".data.x", "data_x"),
                                       (".kconfig", "kconfig"), (".addr_space.1", "arena"), (".foo", None)])
def test_datasec_ident(sec, ident):
    assert datasec_ident(sec) == ident
