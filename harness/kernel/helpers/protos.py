"""The helper prototype table: what the verifier checks and the VM dispatches on.

One row per helper the emulated kernel offers, with the kernel's own vocabulary
(struct bpf_func_proto in include/linux/bpf.h; rows from kernel/bpf/helpers.c,
kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c, net/core/filter.c):

- `ret`: RET_INTEGER, RET_VOID, RET_PTR_TO_MAP_VALUE_OR_NULL, RET_PTR_TO_MEM_OR_BTF_ID (with
  the type flags PTR_MAYBE_NULL / MEM_RDONLY), RET_PTR_TO_RINGBUF_MEM_OR_NULL.
- `args`: up to five ARG_* names; a type flag is written after a `|`
  (`ARG_PTR_TO_MEM|MEM_RDONLY`), see `split_type`.
- `gpl_only`: only programs with a GPL-compatible license may call it.
- `cap`: the capability the kernel demands before offering it (bpf_base_func_proto gates
  some helpers on bpf_capable() / perfmon_capable()); None = any loader.
- `prog_types`: None = offered to every program type (the base set), otherwise the set of
  types whose get_func_proto returns it; `attach_types` narrows further (seq_* helpers only
  exist for BPF_TRACE_ITER tracing programs).

The verifier (harness/kernel/verifier) and the VM (through harness.kernel.helpers.dispatch)
read this single table; a helper missing here is "unknown func" for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.kernel.helpers.ids import FUNC_IDS, func_id_name
from harness.uapi import AttachType, ProgType

#: Licenses the kernel treats as GPL-compatible (include/linux/license.h license_is_gpl_compatible).
GPL_COMPATIBLE = frozenset({
    "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
})


def license_is_gpl_compatible(license: str) -> bool:
    return license in GPL_COMPATIBLE


def split_type(arg_or_ret: str) -> tuple[str, frozenset[str]]:
    """`ARG_PTR_TO_MEM|MEM_RDONLY` -> ("ARG_PTR_TO_MEM", {"MEM_RDONLY"})."""
    base, *flags = arg_or_ret.split("|")
    return base, frozenset(flags)


@dataclass(frozen=True)
class HelperProto:
    func_id: int
    name: str                       # short name, e.g. "map_lookup_elem"
    ret: str
    args: tuple[str, ...] = ()
    gpl_only: bool = False
    cap: str | None = None          # "bpf" (CAP_BPF) or "perfmon" (CAP_PERFMON) or None
    prog_types: frozenset[int] | None = None
    attach_types: frozenset[int] | None = None

    @property
    def kernel_name(self) -> str:
        return func_id_name(self.func_id)


_NET_SKB = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT,
                      ProgType.CGROUP_SKB, ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT})
_TC = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT})
_XDP = frozenset({ProgType.XDP})
_TRACING = frozenset({ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT,
                      ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING,
                      ProgType.LSM, ProgType.SYSCALL})
_ITER = frozenset({AttachType.TRACE_ITER})
_SYSCALL = frozenset({ProgType.SYSCALL})

# Argument shorthands, spelled as the kernel spells them.
MAP = "ARG_CONST_MAP_PTR"
KEY = "ARG_PTR_TO_MAP_KEY"
VALUE = "ARG_PTR_TO_MAP_VALUE"
ANY = "ARG_ANYTHING"
RO_MEM = "ARG_PTR_TO_MEM|MEM_RDONLY"
RO_MEM_OR_NULL = "ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY"
SIZE = "ARG_CONST_SIZE"
SIZE0 = "ARG_CONST_SIZE_OR_ZERO"
UNINIT = "ARG_PTR_TO_UNINIT_MEM"

_ROWS: list[tuple] = [
    # name, ret, args, extra keyword arguments
    ("map_lookup_elem", "RET_PTR_TO_MAP_VALUE_OR_NULL", (MAP, KEY), {}),
    ("map_update_elem", "RET_INTEGER", (MAP, KEY, VALUE, ANY), {}),
    ("map_delete_elem", "RET_INTEGER", (MAP, KEY), {}),
    ("map_push_elem", "RET_INTEGER", (MAP, VALUE, ANY), {}),
    ("map_pop_elem", "RET_INTEGER", (MAP, "ARG_PTR_TO_MAP_VALUE|MEM_UNINIT"), {}),
    ("map_peek_elem", "RET_INTEGER", (MAP, "ARG_PTR_TO_MAP_VALUE|MEM_UNINIT"), {}),
    ("map_lookup_percpu_elem", "RET_PTR_TO_MAP_VALUE_OR_NULL", (MAP, KEY, ANY), {}),
    ("probe_read_kernel", "RET_INTEGER", (UNINIT, SIZE0, ANY), {"gpl_only": True, "cap": "perfmon"}),
    ("probe_read_kernel_str", "RET_INTEGER", (UNINIT, SIZE0, ANY), {"gpl_only": True, "cap": "perfmon"}),
    ("ktime_get_ns", "RET_INTEGER", (), {}),
    ("ktime_get_boot_ns", "RET_INTEGER", (), {}),
    ("ktime_get_coarse_ns", "RET_INTEGER", (), {}),
    ("ktime_get_tai_ns", "RET_INTEGER", (), {}),
    ("jiffies64", "RET_INTEGER", (), {}),
    ("trace_printk", "RET_INTEGER", (RO_MEM, SIZE), {"gpl_only": True, "cap": "perfmon"}),
    ("trace_vprintk", "RET_INTEGER", (RO_MEM, SIZE, RO_MEM_OR_NULL, SIZE0),
     {"gpl_only": True, "cap": "perfmon"}),
    ("snprintf", "RET_INTEGER", ("ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_UNINIT", SIZE0,
                                 "ARG_PTR_TO_CONST_STR", RO_MEM_OR_NULL, SIZE0),
     {"gpl_only": True, "cap": "perfmon"}),
    ("strncmp", "RET_INTEGER", (RO_MEM, SIZE, "ARG_PTR_TO_CONST_STR"), {}),
    ("get_prandom_u32", "RET_INTEGER", (), {}),
    ("get_smp_processor_id", "RET_INTEGER", (), {}),
    ("get_numa_node_id", "RET_INTEGER", (), {}),
    ("tail_call", "RET_VOID", ("ARG_PTR_TO_CTX", MAP, ANY), {}),
    ("spin_lock", "RET_VOID", ("ARG_PTR_TO_SPIN_LOCK",), {"cap": "bpf"}),
    ("spin_unlock", "RET_VOID", ("ARG_PTR_TO_SPIN_LOCK",), {"cap": "bpf"}),
    ("per_cpu_ptr", "RET_PTR_TO_MEM_OR_BTF_ID|PTR_MAYBE_NULL|MEM_RDONLY",
     ("ARG_PTR_TO_PERCPU_BTF_ID", ANY), {"cap": "perfmon"}),
    ("this_cpu_ptr", "RET_PTR_TO_MEM_OR_BTF_ID|MEM_RDONLY", ("ARG_PTR_TO_PERCPU_BTF_ID",),
     {"cap": "perfmon"}),
    ("for_each_map_elem", "RET_INTEGER", (MAP, "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", ANY),
     {"cap": "bpf"}),
    ("loop", "RET_INTEGER", (ANY, "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", ANY), {"cap": "bpf"}),
    ("ringbuf_output", "RET_INTEGER", (MAP, RO_MEM, SIZE0, ANY), {"cap": "bpf"}),
    ("ringbuf_reserve", "RET_PTR_TO_RINGBUF_MEM_OR_NULL", (MAP, "ARG_CONST_ALLOC_SIZE_OR_ZERO", ANY),
     {"cap": "bpf"}),
    ("ringbuf_submit", "RET_VOID", ("ARG_PTR_TO_RINGBUF_MEM|OBJ_RELEASE", ANY), {"cap": "bpf"}),
    ("ringbuf_discard", "RET_VOID", ("ARG_PTR_TO_RINGBUF_MEM|OBJ_RELEASE", ANY), {"cap": "bpf"}),
    ("ringbuf_query", "RET_INTEGER", (MAP, ANY), {"cap": "bpf"}),
    # tracing-only
    ("probe_read", "RET_INTEGER", (UNINIT, SIZE0, ANY), {"gpl_only": True, "prog_types": _TRACING}),
    # Offered to every program type by 6.18's base protos (observed on the running kernel:
    # a SOCKET_FILTER may call them; comm only with CAP_PERFMON).
    ("get_current_pid_tgid", "RET_INTEGER", (), {}),
    ("get_current_uid_gid", "RET_INTEGER", (), {}),
    ("get_current_comm", "RET_INTEGER", (UNINIT, SIZE), {"cap": "perfmon"}),
    ("seq_printf", "RET_INTEGER", ("ARG_PTR_TO_BTF_ID", RO_MEM, SIZE, RO_MEM_OR_NULL, SIZE0),
     {"gpl_only": True, "prog_types": frozenset({ProgType.TRACING}), "attach_types": _ITER}),
    ("seq_write", "RET_INTEGER", ("ARG_PTR_TO_BTF_ID", RO_MEM, SIZE0),
     {"gpl_only": True, "prog_types": frozenset({ProgType.TRACING}), "attach_types": _ITER}),
    # BPF_PROG_TYPE_SYSCALL (syscall_prog_func_proto, kernel/bpf/syscall.c): sys_bpf only with
    # CAP_PERFMON (it follows the raw pointers in the attr).  copy_from_user is a tracing
    # helper that might sleep; SYSCALL programs are always sleepable, and the other tracing
    # types are not offered it here because the table has no might_sleep column.
    ("sys_bpf", "RET_INTEGER", (ANY, RO_MEM, SIZE), {"cap": "perfmon", "prog_types": _SYSCALL}),
    ("sys_close", "RET_INTEGER", (ANY,), {"prog_types": _SYSCALL}),
    ("copy_from_user", "RET_INTEGER", (UNINIT, SIZE0, ANY), {"prog_types": _SYSCALL}),
    # networking
    ("skb_load_bytes", "RET_INTEGER", ("ARG_PTR_TO_CTX", ANY, UNINIT, SIZE), {"prog_types": _NET_SKB}),
    ("skb_store_bytes", "RET_INTEGER", ("ARG_PTR_TO_CTX", ANY, RO_MEM, SIZE, ANY), {"prog_types": _TC}),
    ("xdp_adjust_head", "RET_INTEGER", ("ARG_PTR_TO_CTX", ANY), {"prog_types": _XDP}),
    ("xdp_adjust_tail", "RET_INTEGER", ("ARG_PTR_TO_CTX", ANY), {"prog_types": _XDP}),
    ("xdp_adjust_meta", "RET_INTEGER", ("ARG_PTR_TO_CTX", ANY), {"prog_types": _XDP}),
    ("xdp_get_buff_len", "RET_INTEGER", ("ARG_PTR_TO_CTX",), {"prog_types": _XDP}),
]

#: helper id -> prototype.
PROTOS: dict[int, HelperProto] = {}
for _name, _ret, _args, _extra in _ROWS:
    _id = FUNC_IDS[_name]
    PROTOS[_id] = HelperProto(_id, _name, _ret, tuple(_args), **_extra)
del _name, _ret, _args, _extra, _id


def func_proto(func_id: int, prog_type: int, expected_attach_type: int = 0,
               privileged: bool = True) -> HelperProto | None:
    """The prototype a program of `prog_type` gets for `func_id`, or None when the kernel's
    get_func_proto would not offer it (the verifier then says `unknown func`).

    `privileged` False models a loader with CAP_BPF only: perfmon-gated helpers vanish.
    """
    proto = PROTOS.get(func_id)
    if proto is None:
        return None
    if proto.prog_types is not None and prog_type not in proto.prog_types:
        return None
    if proto.attach_types is not None and expected_attach_type not in proto.attach_types:
        return None
    if proto.cap == "perfmon" and not privileged:
        return None
    return proto
