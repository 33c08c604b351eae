"""BTF fix-ups before load: DATASEC sizes and variable offsets from the ELF, sorted."""

from __future__ import annotations

from harness.elf import btf_kinds as K
from harness.elf.object import BpfObject
from harness.libbpf.object import Object


def test_datasec_sizes_and_offsets_restored(build):
    path = str(build("loader_features.c"))
    elf = BpfObject.open(path)
    want = {name: elf.btf.datasec_vars(name) for name in (".bss", ".data.custom", ".rodata")}
    # what old compilers emitted: size 0 and offsets 0, in reverse order
    for name in want:
        t = elf.btf.type_by_id(elf.btf.find(name, K.DATASEC))
        t.size_type = 0
        t.members[:] = [v._replace(offset=0) for v in reversed(t.members)]
    obj = Object(elf, kernel=object(), kconfig={"CONFIG_HZ": "1", "CONFIG_BPF_SYSCALL": "y"})
    for name, vars_ in want.items():
        tid = obj.btf.find(name, K.DATASEC)
        assert obj.btf.type_by_id(tid).size_type == elf.section(name).size
        assert obj.btf.datasec_vars(name) == vars_
    # .kconfig gets the externs' layout (sorted by alignment, then size, then name)
    kc = obj.btf.datasec_vars(".kconfig")
    assert [n for _, n, _, _ in kc] == ["CONFIG_HZ", "CONFIG_MISSING", "LINUX_KERNEL_VERSION",
                                        "CONFIG_BPF_SYSCALL"]
    assert [o for _, _, o, _ in kc] == [0, 4, 8, 12]


def test_skeleton_int_keys(build):
    from harness.kernel.syscall import EmulatedKernel
    from harness.libbpf.skeleton import Skeleton
    skel = Skeleton.open(str(build("loader_features.c")), EmulatedKernel(nr_cpus=2),
                         kconfig={"CONFIG_HZ": "1", "CONFIG_BPF_SYSCALL": "y"}, obj_name="loader_features")
    skel.load()
    m = skel.maps.pcpu
    m.update(1, (7).to_bytes(4, "little"), all_cpus=True)
    m.update(1, (9).to_bytes(4, "little"), cpu=1)
    assert [int.from_bytes(m.lookup(1, cpu=c), "little") for c in range(2)] == [7, 9]
    assert [int.from_bytes(v, "little") for v in m.per_cpu_values((1).to_bytes(4, "little"))] == [7, 9]
    assert skel.data_custom.custom_val == 7
    skel.data_custom.custom_val = 8                  # live .data map after load
    assert int.from_bytes(skel.maps.data_custom.lookup(0), "little") == 8
    skel.destroy()
