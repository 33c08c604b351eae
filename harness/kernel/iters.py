"""bpf_iter links and iterator files for the map-element iterator (`iter/bpf_map_elem`,
kernel/bpf/map_iter.c + bpf_iter.c).

link_create(prog, 0, BPF_TRACE_ITER, iter_map_fd=map) makes an IterLink; iter_create
opens an iterator "file"; iter_read runs the program once per map element with
`struct bpf_iter__bpf_map_elem { meta, map, key, value }` and once more with key and value
NULL (the kernel's stop call), and returns what the program wrote with bpf_seq_write /
bpf_seq_printf.

What ctx->value points at (the kernel registers it as PTR_TO_BUF | PTR_MAYBE_NULL,
writable; the key is MEM_RDONLY), by map type -- table VALUE_VIEW:
  ARRAY, HASH, LRU_HASH   the element itself (arraymap.c / hashtab.c seq_show hand out the
                          element's value), so a write through ctx->value IS a map update,
                          at the same address bpf_map_lookup_elem returns.
  the per-CPU types       a scratch buffer holding every possible CPU's round_up(vs, 8)
                          copy back to back (upstream-spec §2.4); the program may write it,
                          but the kernel refills it for the next element and never copies it
                          back, so such writes do not reach the map.
The key is the element's key (hash) or a copy of the index (array), read-only either way.

Simplifications (documented): the emulator has no vmlinux BTF, so any TRACING program
with expected_attach_type BPF_TRACE_ITER is taken to be a bpf_map_elem iterator; one
read(2) returns the whole output; link_create does not check the program's largest key /
value access against the map's sizes (the kernel's EACCES: the verifier does not record
max_rdonly_access / max_rdwr_access).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from harness.kernel.helpers.call import RunState
from harness.kernel.progtypes import ITER_MAP_ELEM, ITER_META
from harness.kernelapi import BpfError
from harness.uapi import AttachType, MapType, ProgType

#: map type -> what ctx->value points at: "element" (the live value: writes reach the map)
#: or "percpu_copy" (a scratch copy of every CPU's value: writes are dropped).  The keys are
#: the map types bpf_iter_attach_map accepts (the others: EINVAL).
VALUE_VIEW = {
    MapType.ARRAY: "element", MapType.HASH: "element", MapType.LRU_HASH: "element",
    MapType.PERCPU_ARRAY: "percpu_copy", MapType.PERCPU_HASH: "percpu_copy",
    MapType.LRU_PERCPU_HASH: "percpu_copy",
}
ITERABLE_MAPS = frozenset(VALUE_VIEW)


def iter_values(bpf_map, cpu: int):
    """(key bytes, value buffer) per element, the buffer as the kernel shows it (VALUE_VIEW).

    "element" uses the program-side walk (prog_iter), whose storage is the element's live
    bytearray; a hash walk snapshots the keys and skips elements deleted meanwhile.
    """
    if VALUE_VIEW[bpf_map.map_type] == "element":
        for key, storage in bpf_map.prog_iter(cpu):
            yield bytes(key), storage
    else:
        for key, value in list(bpf_map.iter_elems()):
            yield key, bytearray(value)


@dataclass
class IterLink:
    id: int
    prog: object
    map: object


@dataclass
class IterFile:
    link: IterLink
    session_id: int
    done: bool = False
    pending: bytes = b""
    seq: bytearray = field(default_factory=bytearray)


def link_create(kernel, prog, target_fd: int, attach_type: int, iter_map_fd: int, flags: int) -> int:
    if attach_type != AttachType.TRACE_ITER:
        raise BpfError(errno.EINVAL, f"attach type {attach_type} links are not emulated")
    if prog.prog_type != ProgType.TRACING or prog.expected_attach_type != AttachType.TRACE_ITER:
        raise BpfError(errno.EINVAL, "program is not an iterator (TRACING, BPF_TRACE_ITER)")
    if target_fd or flags:
        raise BpfError(errno.EINVAL, "target_fd and flags must be 0 for an iterator link")
    if not iter_map_fd:
        raise BpfError(errno.EBADF, "bpf_map_elem iterator needs a map fd")
    bpf_map = kernel._map_from_fd(iter_map_fd)
    if bpf_map.map_type not in ITERABLE_MAPS:
        raise BpfError(errno.EINVAL, f"map type {bpf_map.map_type} has no element iterator")
    return kernel.fds.install(IterLink(kernel.fds.new_id(), prog, bpf_map))


def iter_create(kernel, link_fd: int) -> int:
    link = kernel.fds.get(link_fd)
    if not isinstance(link, IterLink):
        raise BpfError(errno.EINVAL, f"fd {link_fd} is not an iterator link")
    return kernel.fds.install(IterFile(link, kernel.fds.new_id()))


def iter_read(kernel, iter_fd: int) -> bytes:
    f = kernel.fds.get(iter_fd)
    if not isinstance(f, IterFile):
        raise BpfError(errno.EINVAL, f"fd {iter_fd} is not an iterator")
    if f.done:
        return b""
    from harness.kernel.helpers.runenv import Runner, kernel_memory
    mem = kernel_memory(kernel)
    runner = Runner(kernel, kernel.config.default_cpu)
    link = f.link
    state = RunState(kernel, link.prog, kernel.config.default_cpu, seq=f.seq)
    seq_handle = mem.add_object(f, kind="seq_file", name="seq_file")
    meta = ITER_META.pack(seq=seq_handle, session_id=f.session_id, seq_num=0)
    meta_base = mem.add(meta, kind="ctx", name="bpf_iter_meta")
    map_addr = mem.add_object(link.map, kind="map", name=link.map.name)
    regions = [meta_base, seq_handle]
    try:
        seq_num = 0
        in_place = VALUE_VIEW[link.map.map_type] == "element"
        for key, value in iter_values(link.map, kernel.config.default_cpu):
            kb = mem.add(bytearray(key), writable=False, kind="iter_key")
            regions.append(kb)
            if in_place:   # the element's own address, as bpf_map_lookup_elem gives it
                vb = mem.address_of(value, name=link.map.name)
            else:
                vb = mem.add(value, kind="iter_value", name="percpu_value_buf")
                regions.append(vb)
            ctx = ITER_MAP_ELEM.pack(meta=meta_base, map=map_addr, key=kb, value=vb)
            meta[16:24] = seq_num.to_bytes(8, "little")
            cb = mem.add(ctx, writable=False, kind="ctx", name="bpf_iter__bpf_map_elem")
            regions.append(cb)
            ret = runner.run(link.prog, state, cb)
            seq_num += 1
            if ret & 0xFFFFFFFF:
                break
        else:
            meta[16:24] = seq_num.to_bytes(8, "little")
            ctx = ITER_MAP_ELEM.pack(meta=meta_base, map=map_addr)
            cb = mem.add(ctx, writable=False, kind="ctx", name="bpf_iter__bpf_map_elem")
            regions.append(cb)
            runner.run(link.prog, state, cb)
    finally:
        runner.close()
        for base in regions:
            mem.remove(base)
    f.done = True
    return bytes(f.seq)
