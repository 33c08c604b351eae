"""Which context offsets a program type may read or write (each type's is_valid_access).

`ctx_access(prog_type, attach_type, off, size, write, privileged)` returns None when the
access is invalid (the verifier then says `invalid bpf_context access off=%d size=%d`), else
the register type a load produces: "scalar", "pkt", "pkt_end", "pkt_meta", "btf" (a
kernel-object pointer), "buf" / "rdonly_buf" (iterator key/value buffers, or-null).
The __sk_buff / xdp_md offsets come from harness.kernel.progtypes (one layout per struct).
"""

from __future__ import annotations

import functools

from harness.kernel.progtypes import SK_BUFF, XDP_MD
from harness.uapi import AttachType, ProgType

_SKB = {name: (f.off, f.off + f.size) for name, f in SK_BUFF.fields.items()}
_XDP = {name: f.off for name, f in XDP_MD.fields.items()}
PT_REGS_SIZE = 168                   # struct pt_regs on x86-64
PERF_MAX_TRACE_SIZE = 2048
U16_MAX = 0xFFFF


def _in(off: int, *names: str) -> bool:
    return any(_SKB[n][0] <= off < _SKB[n][1] for n in names)


def _skb_common(off: int, size: int, write: bool):
    """bpf_skb_is_valid_access."""
    if off < 0 or off >= SK_BUFF.size or off % size:
        return None
    if _in(off, "cb"):
        return "scalar" if off + size <= _SKB["cb"][1] else None
    if _in(off, "remote_ip4", "local_ip4", "remote_ip6", "local_ip6"):
        return "scalar" if not write and size == 4 else None     # whole words only (6.18)
    if _in(off, "data", "data_meta", "data_end"):
        if size != 4:
            return None
        return {"data": "pkt", "data_meta": "pkt_meta", "data_end": "pkt_end"}[
            next(n for n in ("data", "data_meta", "data_end") if _in(off, n))]
    if _in(off, "flow_keys"):
        return None                      # only the flow dissector's (_flow_dissector)
    if _in(off, "tstamp", "hwtstamp"):
        return "scalar" if size == 8 else None
    if _in(off, "sk"):
        return "sock_common_or_null" if (not write and size == 8) else None
    if off >= _SKB["tstamp_type"][0] and off < _SKB["hwtstamp"][0]:
        return None
    field_size = 4
    if write:
        return "scalar" if size == field_size else None
    # narrow loads of the low bytes are allowed (bpf_ctx_narrow_access_ok)
    if size > field_size or (off % field_size) % size:
        return None
    return "scalar"


def _socket_filter(off, size, write, priv):
    if _in(off, "tc_classid", "data", "data_meta", "data_end", "tstamp", "wire_len", "hwtstamp") \
            or _SKB["family"][0] <= off < _SKB["local_port"][1]:
        return None
    if write and not _in(off, "cb"):
        return None
    return _skb_common(off, size, write)


def _tc(off, size, write, priv):
    if write and not (_in(off, "mark", "tc_index", "priority", "tc_classid", "cb")
                      or off in (_SKB["tstamp"][0], _SKB["queue_mapping"][0])):
        return None
    if _SKB["family"][0] <= off < _SKB["local_port"][1]:
        return None
    if off == _SKB["tstamp_type"][0] and size == 1 and not write:
        return "scalar"                  # tc may read the one-byte tstamp_type (6.18)
    return _skb_common(off, size, write)


def _cgroup_skb(off, size, write, priv):
    if _in(off, "tc_classid", "data_meta", "flow_keys", "wire_len"):
        return None
    if write and not (_in(off, "mark", "priority", "cb") or (_in(off, "tstamp") and priv)):
        return None
    return _skb_common(off, size, write)


def _lwt(off, size, write, priv):
    if _in(off, "tc_classid", "data_meta", "flow_keys", "tstamp", "wire_len", "hwtstamp") \
            or _SKB["family"][0] <= off < _SKB["local_port"][1]:
        return None
    if write and not _in(off, "mark", "priority", "cb"):
        return None
    return _skb_common(off, size, write)


