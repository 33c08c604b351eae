"""C skeleton headers: bpftool's structure, compiled with gcc -fsyntax-only against our
declaration header (tests/libbpf/data/skel_include/bpf/libbpf.h)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.cli import main
from libbpf_support import DATA

USER_C = """#include "skel.h"
int main(void)
{
	struct test_global_percpu_data *s = test_global_percpu_data__open();
	if (!s)
		return 1;
	s->percpu->struct_data.nums[6] = 0xc0de;
	s->rodata->num_cpus = 4;
	if (test_global_percpu_data__load(s))
		return 2;
	test_global_percpu_data__destroy(s);
	return s->bss->run + s->percpu_data->data2;
}
"""


@pytest.fixture
def header(build, tmp_path):
    obj = build("test_global_percpu_data.c")
    out = tmp_path / "skel.h"
    assert main(["gen", "skeleton", str(obj), "test_global_percpu_data", "-o", str(out)]) == 0
    return out


def test_structure(header):
    text = header.read_text()
    assert "struct test_global_percpu_data__percpu {" in text
    assert "} *percpu;" in text and "} *percpu_data;" in text and "} *percpu_looooooooong;" in text
    assert "\t\tstruct bpf_map *percpu;" in text and "\t\tstruct bpf_map *data_percpu;" in text
    assert 'map->name = ".percpu.looooooooong";' in text
    assert "map->mmaped = (void **)&obj->percpu;" in text
    assert "map->mmaped = (void **)&obj->bss;" in text
    assert "map->mmaped = (void **)&obj->rodata_str1_1;" not in text     # not skel data
    assert "_Static_assert(sizeof(s->percpu->struct_data) == 36" in text
    assert "static const int" not in text                                # static fmt not exposed
    assert "s->progs[0].name = \"update_percpu_data\";" in text


def test_compiles_with_gcc(header, tmp_path):
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no host C compiler (gcc) for -fsyntax-only")
    (tmp_path / "user.c").write_text(USER_C)
    res = subprocess.run([gcc, "-fsyntax-only", "-Wall", "-Werror", "-I", str(DATA / "skel_include"),
                          "-I", str(tmp_path), str(tmp_path / "user.c")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("argv,msg", [
    (["gen", "skeleton", "/nonexistent.o"], "cannot read"),
    (["gen", "skeleton", __file__], "not an ELF file"),
    (["gen", "skeleton", "/nonexistent.o", "-L"], "cannot read"),
])
def test_bad_input_is_one_line(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and err.count("\n") == 1
