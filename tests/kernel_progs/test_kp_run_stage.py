"""The matrix's run stage over a compiled object (needs a BPF toolchain; skipped otherwise)."""

from __future__ import annotations

from harness.corpus import load_case
from harness.stages import Job
from harness.stages import run as run_stage

SOURCE = r"""
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

int counter SEC(".percpu") = 0;
int shared = 5;

SEC("tc") __success __retval(47)
int adds(struct __sk_buff *skb) { counter += 42; return counter + shared; }

SEC("xdp") __success __retval(3)
int wrong(struct xdp_md *ctx) { return 2; }

SEC("raw_tp/sys_enter") __success __retval(0)
int on_cpu(void *ctx) { return bpf_get_smp_processor_id(); }

SEC("tc") __success
int no_retval(struct __sk_buff *skb) { return 0; }

SEC("tc") __failure __msg("whatever")
int failing(struct __sk_buff *skb) { return 0; }

char _license[] SEC("license") = "GPL";
"""


def test_run_stage_compares_retvals(tmp_path, bpf_build):
    src = tmp_path / "runcase.c"
    src.write_text(SOURCE)
    obj = bpf_build(src)
    case = load_case(src, root=tmp_path)
    job = Job(case=case, toolchain=None, obj_path=obj, annotations=case.source_annotations())
    results = {r.program: r for r in run_stage.run(job)}
    assert results["adds"].status == "pass", results["adds"].detail
    assert results["adds"].extra["retval"] == 47
    assert results["wrong"].status == "fail" and results["wrong"].extra["outcome"] == "wrong-retval"
    assert results["on_cpu"].status == "pass"
    assert results["no_retval"].status == "skip" and "no __retval" in results["no_retval"].detail
    assert results["failing"].status == "skip"