def _sk_skb(off, size, write, priv):
    """sk_skb_is_valid_access: no mark, no timestamps; writes to tc_index and priority."""
    if _in(off, "tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "mark"):
        return None
    if write and not _in(off, "tc_index", "priority"):
        return None
    return _skb_common(off, size, write)


def _flow_dissector(off, size, write, priv):
    """flow_dissector_is_valid_access: read-only data, data_end and the flow keys."""
    if write or off < 0 or off >= SK_BUFF.size:
        return None
    if _in(off, "data", "data_end"):
        return ("pkt" if _in(off, "data") else "pkt_end") if size == 4 and off % 4 == 0 else None
    if _in(off, "flow_keys"):
        return "flow_keys" if size == 8 and off == _SKB["flow_keys"][0] else None
    return None


def _xdp(off, size, write, priv, attach=0):
    if off == _XDP["egress_ifindex"] and attach != AttachType.XDP_DEVMAP:
        return None
    if write:
        return None
    if off < 0 or off >= XDP_MD.size or off % size or size != 4:
        return None
    return {_XDP["data"]: "pkt", _XDP["data_end"]: "pkt_end", _XDP["data_meta"]: "pkt_meta"}.get(off, "scalar")


def _kprobe(off, size, write, priv):
    if off < 0 or off >= PT_REGS_SIZE or write or off % size or off + size > PT_REGS_SIZE:
        return None
    return "scalar"


def _tracepoint(off, size, write, priv):
    if off < 8 or off >= PERF_MAX_TRACE_SIZE or write or off % size:
        return None
    return "scalar"


def _raw_tp(off, size, write, priv):
    if off < 0 or off >= 8 * 12 or write or off % size:
        return None
    return "scalar"


def _perf_event(off, size, write, priv):
    if off < 0 or off >= PT_REGS_SIZE + 16 or write or off % size:
        return None
    if off >= PT_REGS_SIZE:                      # sample_period, addr: u64, narrow loads ok
        return "scalar"
    return "scalar" if size == 8 else None


def _syscall(off, size, write, priv):
    if off < 0 or off >= U16_MAX or off % size:
        return None
    return "scalar"


def _tracing(off, size, write, priv, attach=0):
    if attach == AttachType.TRACE_ITER:
        if write or size != 8 or off % 8 or off < 0 or off >= 32:
            return None
        return {0: "btf", 8: "btf", 16: "rdonly_buf", 24: "buf"}[off]
    if write or off < 0 or off % 8 or off >= 8 * 12 or size != 8:
        return None
    return "scalar"


_TABLE = {
    ProgType.SOCKET_FILTER: _socket_filter,
    ProgType.SCHED_CLS: _tc, ProgType.SCHED_ACT: _tc,
    ProgType.CGROUP_SKB: _cgroup_skb,
    ProgType.LWT_IN: _lwt, ProgType.LWT_OUT: _lwt, ProgType.LWT_XMIT: _lwt, ProgType.LWT_SEG6LOCAL: _lwt,
    ProgType.SK_SKB: _sk_skb, ProgType.FLOW_DISSECTOR: _flow_dissector,
    ProgType.KPROBE: _kprobe,
    ProgType.TRACEPOINT: _tracepoint,
    ProgType.RAW_TRACEPOINT: _raw_tp, ProgType.RAW_TRACEPOINT_WRITABLE: _raw_tp,
    ProgType.PERF_EVENT: _perf_event,
    ProgType.SYSCALL: _syscall,
}


@functools.lru_cache(maxsize=4096)       # pure; hot in loops over the context
def ctx_access(prog_type: int, attach_type: int, off: int, size: int, write: bool,
               privileged: bool) -> str | None:
    if prog_type == ProgType.XDP:
        return _xdp(off, size, write, privileged, attach_type)
    if prog_type in (ProgType.TRACING, ProgType.LSM, ProgType.EXT, ProgType.STRUCT_OPS):
        return _tracing(off, size, write, privileged, attach_type)
    fn = _TABLE.get(prog_type)
    if fn is None:
        # types without a modelled context: any aligned read inside one page
        if write or off < 0 or off >= 4096 or off % size:
            return None
        return "scalar"
    return fn(off, size, write, privileged)


#: program types that may read (and, in the second set, write) packet data directly
#: (may_access_direct_pkt_data).
PKT_READ = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP, ProgType.LWT_IN,
                      ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.SK_SKB, ProgType.SK_MSG,
                      ProgType.FLOW_DISSECTOR, ProgType.CGROUP_SKB, ProgType.LWT_SEG6LOCAL,
                      ProgType.SK_REUSEPORT, ProgType.NETFILTER})
PKT_WRITE = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP, ProgType.LWT_XMIT,
                       ProgType.SK_SKB, ProgType.SK_MSG})
#: program types allowed the legacy LD_ABS / LD_IND packet loads (may_access_skb)
LD_ABS_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT})
