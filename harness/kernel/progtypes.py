"""Program types: their context layouts and how BPF_PROG_TEST_RUN feeds them.

Context layouts are the UAPI structs a program sees through r1 (include/uapi/linux/bpf.h):
`struct __sk_buff` (192 bytes) for socket filters and tc, `struct xdp_md` (24 bytes) for
XDP, `struct bpf_raw_tracepoint_args` (u64 args[], up to MAX_BPF_FUNC_ARGS) for raw
tracepoints, and for SYSCALL programs the caller's ctx_in buffer itself.

The test_run rules follow net/bpf/test_run.c (and what running-kernel.md §2 observed):
which attr fields each runner rejects with EINVAL, packet size limits, the `cpu` field
(only the raw_tp runner honours BPF_F_TEST_RUN_ON_CPU; a CPU that is not possible gives
ENXIO), and ENOTSUPP (524) for types without a runner.  Our TestRunAttr says "1 run" with
repeat=1 and "as large as the input" with size 0; runners that reject repeat in the kernel
accept repeat <= 1 here, since 0 and 1 mean the same run.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field

from harness.kernelapi import BpfError, TestRunAttr
from harness.uapi import BPF_F_TEST_RUN_ON_CPU, BPF_F_TEST_XDP_LIVE_FRAMES, ENOTSUPP, AttachType, ProgType

ETH_HLEN = 14
PAGE_SIZE = 4096
XDP_PACKET_HEADROOM = 256
NET_SKB_PAD = 64
SKB_TAILROOM = 320          # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64
MAX_BPF_FUNC_ARGS = 12
TEST_XDP_MAX_BATCH = 256
MAX_SKB_FRAGS = 17
XDP_LINEAR_MAX = PAGE_SIZE - XDP_PACKET_HEADROOM - SKB_TAILROOM      # 3520
LOOPBACK_IFINDEX = 1        # skb test runs use the loopback device
U16_MAX = 0xFFFF


@dataclass(frozen=True)
class CtxField:
    off: int
    size: int
    writable: bool = False
    #: what a load of this field yields besides a scalar: "pkt", "pkt_end", "pkt_meta"
    pointer: str | None = None
    #: may user space set it through ctx_in (bpf_ctx_init / convert___skb_to_skb)?
    user_settable: bool = False


@dataclass(frozen=True)
class CtxLayout:
    name: str
    size: int
    fields: dict[str, CtxField] = field(default_factory=dict)

    def pointer_fields(self) -> dict[int, int]:
        """UAPI offset of each pointer field -> offset of its hidden u64 in the run-time
        context (after the struct; see fixups.convert_ctx_accesses)."""
        ptrs = sorted(f.off for f in self.fields.values() if f.pointer)
        return {off: self.size + 8 * k for k, off in enumerate(ptrs)}

    @property
    def runtime_size(self) -> int:
        return self.size + 8 * len(self.pointer_fields())

    def field_at(self, off: int) -> tuple[str, CtxField] | None:
        for name, f in self.fields.items():
            if f.off <= off < f.off + f.size:
                return name, f
        return None

    def pack(self, **values: int) -> bytearray:
        buf = bytearray(self.size)
        for name, value in values.items():
            f = self.fields[name]
            buf[f.off:f.off + f.size] = (value & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")
        return buf

    def get(self, buf: bytes, name: str) -> int:
        f = self.fields[name]
        return int.from_bytes(buf[f.off:f.off + f.size], "little")


def _fields(*rows) -> dict[str, CtxField]:
    return {name: CtxField(off, size, **kw) for name, off, size, kw in rows}


SK_BUFF = CtxLayout("__sk_buff", 192, _fields(
    ("len", 0, 4, {}), ("pkt_type", 4, 4, {}),
    ("mark", 8, 4, {"writable": True, "user_settable": True}),
    ("queue_mapping", 12, 4, {"writable": True}), ("protocol", 16, 4, {}),
    ("vlan_present", 20, 4, {}), ("vlan_tci", 24, 4, {}), ("vlan_proto", 28, 4, {}),
    ("priority", 32, 4, {"writable": True, "user_settable": True}),
    ("ingress_ifindex", 36, 4, {"user_settable": True}), ("ifindex", 40, 4, {"user_settable": True}),
    ("tc_index", 44, 4, {"writable": True}),
    ("cb", 48, 20, {"writable": True, "user_settable": True}),
    ("hash", 68, 4, {}), ("tc_classid", 72, 4, {"writable": True}),
    ("data", 76, 4, {"pointer": "pkt"}), ("data_end", 80, 4, {"pointer": "pkt_end"}),
    ("napi_id", 84, 4, {}), ("family", 88, 4, {}), ("remote_ip4", 92, 4, {}), ("local_ip4", 96, 4, {}),
    ("remote_ip6", 100, 16, {}), ("local_ip6", 116, 16, {}), ("remote_port", 132, 4, {}),
    ("local_port", 136, 4, {}), ("data_meta", 140, 4, {"pointer": "pkt_meta"}),
    ("flow_keys", 144, 8, {}), ("tstamp", 152, 8, {"writable": True, "user_settable": True}),
    ("wire_len", 160, 4, {"user_settable": True}), ("gso_segs", 164, 4, {"user_settable": True}),
    ("sk", 168, 8, {}), ("gso_size", 176, 4, {"user_settable": True}), ("tstamp_type", 180, 1, {}),
    ("hwtstamp", 184, 8, {"user_settable": True}),
))

XDP_MD = CtxLayout("xdp_md", 24, _fields(
    ("data", 0, 4, {"pointer": "pkt", "user_settable": True}),
    ("data_end", 4, 4, {"pointer": "pkt_end", "user_settable": True}),
    ("data_meta", 8, 4, {"pointer": "pkt_meta", "user_settable": True}),
    ("ingress_ifindex", 12, 4, {"user_settable": True}),
    ("rx_queue_index", 16, 4, {"user_settable": True}),
    ("egress_ifindex", 20, 4, {"user_settable": True}),
))

RAW_TP_ARGS = CtxLayout("bpf_raw_tracepoint_args", 8 * MAX_BPF_FUNC_ARGS, _fields(
    *((f"args[{i}]", 8 * i, 8, {}) for i in range(MAX_BPF_FUNC_ARGS))))

#: bpf_iter__bpf_map_elem: { union { struct bpf_iter_meta *meta; }; struct bpf_map *map;
#: union { void *key; }; union { void *value; }; } -- four pointers.
ITER_MAP_ELEM = CtxLayout("bpf_iter__bpf_map_elem", 32, _fields(
    ("meta", 0, 8, {}), ("map", 8, 8, {}), ("key", 16, 8, {}), ("value", 24, 8, {})))
#: struct bpf_iter_meta { struct seq_file *seq; u64 session_id; u64 seq_num; }
ITER_META = CtxLayout("bpf_iter_meta", 24, _fields(("seq", 0, 8, {}), ("session_id", 8, 8, {}),
                                                    ("seq_num", 16, 8, {})))

_SKB_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT,
                        ProgType.CGROUP_SKB, ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT})
#: types whose skb data starts at the L2 header (tc); others see the packet after ETH_HLEN.
_L2_TYPES = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT})


def ctx_layout(prog_type: int, expected_attach_type: int = 0) -> CtxLayout | None:
    """The context struct of a program type (None: no fixed layout, e.g. SYSCALL)."""
    if prog_type in _SKB_TYPES:
        return SK_BUFF
    if prog_type == ProgType.XDP:
        return XDP_MD
    if prog_type in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        return RAW_TP_ARGS
    if prog_type == ProgType.TRACING and expected_attach_type == AttachType.TRACE_ITER:
        return ITER_MAP_ELEM
    return None


@dataclass
class RunSetup:
    """What one test_run gives the VM: the context bytes, the packet (with its metadata
    and headroom bookkeeping) and where the program runs."""
    kind: str                              # "skb", "xdp", "raw_tp", "syscall"
    ctx: bytearray
    cpu: int
    repeat: int
    packet: bytearray | None = None        # packet bytes, metadata first (xdp)
    pkt_start: int = 0                     # data offset inside `packet` (after metadata / L2 pull)
    meta_len: int = 0
    data_size_out: int = 0                 # 0 = as large as produced
    ctx_size_out: int | None = None        # None: no ctx_out
    xdp_data_end: int | None = None        # xdp_md.data_end given in ctx_in (echoed back)
    #: BPF_F_TEST_XDP_LIVE_FRAMES: every repeat runs on a fresh copy of the packet, which is
    #: then "sent" (dropped: the emulator has no devices); retval 0, data_out = the input
    live: bool = False


@dataclass
class PacketFrame:
    """The packet of one test_run as the program sees it: `buf` holds headroom + packet
    (+ tailroom for XDP), and meta <= data <= end are offsets into it.  `sync` writes the
    current pointers into the hidden u64 fields of the run-time context (see
    fixups.convert_ctx_accesses), which is how xdp_adjust_* move them."""
    buf: bytearray
    meta: int
    data: int
    end: int
    frags: bytearray = field(default_factory=bytearray)   # XDP: bytes past the linear part
    base: int = 0                       # VM address of buf[0]
    ctx: bytearray | None = None        # the run-time context buffer
    layout: CtxLayout | None = None
    moved: bool = False

    def reset(self, other: "PacketFrame") -> None:
        """Take the packet and pointers of a freshly built frame (live-frames repeats)."""
        self.buf[:] = other.buf
        self.frags[:] = other.frags
        self.meta, self.data, self.end = other.meta, other.data, other.end
        self.sync()

    def out(self) -> bytes:
        return bytes(self.buf[self.meta:self.end]) + bytes(self.frags)

    def sync(self) -> None:
        if self.ctx is None or self.layout is None:
            return
        values = {"data": self.data, "data_end": self.end, "data_meta": self.meta}
        hidden = self.layout.pointer_fields()
        for name, off in values.items():
            h = hidden[self.layout.fields[name].off]
            self.ctx[h:h + 8] = (self.base + off).to_bytes(8, "little")


def xdp_frame(packet: bytes, meta_len: int) -> PacketFrame:
    """bpf_prog_test_run_xdp's buffer: XDP_PACKET_HEADROOM, the data, tailroom up to one
    page minus the skb_shared_info area (frame_sz = PAGE_SIZE).  Data beyond the linear
    part (XDP_LINEAR_MAX bytes) goes into page frags, which direct packet access does not
    see but data_out and bpf_xdp_get_buff_len do."""
    linear = packet[:XDP_LINEAR_MAX]
    buf = bytearray(PAGE_SIZE - SKB_TAILROOM)
    buf[XDP_PACKET_HEADROOM:XDP_PACKET_HEADROOM + len(linear)] = linear
    start = XDP_PACKET_HEADROOM
    return PacketFrame(buf, start, start + meta_len, start + len(linear), bytearray(packet[XDP_LINEAR_MAX:]))


def _einval(msg: str) -> BpfError:
    return BpfError(errno.EINVAL, msg)


def _check_cpu(attr: TestRunAttr, nr_cpus: int, default_cpu: int, honours_cpu: bool) -> int:
    on_cpu = bool(attr.flags & BPF_F_TEST_RUN_ON_CPU)
    if not honours_cpu:
        if attr.flags or attr.cpu:
            raise _einval("this program type takes neither flags nor cpu in test_run")
        return default_cpu
    if attr.flags & ~BPF_F_TEST_RUN_ON_CPU:
        raise _einval(f"unsupported test_run flags {attr.flags:#x}")
    if not on_cpu:
        if attr.cpu:
            raise _einval("cpu given without BPF_F_TEST_RUN_ON_CPU")
        return default_cpu
    if not 0 <= attr.cpu < nr_cpus:
        raise BpfError(errno.ENXIO, f"cpu {attr.cpu} is not a possible CPU")
    return attr.cpu


def _repeat(attr: TestRunAttr, allowed: bool) -> int:
    if attr.repeat < 0:
        raise _einval("negative repeat")
    if not allowed and attr.repeat > 1:
        raise _einval("this program type does not take repeat")
    return max(1, attr.repeat)


def _ctx_in(attr: TestRunAttr, layout: CtxLayout) -> bytearray:
    """bpf_ctx_init: a shorter ctx_in is zero-extended, a longer one must be zero beyond."""
    data = attr.ctx_in or b""
    if len(data) > layout.size and any(data[layout.size:]):     # bpf_check_uarg_tail_zero
        raise BpfError(errno.E2BIG, f"ctx_in has non-zero bytes past sizeof(struct {layout.name})")
    buf = bytearray(layout.size)
    buf[:min(len(data), layout.size)] = data[:layout.size]
    return buf


def _only_settable(buf: bytes, layout: CtxLayout) -> None:
    """User space may only preset the fields the kernel copies in; others must be zero."""
    settable = bytearray(layout.size)
    for f in layout.fields.values():
        if f.user_settable:
            settable[f.off:f.off + f.size] = b"\xff" * f.size
    for i, b in enumerate(buf):
        if b and not settable[i]:
            hit = layout.field_at(i)
            name = hit[0] if hit else f"offset {i}"
            raise _einval(f"ctx_in sets {layout.name}.{name}, which user space may not set")


def prepare_test_run(prog_type: int, expected_attach_type: int, attr: TestRunAttr,
                     nr_cpus: int, default_cpu: int, max_ctx_offset: int = 0) -> RunSetup:
    """Validate a test_run request as the kernel's runner for `prog_type` does."""
    if attr.batch_size and prog_type != ProgType.XDP:
        raise _einval("batch_size is only for XDP live frames")
    if prog_type in _SKB_TYPES:
        return _prepare_skb(prog_type, attr, default_cpu)
    if prog_type == ProgType.XDP:
        return _prepare_xdp(attr, default_cpu)
    if prog_type in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        if attr.data_in or attr.data_size_out or attr.ctx_size_out:
            raise _einval("raw_tp test_run takes only ctx_in")
        ctx = attr.ctx_in or b""
        if len(ctx) > RAW_TP_ARGS.size or len(ctx) < max_ctx_offset:
            raise _einval(f"ctx_in of {len(ctx)} bytes: the program reads {max_ctx_offset}, "
                          f"at most {RAW_TP_ARGS.size} allowed")
        repeat = _repeat(attr, allowed=False)
        cpu = _check_cpu(attr, nr_cpus, default_cpu, honours_cpu=True)
        return RunSetup("raw_tp", bytearray(ctx), cpu, repeat)
    if prog_type == ProgType.SYSCALL:
        if attr.data_in or attr.data_size_out or attr.ctx_size_out:
            raise _einval("syscall test_run takes only ctx_in")
        repeat = _repeat(attr, allowed=False)
        cpu = _check_cpu(attr, nr_cpus, default_cpu, honours_cpu=False)
        ctx = attr.ctx_in or b""
        if len(ctx) > U16_MAX or len(ctx) < max_ctx_offset:
            raise _einval(f"ctx_in of {len(ctx)} bytes: the program reads {max_ctx_offset}")
        return RunSetup("syscall", bytearray(ctx), cpu, repeat, ctx_size_out=len(ctx))
    if prog_type == ProgType.TRACING:
        # bpf_prog_test_run_tracing runs only fentry/fexit/fmod_ret (by calling the kernel's
        # bpf_fentry_test* functions, which the emulator does not have).
        if expected_attach_type in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                                    AttachType.MODIFY_RETURN):
            raise BpfError(ENOTSUPP, "fentry/fexit test_run is not emulated")
        raise BpfError(errno.EFAULT, "test_run of this tracing attach type is not supported")
    raise BpfError(ENOTSUPP, f"program type {prog_type} has no test_run")


