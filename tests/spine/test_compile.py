"""Compile stage: outcome classes, signatures, cache keys and hits."""

import pytest

from harness.compile import classify, compile_source, included_files, INCLUDE_DIR
from harness.toolchains import first_available, load_toolchains


@pytest.mark.parametrize("rc,stderr,status,sig", [
    (0, "", "ok", ""),
    (70, "fatal error: error in backend: unable to write nop sequence of 3 bytes\nzig: error: ...",
     "crash", "backend: unable to write nop sequence of N bytes"),
    (1, "x.c:3:5: error: use of undeclared identifier 'y'\n1 error generated.", "error",
     "use of undeclared identifier 'y'"),
    (1, "x.c:3:1: error: unsupported signed division, please convert to unsigned div/mod.", "error",
     "unsupported signed division, please convert to unsigned div/mod."),
    (-11, "", "crash", "signal: SIGSEGV"),
    (1, "LLVM ERROR: Cannot select: t7\n", "crash", "llvm: Cannot select: tN"),
])
def test_classify(rc, stderr, status, sig):
    assert classify(rc, stderr) == (status, sig)


def test_included_files_follow_our_headers(tmp_path):
    src = tmp_path / "a.c"
    src.write_text('#include <bpf/bpf_helpers.h>\n#include "local.h"\n')
    (tmp_path / "local.h").write_text("#include <bpf_misc.h>\n")
    names = {p.name for p in included_files(src, [INCLUDE_DIR])}
    assert {"bpf_helpers.h", "types.h", "bpf.h", "local.h", "bpf_misc.h"} <= names


def _tc():
    tc = first_available()
    if tc is None:
        pytest.skip("no BPF toolchain available")
    return tc


def test_cache_hit_and_header_change_invalidates(tmp_path):
    tc = _tc()
    (tmp_path / "h.h").write_text("#define VAL 1\n")
    src = tmp_path / "p.c"
    src.write_text('#include "h.h"\nint __attribute__((section("tc"), used)) f(void *c) { return VAL; }\n')
    cache = tmp_path / "cache"
    first = compile_source(src, tc, cache_dir=cache)
    again = compile_source(src, tc, cache_dir=cache)
    assert (first.status, first.cached, again.cached) == ("ok", False, True)
    assert again.obj_hash == first.obj_hash and again.obj_path.is_file()
    # libbpf names the object (and its .bss/.data maps) after the file: keep the stem
    assert first.obj_path.name == "p.o"
    (tmp_path / "h.h").write_text("#define VAL 2\n")
    changed = compile_source(src, tc, cache_dir=cache)
    assert not changed.cached and changed.obj_hash != first.obj_hash
    other_cpu = compile_source(src, tc, cache_dir=cache, mcpu="v1")
    assert not other_cpu.cached and "-mcpu=v1" in other_cpu.command


def test_diagnostics_error_is_cached_with_signature(tmp_path):
    tc = _tc()
    src = tmp_path / "bad.c"
    src.write_text("int f(void) { return undeclared; }\n")
    r = compile_source(src, tc, cache_dir=tmp_path / "c")
    assert r.status == "error" and "undeclared" in r.signature and r.obj_path is None
    assert compile_source(src, tc, cache_dir=tmp_path / "c").cached


def test_no_system_headers(tmp_path):
    tc = _tc()
    src = tmp_path / "sys.c"
    src.write_text("#include <stdio.h>\nint x;\n")
    r = compile_source(src, tc, cache_dir=tmp_path / "c")
    assert r.status == "error" and "stdio.h" in r.signature


def test_timeout_kills_the_compiler(tmp_path):
    tc = _tc()
    src = tmp_path / "slow.c"
    src.write_text("int x;\n")
    r = compile_source(src, tc, cache_dir=tmp_path / "c", timeout=0.001)
    assert r.status in ("timeout", "ok")  # a very fast machine may finish in 1 ms
    if r.status == "timeout":
        assert not compile_source(src, tc, cache_dir=tmp_path / "c", timeout=60).cached


def test_missing_toolchain(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text("[provider.path]\ntarget=['-target','bpf']\n"
                    "[toolchain.ghost]\nmajor=99\nprovider='path'\ncc=['/nonexistent/clang-99']\n")
    tc = load_toolchains(toml)["ghost"]
    src = tmp_path / "a.c"
    src.write_text("int x;\n")
    r = compile_source(src, tc, cache_dir=tmp_path / "c")
    assert r.status == "missing" and "not found" in r.stderr


@pytest.mark.parametrize("name", ["clang16", "clang17"])
def test_percpu_onebyte_crash_on_16_17(name, tmp_path):
    tc = load_toolchains()[name]
    if not tc.available():
        pytest.skip(tc.missing_reason())
    r = compile_source(INCLUDE_DIR.parent / "percpu" / "percpu_onebyte.c", tc, cache_dir=tmp_path)
    assert r.status == "crash"
    assert r.signature == "backend: unable to write nop sequence of N bytes"
    assert r.leftovers == []  # -fno-crash-diagnostics + private TMPDIR


def test_bpf_build_fixture(bpf_build):
    obj = bpf_build(INCLUDE_DIR.parent / "global_data" / "bss.c")
    assert obj.read_bytes()[:4] == b"\x7fELF"
