"""The SEC() table: ELF section name -> program type, expected attach type, flags.

Kept as data, in libbpf's order (section_defs[] in libbpf.c), because the first matching
entry wins: "sk_skb/stream_parser" must be tried before the bare "sk_skb", "xdp.frags"
before "xdp", "raw_tp.w+" is a different prefix from "raw_tp+".

Pattern forms, as libbpf reads them:
  "name"   the section name must be exactly "name";
  "name+"  exactly "name", or "name/<anything>";
  "name/"  must start with "name/" (no bare form).
A section name starting with '?' is matched without the '?' and the program is not
loaded by default (autoload off), which is how selftests mark negative cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.uapi import AttachType as A
from harness.uapi import BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS
from harness.uapi import ProgType as P

# Flags of a section definition (libbpf's enum sec_def_flags; only what changes loading).
SEC_NONE = 0
SEC_EXP_ATTACH_OPT = 1      # expected_attach_type is optional for the kernel
SEC_ATTACHABLE = 2          # the attach type is passed to prog_load as expected attach type
SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT
SEC_ATTACH_BTF = 4          # needs attach_btf_id (fentry, lsm, iter, tp_btf, freplace)
SEC_SLEEPABLE = 8           # load with BPF_F_SLEEPABLE
SEC_XDP_FRAGS = 16          # load with BPF_F_XDP_HAS_FRAGS
SEC_USDT = 32


@dataclass(frozen=True)
class SecDef:
    pattern: str
    prog_type: int
    attach_type: int = 0
    flags: int = SEC_NONE

    def matches(self, sec_name: str) -> bool:
        pat = self.pattern
        if pat.endswith("/"):
            return sec_name.startswith(pat)
        if pat.endswith("+"):
            base = pat[:-1]
            return sec_name == base or sec_name.startswith(base + "/")
        return sec_name == pat

    @property
    def prog_flags(self) -> int:
        """BPF_PROG_LOAD prog_flags implied by the section."""
        out = 0
        if self.flags & SEC_SLEEPABLE:
            out |= BPF_F_SLEEPABLE
        if self.flags & SEC_XDP_FRAGS:
            out |= BPF_F_XDP_HAS_FRAGS
        return out


_D = SecDef
SECTION_DEFS: tuple[SecDef, ...] = (
    _D("socket", P.SOCKET_FILTER),
    _D("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, SEC_ATTACHABLE),
    _D("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, SEC_ATTACHABLE),
    _D("kprobe+", P.KPROBE),
    _D("uprobe+", P.KPROBE),
    _D("uprobe.s+", P.KPROBE, 0, SEC_SLEEPABLE),
    _D("kretprobe+", P.KPROBE),
    _D("uretprobe+", P.KPROBE),
    _D("uretprobe.s+", P.KPROBE, 0, SEC_SLEEPABLE),
    _D("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI),
    _D("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI),
    _D("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION),
    _D("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI),
    _D("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI),
    _D("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
    _D("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
    _D("uprobe.session+", P.KPROBE, A.TRACE_UPROBE_SESSION),
    _D("uprobe.session.s+", P.KPROBE, A.TRACE_UPROBE_SESSION, SEC_SLEEPABLE),
    _D("ksyscall+", P.KPROBE),
    _D("kretsyscall+", P.KPROBE),
    _D("usdt+", P.KPROBE, 0, SEC_USDT),
    _D("usdt.s+", P.KPROBE, 0, SEC_USDT | SEC_SLEEPABLE),
    _D("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _D("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _D("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _D("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _D("tc", P.SCHED_CLS),
    _D("classifier", P.SCHED_CLS),
    _D("action", P.SCHED_ACT),
    _D("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    _D("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    _D("tracepoint+", P.TRACEPOINT),
    _D("tp+", P.TRACEPOINT),
    _D("raw_tracepoint+", P.RAW_TRACEPOINT),
    _D("raw_tp+", P.RAW_TRACEPOINT),
    _D("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE),
    _D("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE),
    _D("tp_btf+", P.TRACING, A.TRACE_RAW_TP, SEC_ATTACH_BTF),
    _D("fentry+", P.TRACING, A.TRACE_FENTRY, SEC_ATTACH_BTF),
    _D("fmod_ret+", P.TRACING, A.MODIFY_RETURN, SEC_ATTACH_BTF),
    _D("fexit+", P.TRACING, A.TRACE_FEXIT, SEC_ATTACH_BTF),
    _D("fentry.s+", P.TRACING, A.TRACE_FENTRY, SEC_ATTACH_BTF | SEC_SLEEPABLE),
    _D("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, SEC_ATTACH_BTF | SEC_SLEEPABLE),
    _D("fexit.s+", P.TRACING, A.TRACE_FEXIT, SEC_ATTACH_BTF | SEC_SLEEPABLE),
    _D("freplace+", P.EXT, 0, SEC_ATTACH_BTF),
    _D("lsm+", P.LSM, A.LSM_MAC, SEC_ATTACH_BTF),
    _D("lsm.s+", P.LSM, A.LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE),
    _D("lsm_cgroup+", P.LSM, A.LSM_CGROUP, SEC_ATTACH_BTF),
    _D("iter+", P.TRACING, A.TRACE_ITER, SEC_ATTACH_BTF),
    _D("iter.s+", P.TRACING, A.TRACE_ITER, SEC_ATTACH_BTF | SEC_SLEEPABLE),
    _D("syscall", P.SYSCALL, 0, SEC_SLEEPABLE),
    _D("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, SEC_XDP_FRAGS),
    _D("xdp/devmap", P.XDP, A.XDP_DEVMAP, SEC_ATTACHABLE),
    _D("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, SEC_XDP_FRAGS),
    _D("xdp/cpumap", P.XDP, A.XDP_CPUMAP, SEC_ATTACHABLE),
    _D("xdp.frags", P.XDP, A.XDP, SEC_XDP_FRAGS),
    _D("xdp", P.XDP, A.XDP, SEC_ATTACHABLE_OPT),
    _D("perf_event", P.PERF_EVENT),
    _D("lwt_in", P.LWT_IN),
    _D("lwt_out", P.LWT_OUT),
    _D("lwt_xmit", P.LWT_XMIT),
    _D("lwt_seg6local", P.LWT_SEG6LOCAL),
    _D("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, SEC_ATTACHABLE_OPT),
    _D("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, SEC_ATTACHABLE_OPT),
    _D("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, SEC_ATTACHABLE_OPT),
    _D("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, SEC_ATTACHABLE_OPT),
    _D("sk_skb", P.SK_SKB),
    _D("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, SEC_ATTACHABLE_OPT),
    _D("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, SEC_ATTACHABLE_OPT),
    _D("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, SEC_ATTACHABLE_OPT),
    _D("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, SEC_ATTACHABLE_OPT),
    _D("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, SEC_ATTACHABLE_OPT),
    _D("cgroup/skb", P.CGROUP_SKB),
    _D("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, SEC_ATTACHABLE),
    _D("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, SEC_ATTACHABLE),
    _D("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, SEC_ATTACHABLE_OPT),
    _D("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, SEC_ATTACHABLE),
    _D("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, SEC_ATTACHABLE),
    _D("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, SEC_ATTACHABLE),
    _D("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, SEC_ATTACHABLE),
    _D("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, SEC_ATTACHABLE),
    _D("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, SEC_ATTACHABLE),
    _D("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, SEC_ATTACHABLE),
    _D("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, SEC_ATTACHABLE),
    _D("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, SEC_ATTACHABLE),
    _D("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, SEC_ATTACHABLE),
    _D("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, SEC_ATTACHABLE),
    _D("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, SEC_ATTACHABLE),
    _D("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, SEC_ATTACHABLE),
    _D("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, SEC_ATTACHABLE),
    _D("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, SEC_ATTACHABLE),
    _D("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, SEC_ATTACHABLE),
    _D("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, SEC_ATTACHABLE),
    _D("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, SEC_ATTACHABLE),
    _D("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, SEC_ATTACHABLE),
    _D("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, SEC_ATTACHABLE),
    _D("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, SEC_ATTACHABLE),
    _D("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, SEC_ATTACHABLE),
    _D("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, SEC_ATTACHABLE_OPT),
    _D("struct_ops+", P.STRUCT_OPS),
    _D("struct_ops.s+", P.STRUCT_OPS, 0, SEC_SLEEPABLE),
    _D("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, SEC_ATTACHABLE),
    _D("netfilter", P.NETFILTER, A.NETFILTER),
)


def find_sec_def(sec_name: str) -> SecDef | None:
    """The first definition matching `sec_name` (a leading '?' is ignored), or None."""
    name = sec_name[1:] if sec_name.startswith("?") else sec_name
    for sd in SECTION_DEFS:
        if sd.matches(name):
            return sd
    return None


def autoload_default(sec_name: str) -> bool:
    """'?' prefixed sections are not loaded unless the user turns autoload back on."""
    return not sec_name.startswith("?")


def attach_target(sec_def: SecDef, sec_name: str) -> str:
    """The attach target written after the section prefix, e.g. "bpf_map_elem" for
    "iter/bpf_map_elem" (empty when the section has none)."""
    name = sec_name[1:] if sec_name.startswith("?") else sec_name
    base = sec_def.pattern.rstrip("+")
    rest = name[len(base):]
    return rest[1:] if rest.startswith("/") else ""
