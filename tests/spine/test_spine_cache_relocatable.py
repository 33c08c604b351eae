"""The object cache is relocatable: objects and keys do not depend on where the corpus lives.

CI clones the repository afresh and nightly dashboards run from other work dirs; with a
shared $HARNESS_CACHE_DIR they must hit the entries another checkout filled.  So the same
source compiled from two copies of the corpus at different absolute paths must give the
same key and a byte-identical object, and no absolute path may reach the object (DWARF or
the BTF strings that .BTF.ext line_info names files by).
"""

import shutil
from pathlib import Path

import pytest

from harness.compile import CORPUS_TOKEN, INCLUDE_DIR, Layout, compile_source
from harness.elf.object import BpfObject
from harness.toolchains import first_available, load_toolchains

CORPUS = INCLUDE_DIR.parent
CASE = Path("percpu") / "percpu_ints.c"     # compiles with every declared toolchain


@pytest.mark.parametrize("source,includes,root,corpus,spelled", [
    # a corpus case: the corpus is the root, every path is root-relative
    ("/a/corpus/percpu/x.c", ["/a/corpus/include"], "/a/corpus", None,
     {"/a/corpus/percpu/x.c": "percpu/x.c", "/a/corpus/include": "include"}),
    # a source above the corpus: its own directory holds everything
    ("/a/x.c", ["/a/corpus/include"], "/a", None,
     {"/a/x.c": "x.c", "/a/corpus/include/bpf/h.h": "corpus/include/bpf/h.h"}),
    # a test's file in a temporary dir: two disjoint trees, the corpus spelled by its token
    ("/tmp/t0/x.c", ["/repo/corpus/include"], "/tmp/t0", "/repo/corpus",
     {"/tmp/t0/x.c": "x.c", "/repo/corpus/include": CORPUS_TOKEN + "/include",
      "/elsewhere/h.h": "/elsewhere/h.h"}),
    # no include dirs at all
    ("/tmp/t1/x.c", [], "/tmp/t1", None, {"/tmp/t1/sub/h.h": "sub/h.h"}),
])
def test_layout_roots_and_spellings(source, includes, root, corpus, spelled):
    lay = Layout.of(Path(source), [Path(p) for p in includes])
    assert (lay.root, lay.corpus) == (Path(root), Path(corpus) if corpus else None)
    assert {p: lay.spell(Path(p), real=False) for p in spelled} == spelled
    key_flags = " ".join(lay.map_flags(real=False))
    assert "-ffile-prefix-map=<root>=." in key_flags and root not in key_flags
    assert (f"-ffile-prefix-map={corpus}={CORPUS_TOKEN}" in lay.map_flags(real=True)) == bool(corpus)


def _toolchains():
    """Oldest Debian, the active environment's zig clang and the newest available one."""
    names = ["clang13", "clang17"]
    newest = first_available()
    if newest is not None and newest.name not in names:
        names.append(newest.name)
    return names


def _copy_corpus(dest: Path) -> Path:
    shutil.copytree(CORPUS, dest / "corpus", ignore=shutil.ignore_patterns("__pycache__"))
    return dest / "corpus"


def _line_info_files(obj_path: Path) -> set[tuple[str, bool]]:
    """{(file name, line text non-empty)} of every line_info record in the object."""
    obj = BpfObject.open(str(obj_path))
    out = set()
    for prog in obj.programs():
        for rec in obj.program_btf_ext(prog)["line_info"]:
            out.add((obj.btf.string_at(rec.file_name_off), bool(obj.btf.string_at(rec.line_off))))
    return out


@pytest.mark.parametrize("name", _toolchains())
def test_two_corpus_copies_give_one_key_and_identical_objects(name, tmp_path):
    tc = load_toolchains()[name]
    if not tc.available():
        pytest.skip(f"toolchain missing: {tc.missing_reason()}")
    copies = [_copy_corpus(tmp_path / "a"), _copy_corpus(tmp_path / "deeper" / "b")]
    results = [compile_source(c / CASE, tc, include_dirs=[c / "include"], cache_dir=tmp_path / f"cache{i}")
               for i, c in enumerate(copies)]
    assert [r.status for r in results] == ["ok", "ok"], results[0].stderr
    assert not any(r.cached for r in results)          # two caches: both really compiled
    assert results[0].key == results[1].key
    blobs = [r.obj_path.read_bytes() for r in results]
    assert blobs[0] == blobs[1]
    for copy, blob in zip(copies, blobs):
        assert str(copy.parent).encode() not in blob and b"/tmp/" not in blob
    # line_info names the file by its mapped name and still carries the source text
    # (the compiler runs in the root, so it reads "./percpu/percpu_ints.c" back)
    assert _line_info_files(results[0].obj_path) == {("./" + CASE.as_posix(), True)}
    # the second copy hits the first copy's cache entry
    again = compile_source(copies[1] / CASE, tc, include_dirs=[copies[1] / "include"],
                           cache_dir=tmp_path / "cache0")
    assert again.cached and again.obj_hash == results[0].obj_hash


def test_source_outside_the_corpus_is_relocatable_too(tmp_path):
    """A test's C file in a temp dir with the repo's headers: neither tree reaches the object."""
    tc = first_available()
    if tc is None:
        pytest.skip("no BPF toolchain available (python -m harness toolchains install NAME)")
    text = ('#include <bpf/bpf_helpers.h>\n#include "local.h"\n'
            'SEC("tc") int f(void *ctx) { return VAL; }\nchar _license[] SEC("license") = "GPL";\n')
    results = []
    for i, d in enumerate((tmp_path / "one", tmp_path / "two" / "deeper")):
        d.mkdir(parents=True)
        (d / "p.c").write_text(text)
        (d / "local.h").write_text("#define VAL 7\n")
        results.append(compile_source(d / "p.c", tc, cache_dir=tmp_path / f"c{i}"))
    assert [r.status for r in results] == ["ok", "ok"], results[0].stderr
    assert results[0].key == results[1].key
    blob = results[0].obj_path.read_bytes()
    assert blob == results[1].obj_path.read_bytes()
    assert str(tmp_path).encode() not in blob and str(CORPUS).encode() not in blob
    assert _line_info_files(results[0].obj_path) == {("./p.c", True)}
    assert results[0].cwd == str(tmp_path / "one") and "p.c" in results[0].command


def test_key_covers_the_mapping(tmp_path):
    """The map flags are keyed (old entries, built without them, are simply not found again),
    by placeholder: the keyed flags hold no absolute path of either tree."""
    tc = first_available()
    if tc is None:
        pytest.skip("no BPF toolchain available (python -m harness toolchains install NAME)")
    from harness.compile import cache_key
    src = tmp_path / "x.c"
    src.write_text("int x;\n")
    lay = Layout.of(src, [INCLUDE_DIR])
    flags = lay.flags(tc, "v3", (), real=False)
    unmapped = [f for f in flags if not f.startswith("-ffile-prefix-map=")]
    assert len(unmapped) == len(flags) - 2
    assert cache_key(lay, tc, flags) != cache_key(lay, tc, unmapped)
    assert not any(str(tmp_path) in f or str(CORPUS) in f for f in flags)
