"""BPF_BTF_LOAD and programs carrying func_info / line_info."""

import errno

import pytest

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf, Type
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.realkernel.availability import probe
from harness.uapi import ProgType
from rk_insns import R0_42

AVAILABLE = probe()
pytestmark = pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")


@pytest.fixture
def prog_btf():
    """int main(void), plus the strings a line_info record points at."""
    btf = Btf()
    int_id = btf.add_int("int", 4, 1)
    proto = btf.add_type(Type(K.FUNC_PROTO, 0, int_id))
    func = btf.add_type(Type(K.FUNC, btf.add_string("main"), proto))
    return btf, {"int": int_id, "main": func, "file": btf.add_string("f.c"),
                 "line": btf.add_string("return 42;")}


@pytest.mark.parametrize("log_level", [0, 1])
def test_bad_magic(kernel, log_level):
    with pytest.raises(BpfError) as exc:
        kernel.btf_load(bytes(40), log_level=log_level)
    assert (exc.value.errno, exc.value.message) == (errno.EINVAL, "Invalid magic")
    assert "btf_total_size: 40" in exc.value.log


def test_func_and_line_info(kernel, prog_btf):
    btf, ids = prog_btf
    btf_fd = kernel.btf_load(btf.encode(), log_level=1)
    res = kernel.prog_load(ProgLoadAttr(
        ProgType.SOCKET_FILTER, R0_42, log_level=2, prog_btf_fd=btf_fd, func_info=[(0, ids["main"])],
        line_info=[(0, ids["file"], ids["line"], (3 << 10) | 5)]))
    assert "func#0 @0" in res.log and "; return 42; @ f.c:3" in res.log


def test_func_info_pointing_at_a_non_func(kernel, prog_btf):
    btf, ids = prog_btf
    btf_fd = kernel.btf_load(btf.encode())
    with pytest.raises(BpfError) as exc:
        kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_42, prog_btf_fd=btf_fd,
                                      func_info=[(0, ids["int"])]))
    assert (exc.value.errno, exc.value.message) == (errno.EINVAL, f"invalid type id {ids['int']} in func info")
