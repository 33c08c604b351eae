"""The upstream global percpu data selftest (upstream-spec §6.2), through harness.libbpf on
the emulated kernel: test_percpu_data_on_cpus and the `iter` subtest.
Needs a BPF toolchain (skipped with the reason otherwise)."""

from __future__ import annotations

import struct

import pytest

from harness.kernel import EmulatedKernel
from harness.uapi import BPF_F_CPU

SOURCE = r"""
#include <bpf/bpf_helpers.h>

struct seq_file;
struct bpf_iter_meta { struct seq_file *seq; __u64 session_id; __u64 seq_num; };
struct bpf_iter__bpf_map_elem { struct bpf_iter_meta *meta; void *map; void *key; void *value; };

int data SEC(".percpu") = -1;
int nums[7] SEC(".percpu");
int cpu_id[1] SEC(".percpu");
int run;
volatile const __u32 num_cpus = 0;
volatile const int num_off = 0;
volatile const int elem_sz = 0;
__u32 sum;
int run_iter;

SEC("raw_tp/task_rename")
int update_percpu_data(void *ctx)
{
	nums[6] = 0xc0de;
	data = 1;
	run++;
	cpu_id[0] = bpf_get_smp_processor_id();
	return 0;
}

SEC("iter/bpf_map_elem")
int dump_percpu_data(struct bpf_iter__bpf_map_elem *ctx)
{
	void *pptr = ctx->value;
	__u32 i;

	if (!pptr)
		return 0;
	run_iter = 1;
	for (i = 0; i < num_cpus && i < 64; i++) {
		sum += *(int *)(pptr + num_off);
		pptr += elem_sz;
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
"""



def _offsets(obj, datasec: str) -> dict[str, int]:
    """Variable offsets of a DATASEC, from the object's BTF (as the skeleton would know them)."""
    return {name: off for _, name, off, _ in obj.btf.datasec_vars(datasec)}


def _open(tmp_path, bpf_build, k):
    from harness.libbpf.object import Object
    src = tmp_path / "percpu_selftest.c"
    src.write_text(SOURCE)
    return Object.open(str(bpf_build(src)), k)


@pytest.mark.parametrize("ncpus", [2, 5])
def test_percpu_data_on_cpus(tmp_path, bpf_build, ncpus):
    k = EmulatedKernel(nr_cpus=ncpus)
    obj = _open(tmp_path, bpf_build, k)
    obj.find_program_by_name("dump_percpu_data").autoload = False
    obj.load()
    pmap = obj.find_map_by_name(".percpu")
    prog = obj.find_program_by_name("update_percpu_data")
    vs = pmap.value_size
    for cpu in range(ncpus):
        res = prog.test_run(ctx_in=struct.pack("<QQ", 0x1234, 0x5678), cpu=cpu)
        assert res.retval == 0
        value = k.map_lookup_elem(pmap.fd, bytes(4), (cpu << 32) | BPF_F_CPU)
        assert len(value) == vs
        off = _offsets(obj, ".percpu")
        assert struct.unpack_from("<i", value, off["cpu_id"])[0] == cpu
        assert struct.unpack_from("<i", value, off["data"])[0] == 1
        assert struct.unpack_from("<i", value, off["nums"] + 24)[0] == 0xC0DE
        bss = k.map_lookup_elem(obj.find_map_by_name(".bss").fd, bytes(4))
        assert struct.unpack_from("<i", bss, _offsets(obj, ".bss")["run"])[0] == cpu + 1


@pytest.mark.parametrize("ncpus", [1, 3, 8])
def test_iter_sums_initial_image_on_every_cpu(tmp_path, bpf_build, ncpus):
    k = EmulatedKernel(nr_cpus=ncpus)
    obj = _open(tmp_path, bpf_build, k)
    pmap = obj.find_map_by_name(".percpu")
    image = bytearray(pmap.initial_value())
    num_off = _offsets(obj, ".percpu")["nums"] + 6 * 4          # &nums[6]
    struct.pack_into("<i", image, num_off, 0xC0DE)
    pmap.set_initial_value(bytes(image))
    ro = obj.find_map_by_name(".rodata")
    rodata = bytearray(ro.initial_value())
    roff = _offsets(obj, ".rodata")
    for name, value in (("num_cpus", ncpus), ("num_off", num_off), ("elem_sz", (pmap.value_size + 7) // 8 * 8)):
        struct.pack_into("<i", rodata, roff[name], value)
    ro.set_initial_value(bytes(rodata))
    obj.find_program_by_name("update_percpu_data").autoload = False
    obj.load()
    obj.find_program_by_name("dump_percpu_data").run_iter(pmap.fd)
    bss = k.map_lookup_elem(obj.find_map_by_name(".bss").fd, bytes(4))
    boff = _offsets(obj, ".bss")
    assert struct.unpack_from("<i", bss, boff["run_iter"])[0] == 1
    assert struct.unpack_from("<I", bss, boff["sum"])[0] == 0xC0DE * ncpus


def _ro_percpu_map(k):
    from harness.kernelapi import MapCreateAttr
    from harness.uapi import BPF_F_ALL_CPUS, BPF_F_RDONLY_PROG, MapType
    fd = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY_PROG,
                                    map_name="percpu_ro_map"))
    k.map_update_elem(fd, bytes(4), (7).to_bytes(8, "little"), BPF_F_ALL_CPUS)
    k.map_freeze(fd)
    return fd


def test_rdonly_direct_read_and_write():
    """Subtests rdonly_direct_read / rdonly_direct_write of upstream-spec §6.2 (raw insns)."""
    from harness.isa import Insn, encode
    from harness.kernelapi import BpfError, ProgLoadAttr, TestRunAttr
    from harness.kernel.progcmds import _verifier
    from harness.uapi import BPF_PSEUDO_MAP_VALUE, ProgType
    k = EmulatedKernel(nr_cpus=3)
    fd = _ro_percpu_map(k)
    ld = [Insn(0x18, 1, BPF_PSEUDO_MAP_VALUE, 0, fd), Insn(0)]
    read = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode([*ld, Insn(0x79, 0, 1, 0, 0), Insn(0x95)]),
                                    prog_name="percpu_ro_prog")).fd
    assert k.prog_test_run(read, TestRunAttr(data_in=bytes(64))).retval == 7
    if _verifier() is None:
        pytest.skip("the verifier is not available: the write is not refused")
    write = [*ld, Insn(0x7A, 1, 0, 0, 0), Insn(0x79, 0, 1, 0, 0), Insn(0x95)]
    with pytest.raises(BpfError) as e:
        k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(write), log_level=1, log_size=256))
    assert "write into map forbidden" in e.value.log
