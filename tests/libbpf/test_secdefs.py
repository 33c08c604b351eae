"""The SEC() table: libbpf's matching rules and a sample of its entries."""

import pytest

from harness.libbpf.secdefs import SEC_SLEEPABLE, attach_target, autoload_default, find_sec_def
from harness.uapi import BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, AttachType as A, ProgType as P

CASES = [
    ("kprobe/do_sys_open", P.KPROBE, 0),
    ("kprobe", P.KPROBE, 0),
    ("kretprobe/x", P.KPROBE, 0),
    ("tp/syscalls/sys_enter_open", P.TRACEPOINT, 0),
    ("tracepoint/sched/sched_switch", P.TRACEPOINT, 0),
    ("raw_tp/task_rename", P.RAW_TRACEPOINT, 0),
    ("raw_tracepoint/sys_enter", P.RAW_TRACEPOINT, 0),
    ("raw_tp.w/x", P.RAW_TRACEPOINT_WRITABLE, 0),
    ("tp_btf/sched_switch", P.TRACING, A.TRACE_RAW_TP),
    ("fentry/bpf_fentry_test1", P.TRACING, A.TRACE_FENTRY),
    ("fexit/bpf_fentry_test1", P.TRACING, A.TRACE_FEXIT),
    ("fmod_ret/f", P.TRACING, A.MODIFY_RETURN),
    ("freplace/f", P.EXT, 0),
    ("lsm/file_open", P.LSM, A.LSM_MAC),
    ("iter/bpf_map_elem", P.TRACING, A.TRACE_ITER),
    ("iter.s/task", P.TRACING, A.TRACE_ITER),
    ("syscall", P.SYSCALL, 0),
    ("xdp", P.XDP, A.XDP),
    ("xdp.frags", P.XDP, A.XDP),
    ("xdp/devmap", P.XDP, A.XDP_DEVMAP),
    ("tc", P.SCHED_CLS, 0),
    ("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    ("classifier", P.SCHED_CLS, 0),
    ("action", P.SCHED_ACT, 0),
    ("socket", P.SOCKET_FILTER, 0),
    ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER),
    ("sk_skb", P.SK_SKB, 0),
    ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT),
    ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
    ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
    ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE),
    ("struct_ops/test_1", P.STRUCT_OPS, 0),
    ("struct_ops.s/test_1", P.STRUCT_OPS, 0),
    ("perf_event", P.PERF_EVENT, 0),
    ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
    ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP),
    ("netfilter", P.NETFILTER, A.NETFILTER),
    ("?kprobe", P.KPROBE, 0),
]


@pytest.mark.parametrize("name,ptype,atype", CASES)
def test_known_sections(name, ptype, atype):
    sd = find_sec_def(name)
    assert sd is not None, name
    assert (sd.prog_type, sd.attach_type) == (ptype, atype)


@pytest.mark.parametrize("name", ["raw_tpx", "kprobex/foo", "xdp/foo", "socketx", "tc/unknown", "sk_lookup/x", ""])
def test_unknown_sections(name):
    assert find_sec_def(name) is None


def test_flags_and_autoload():
    assert find_sec_def("fentry.s/f").prog_flags == BPF_F_SLEEPABLE
    assert find_sec_def("syscall").flags & SEC_SLEEPABLE
    assert find_sec_def("xdp.frags").prog_flags == BPF_F_XDP_HAS_FRAGS
    assert find_sec_def("xdp").prog_flags == 0
    assert autoload_default("?kprobe") is False and autoload_default("kprobe") is True


def test_attach_target():
    assert attach_target(find_sec_def("raw_tp/task_rename"), "raw_tp/task_rename") == "task_rename"
    assert attach_target(find_sec_def("?iter/bpf_map_elem"), "?iter/bpf_map_elem") == "bpf_map_elem"
    assert attach_target(find_sec_def("kprobe"), "kprobe") == ""
