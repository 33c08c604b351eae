"""Annotations: the three decl-tag encodings, source fallback, and the BTF reader."""

import pytest

from harness.annotations import build, from_decl_tags, from_object, from_source, normalise_tag, scan_programs
from harness.corpus import CORPUS_DIR


@pytest.mark.parametrize("raw,tag", [
    ("comment:test_expect_msg=foo", "test_expect_msg=foo"),                 # oldest
    ("comment:test_expect_msg=17=foo", "test_expect_msg=foo"),              # counter after '='
    ("comment:17:test_expect_msg=foo", "test_expect_msg=foo"),              # newest
    ("comment:3:test_expect_failure", "test_expect_failure"),
    ("comment:test_retval=0", "test_retval=0"),
    ("comment:test_description=a=b", "test_description=a=b"),              # not multi-valued
    ("btf_decl_tag_other", None),
])
def test_normalise_tag(raw, tag):
    assert normalise_tag(raw) == tag


@pytest.mark.parametrize("tags,field,value", [
    (["test_expect_success"], "expect_success", True),
    (["test_expect_failure"], "expect_success", False),
    (["test_retval=0x10"], "retval", 16),
    (["test_retval=-1"], "retval", -1),
    (["test_retval=POINTER_VALUE"], "retval", 0xBADCAFE),
    (["test_retval=_INT_MIN"], "retval", -2147483648),
    (["test_prog_flags=BPF_F_TEST_STATE_FREQ", "test_prog_flags=1"], "prog_flags", 9),
    (["test_prog_flags=!BPF_F_STRICT_ALIGNMENT"], "prog_flags_cleared", 1),
    (["test_expect_msg=a", "test_expect_msg=b"], "msgs", ["a", "b"]),
    (["test_log_level=2"], "log_level", 2),
    (["test_auxiliary"], "auxiliary", True),
    (["test_arch=X86_64"], "arch", ["X86_64"]),
    (["test_retval=notanumber"], "unknown", ["test_retval=notanumber"]),
])
def test_build(tags, field, value):
    assert getattr(build(tags), field) == value


def test_from_decl_tags_groups_by_function():
    ann = from_decl_tags([("f", "comment:test_expect_failure"), ("f", "comment:test_expect_msg=1=x"),
                          ("g", "comment:5:test_retval=3"), ("g", "not-a-comment")])
    assert ann["f"].expect_success is False and ann["f"].msgs == ["x"]
    assert ann["g"].retval == 3


SRC = r'''
SEC("?kprobe")
__failure __msg("R{{[0-9]+}} points to percpu_array map which cannot be used as const string")
int verifier_strncmp(void *ctx) { return 0; }

__description("desc \"q\"") __success SEC("socket") __retval(POINTER_VALUE)
__naked void f2(void) { asm volatile ("r0 = 0; exit;"); }

/* SEC("tc") int commented_out(void) { return 0; } */
static __always_inline int helper(int x) { return x; }
SEC("tc") int declared_only(void *ctx);
int data SEC(".percpu") = 1;
char _license[] SEC("license") = "GPL";
'''


def test_scan_programs_source():
    progs = {p.name: p for p in scan_programs(SRC)}
    assert list(progs) == ["verifier_strncmp", "f2"]
    assert progs["verifier_strncmp"].section == "?kprobe"
    ann = from_source(SRC)
    assert ann["verifier_strncmp"].msgs == [
        "R{{[0-9]+}} points to percpu_array map which cannot be used as const string"]
    assert ann["f2"].description == 'desc "q"' and ann["f2"].retval == 0xBADCAFE


@pytest.mark.parametrize("toolchain", ["clang13", "clang14", "clang17", "clang22"])
def test_btf_tags_match_source(bpf_build, toolchain):
    pytest.importorskip("harness.elf.object", reason="harness.elf not available")
    src = CORPUS_DIR / "global_data" / "rodata.c"
    obj = bpf_build(src, toolchain=toolchain)
    found, note = from_object(obj)
    assert found is not None, note
    want = from_source(src.read_text())
    if toolchain == "clang13":
        assert found == {}            # Clang < 14 emits no decl tags
    else:
        assert {k: v.tags for k, v in found.items()} == {k: v.tags for k, v in want.items()}
        assert found["rodata_mul"].retval == 42
