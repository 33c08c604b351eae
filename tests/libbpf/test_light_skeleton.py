"""Light skeletons (`gen skeleton -L`): header structure, gcc syntax check, and the
generated loader program run on the running kernel.  The same loader on the emulated
kernel (bpf_sys_bpf, `.percpu` data per CPU) is in test_light_skeleton_emulated.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.cli import main
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError
from harness.kernelapi import TestRunAttr as RunAttr
from harness.libbpf.gen_loader import build_loader, run_loader
from harness.libbpf.object import Object
from libbpf_support import DATA

USER_C = """#include "lskel.h"
int main(void)
{
	struct test_global_percpu_data *s = test_global_percpu_data__open();
	if (!s)
		return 1;
	s->percpu->struct_data.nums[6] = 0xc0de;
	if (test_global_percpu_data__load(s))
		return 2;
	int r = s->bss->run + s->maps.percpu.map_fd + s->progs.update_percpu_data.prog_fd;
	test_global_percpu_data__destroy(s);
	return r;
}
"""


@pytest.fixture
def lskel(build, tmp_path):
    out = tmp_path / "lskel.h"
    assert main(["gen", "skeleton", str(build("test_global_percpu_data.c")), "test_global_percpu_data",
                 "-L", "-o", str(out)]) == 0
    return out


def test_structure(lskel):
    text = lskel.read_text()
    assert "#include <bpf/skel_internal.h>" in text
    assert "\t\tstruct bpf_map_desc percpu;" in text and "\t\tstruct bpf_prog_desc update_percpu_data;" in text
    assert "skel->percpu = skel_prep_map_data((void *)data, 4096," in text
    assert "skel->maps.percpu.initial_value = (__u64) (long) skel->percpu;" in text
    assert ("err = skel_protect_map_data(skel->percpu, &skel->maps.percpu.initial_value, 4096);\n"
            "\tif (err)\n\t\treturn err;\n#ifdef __KERNEL__\n\tskel->percpu = NULL;\n#endif") in text
    assert "skel->bss = skel_finalize_map_data(&skel->maps.bss.initial_value, 4096," in text
    assert "skel_free_map_data(skel->percpu, skel->maps.percpu.initial_value, 4096);" in text
    assert 'skel_raw_tracepoint_open("task_rename", prog_fd)' in text


def test_compiles_with_gcc(lskel, tmp_path):
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no host C compiler (gcc) for -fsyntax-only")
    (tmp_path / "user.c").write_text(USER_C)
    res = subprocess.run([gcc, "-fsyntax-only", "-Wall", "-Werror", "-I", str(DATA / "skel_include"),
                          "-I", str(tmp_path), str(tmp_path / "user.c")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_loader_updates_percpu_with_all_cpus(build):
    """The loader's MAP_UPDATE_ELEM for .percpu carries BPF_F_ALL_CPUS (16) in its attr."""
    from harness.libbpf.gen_loader import AttrMapElem
    obj = Object.open(str(build("test_global_percpu_data.c")), EmulatedKernel())
    loader = build_loader(obj)
    attrs = [AttrMapElem.unpack_from(loader.data, off) for off in range(0, len(loader.data) - 31, 8)]
    assert any(a.flags == 16 and a.pad == 0 and a.map_fd == 0 for a in attrs)
    assert loader.map_names[0] == ".percpu" and "update_percpu_data" in loader.prog_names


def test_map_in_map_refused(build):
    obj = Object.open(str(build("loader_features.c")), EmulatedKernel(),
                      kconfig={"CONFIG_HZ": "1", "CONFIG_BPF_SYSCALL": "y"})
    with pytest.raises(BpfError, match="map-in-map is not supported"):
        build_loader(obj)


@pytest.fixture
def real_kernel():
    from harness.realkernel import RealKernel, probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    return RealKernel()


def test_loader_runs_on_running_kernel(real_kernel, build):
    obj = Object.open(str(build("prog_array.c")), real_kernel, obj_name="prog_array")
    loader = build_loader(obj)
    maps, progs = run_loader(real_kernel, loader)
    try:
        assert all(fd > 0 for fd in maps + progs)
        entry = progs[loader.prog_names.index("entry")]
        assert real_kernel.prog_test_run(entry, RunAttr(data_in=bytes(64))).retval == 42   # tail call
        data = maps[loader.map_names.index("prog_arr.data")]
        assert int.from_bytes(real_kernel.map_lookup_elem(data, bytes(4)), "little") == 6
    finally:
        for fd in maps + progs:
            real_kernel.close(fd)


def test_percpu_lskel_on_running_kernel(real_kernel, build):
    obj = Object.open(str(build("test_global_percpu_data.c")), real_kernel)
    loader = build_loader(obj)
    from harness.libbpf.features import kernel_supports
    if kernel_supports(real_kernel, "percpu_data"):
        maps, progs = run_loader(real_kernel, loader)
        assert all(fd > 0 for fd in maps + progs)
    else:
        # libbpf's lskel has no feature probing either: the kernel refuses inside the loader
        with pytest.raises(BpfError) as ei:
            run_loader(real_kernel, loader)
        assert ei.value.errno == 22


def test_loader_takes_initial_value_from_user_memory(real_kernel, build):
    """skel->maps.X.initial_value points at the skeleton's image; the loader copies it
    with bpf_copy_from_user before MAP_UPDATE_ELEM (what makes `skel->data->x = v`
    before load work in a light skeleton)."""
    import ctypes
    obj = Object.open(str(build("prog_array.c")), real_kernel, obj_name="prog_array")
    loader = build_loader(obj)
    idx = loader.map_names.index("prog_arr.data")
    image = ctypes.create_string_buffer((100).to_bytes(4, "little"), 4)
    maps, progs = run_loader(real_kernel, loader, {idx: ctypes.addressof(image)})
    try:
        entry = progs[loader.prog_names.index("entry")]
        real_kernel.prog_test_run(entry, RunAttr(data_in=bytes(64)))
        assert int.from_bytes(real_kernel.map_lookup_elem(maps[idx], bytes(4)), "little") == 101
    finally:
        for fd in maps + progs:
            real_kernel.close(fd)
