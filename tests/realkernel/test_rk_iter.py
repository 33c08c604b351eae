"""A bpf_iter over an array map: link_create with bpf_iter_link_info.map.map_fd,
iter_create, read(2) to the end."""

import struct

import pytest

from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.realkernel.availability import probe
from harness.realkernel.layouts import vmlinux_btf
from harness.uapi import AttachType, MapType, ProgType
from rk_insns import BPF_FUNC_seq_write, EXIT, call, jeq_imm, ldx, mov_imm, mov_reg, prog

AVAILABLE = probe()
pytestmark = pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")

# struct bpf_iter__bpf_map_elem { meta @0, map @8, key @16, value @24 }:
# if (key && value) { bpf_seq_write(meta->seq, key, 4); bpf_seq_write(meta->seq, value, 8); }
DUMP_KEY_VALUE = prog(
    ldx(8, 6, 1, 0), ldx(8, 7, 1, 16), ldx(8, 8, 1, 24),
    jeq_imm(7, 0, 9), jeq_imm(8, 0, 8),
    ldx(8, 1, 6, 0), mov_reg(2, 7), mov_imm(3, 4), call(BPF_FUNC_seq_write),
    ldx(8, 1, 6, 0), mov_reg(2, 8), mov_imm(3, 8), call(BPF_FUNC_seq_write),
    mov_imm(0, 0), EXIT)


@pytest.fixture
def iter_prog(kernel):
    btf, why = vmlinux_btf()
    if btf is None:
        pytest.skip(f"map iterators need the kernel's BTF: {why}")
    target = btf.find("bpf_iter_bpf_map_elem", "FUNC")
    if target is None:
        pytest.skip("kernel BTF has no bpf_iter_bpf_map_elem (no map iterator)")
    try:
        return kernel.prog_load(ProgLoadAttr(ProgType.TRACING, DUMP_KEY_VALUE, expected_attach_type=AttachType.TRACE_ITER,
                                             attach_btf_id=target, log_level=1)).fd
    except BpfError as exc:
        pytest.skip(f"iterator program not loadable here: {exc}")


def test_array_map_iterator(kernel, iter_prog):
    fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 3))
    for k in range(3):
        kernel.map_update_elem(fd, struct.pack("<I", k), struct.pack("<Q", 1000 + k))
    link = kernel.link_create(iter_prog, 0, AttachType.TRACE_ITER, iter_map_fd=fd)
    out = kernel.iter_read(kernel.iter_create(link))
    assert [struct.unpack_from("<IQ", out, 12 * i) for i in range(len(out) // 12)] == \
        [(0, 1000), (1, 1001), (2, 1002)]
    # a second iterator from the same link starts again at the beginning
    assert kernel.iter_read(kernel.iter_create(link)) == out


def test_iterator_reading_past_value_size_is_refused(kernel, iter_prog):
    """The program writes 8 bytes of value; a 4-byte-value map fails at link_create (EACCES)."""
    fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 4, 1))
    with pytest.raises(BpfError) as exc:
        kernel.link_create(iter_prog, 0, AttachType.TRACE_ITER, iter_map_fd=fd)
    assert exc.value.errno_name == "EACCES"