def _packet_in(attr: TestRunAttr, headroom: int, tailroom: int) -> bytearray:
    data = attr.data_in or b""
    if len(data) < ETH_HLEN:
        raise _einval(f"data_in of {len(data)} bytes is shorter than an Ethernet header")
    if len(data) > PAGE_SIZE - headroom - tailroom:
        raise _einval(f"data_in of {len(data)} bytes does not fit one page")
    return bytearray(data)


def _prepare_skb(prog_type: int, attr: TestRunAttr, default_cpu: int) -> RunSetup:
    cpu = _check_cpu(attr, 0, default_cpu, honours_cpu=False)
    repeat = _repeat(attr, allowed=True)
    pkt = _packet_in(attr, NET_SKB_PAD, SKB_TAILROOM)
    ctx = _ctx_in(attr, SK_BUFF) if attr.ctx_in else bytearray(SK_BUFF.size)
    _only_settable(ctx, SK_BUFF)
    pull = 0 if prog_type in _L2_TYPES else ETH_HLEN
    proto = int.from_bytes(pkt[12:14], "big")
    for name, value in (("len", len(pkt) - pull), ("protocol", struct.unpack("<H", struct.pack(">H", proto))[0]),
                        ("wire_len", SK_BUFF.get(ctx, "wire_len") or len(pkt) - pull),
                        ("ifindex", SK_BUFF.get(ctx, "ifindex") or LOOPBACK_IFINDEX)):
        f = SK_BUFF.fields[name]
        ctx[f.off:f.off + f.size] = value.to_bytes(f.size, "little")
    return RunSetup("skb", ctx, cpu, repeat, packet=pkt, pkt_start=pull,
                    data_size_out=attr.data_size_out,
                    ctx_size_out=SK_BUFF.size if attr.ctx_in else None)


