"""The helper prototype table: ids match enum bpf_func_id, arg types are kernel names,
availability per program type / capability, and every implementation has a prototype."""

from __future__ import annotations

import pytest

from harness.kernel.helpers import FUNC_IDS, PROTOS, func_id_name, func_proto, split_type
from harness.kernel.helpers.registry import IMPLS
from harness.kernel.helpers import dispatch  # noqa: F401  (fills IMPLS)
from harness.uapi import AttachType, ProgType

KNOWN_ARGS = {
    "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_MAP_VALUE", "ARG_ANYTHING", "ARG_PTR_TO_MEM",
    "ARG_CONST_SIZE", "ARG_CONST_SIZE_OR_ZERO", "ARG_PTR_TO_CONST_STR", "ARG_PTR_TO_FUNC",
    "ARG_PTR_TO_STACK_OR_NULL", "ARG_PTR_TO_PERCPU_BTF_ID", "ARG_PTR_TO_SPIN_LOCK", "ARG_PTR_TO_CTX",
    "ARG_PTR_TO_UNINIT_MEM", "ARG_PTR_TO_RINGBUF_MEM", "ARG_CONST_ALLOC_SIZE_OR_ZERO", "ARG_PTR_TO_BTF_ID",
}
KNOWN_FLAGS = {"MEM_RDONLY", "PTR_MAYBE_NULL", "MEM_UNINIT", "OBJ_RELEASE"}


@pytest.mark.parametrize("name, func_id", [
    ("map_lookup_elem", 1), ("map_update_elem", 2), ("map_delete_elem", 3), ("ktime_get_ns", 5),
    ("trace_printk", 6), ("get_prandom_u32", 7), ("get_smp_processor_id", 8), ("tail_call", 12),
    ("spin_lock", 93), ("probe_read_kernel", 113), ("seq_printf", 126), ("seq_write", 127),
    ("ringbuf_output", 130), ("ringbuf_query", 134), ("per_cpu_ptr", 153), ("this_cpu_ptr", 154),
    ("for_each_map_elem", 164), ("snprintf", 165), ("loop", 181), ("strncmp", 182),
    ("map_lookup_percpu_elem", 195), ("cgrp_storage_delete", 211),
])
def test_ids_match_enum_bpf_func_id(name, func_id):
    assert FUNC_IDS[name] == func_id
    assert func_id_name(func_id) == f"bpf_{name}"


def test_unknown_id_name():
    assert func_id_name(9999) == "unknown"


@pytest.mark.parametrize("proto", list(PROTOS.values()), ids=lambda p: p.name)
def test_every_row_uses_kernel_vocabulary(proto):
    assert proto.ret.split("|")[0].startswith("RET_")
    assert len(proto.args) <= 5
    for arg in proto.args:
        base, flags = split_type(arg)
        assert base in KNOWN_ARGS and flags <= KNOWN_FLAGS, arg


def test_every_implementation_has_a_prototype():
    assert set(IMPLS) <= set(PROTOS)


@pytest.mark.parametrize("name, prog_type, attach, privileged, offered", [
    ("map_lookup_elem", ProgType.XDP, 0, True, True),
    ("seq_printf", ProgType.TRACING, AttachType.TRACE_ITER, True, True),
    ("seq_printf", ProgType.TRACING, AttachType.TRACE_FENTRY, True, False),
    ("seq_printf", ProgType.SOCKET_FILTER, 0, True, False),
    ("trace_printk", ProgType.SOCKET_FILTER, 0, False, False),
    ("trace_printk", ProgType.SOCKET_FILTER, 0, True, True),
    ("xdp_adjust_head", ProgType.SCHED_CLS, 0, True, False),
    ("skb_load_bytes", ProgType.SCHED_CLS, 0, True, True),
])
def test_func_proto_availability(name, prog_type, attach, privileged, offered):
    assert (func_proto(FUNC_IDS[name], prog_type, attach, privileged) is not None) == offered


@pytest.mark.parametrize("name, args", [
    ("map_lookup_elem", ("ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY")),
    ("strncmp", ("ARG_PTR_TO_MEM|MEM_RDONLY", "ARG_CONST_SIZE", "ARG_PTR_TO_CONST_STR")),
    ("loop", ("ARG_ANYTHING", "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", "ARG_ANYTHING")),
])
def test_selected_prototypes(name, args):
    assert PROTOS[FUNC_IDS[name]].args == args


@pytest.mark.parametrize("name, gpl", [("trace_printk", True), ("probe_read_kernel", True),
                                       ("snprintf", True), ("map_lookup_elem", False)])
def test_gpl_only(name, gpl):
    assert PROTOS[FUNC_IDS[name]].gpl_only == gpl