def _prepare_xdp(attr: TestRunAttr, default_cpu: int) -> RunSetup:
    if attr.flags & ~BPF_F_TEST_XDP_LIVE_FRAMES:
        raise _einval(f"unsupported XDP test_run flags {attr.flags:#x}")
    live = bool(attr.flags & BPF_F_TEST_XDP_LIVE_FRAMES)
    if attr.batch_size and not live:
        raise _einval("batch_size is only for XDP live frames")
    if live and attr.batch_size > TEST_XDP_MAX_BATCH:
        raise BpfError(errno.E2BIG, f"batch_size above {TEST_XDP_MAX_BATCH}")
    if live and attr.ctx_in:
        raise _einval("XDP live frames take no ctx_in (observed on 6.18)")
    repeat = _repeat(attr, allowed=True)
    pkt = bytearray(attr.data_in or b"")
    if len(pkt) < ETH_HLEN:
        raise _einval(f"data_in of {len(pkt)} bytes is shorter than an Ethernet header")
    if len(pkt) > XDP_LINEAR_MAX and live:
        raise _einval("live frames cannot be jumbo frames")
    if len(pkt) > XDP_LINEAR_MAX + MAX_SKB_FRAGS * PAGE_SIZE:
        raise BpfError(errno.ENOMEM, f"data_in of {len(pkt)} bytes needs more than {MAX_SKB_FRAGS} frags")
    meta_len = 0
    data_end = None
    if attr.ctx_in:
        md = _ctx_in(attr, XDP_MD)
        data, data_end, data_meta = (XDP_MD.get(md, n) for n in ("data", "data_end", "data_meta"))
        if XDP_MD.get(md, "egress_ifindex"):
            raise _einval("xdp_md.egress_ifindex must be 0")
        if data_meta or data > len(pkt) or data > data_end or data_end > len(pkt) or data % 4 or data > 255:
            raise _einval("xdp_md data/data_meta/data_end do not describe the packet")
        if XDP_MD.get(md, "ingress_ifindex"):
            raise BpfError(errno.ENODEV, "the emulator has no network devices")
        if XDP_MD.get(md, "rx_queue_index"):
            raise _einval("rx_queue_index without ingress_ifindex")
        meta_len = data
    return RunSetup("xdp", bytearray(XDP_MD.size), default_cpu, repeat, packet=pkt, pkt_start=meta_len,
                    meta_len=meta_len, data_size_out=attr.data_size_out,
                    ctx_size_out=XDP_MD.size if attr.ctx_in and not live else None, xdp_data_end=data_end,
                    live=live)
