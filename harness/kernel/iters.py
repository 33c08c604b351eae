"""bpf_iter links and iterator files for the map-element iterator (`iter/bpf_map_elem`,
kernel/bpf/map_iter.c + bpf_iter.c).

link_create(prog, 0, BPF_TRACE_ITER, iter_map_fd=map) makes an IterLink; iter_create
opens an iterator "file"; iter_read runs the program once per map element with
`struct bpf_iter__bpf_map_elem { meta, map, key, value }` and once more with key and value
NULL (the kernel's stop call), and returns what the program wrote with bpf_seq_write /
bpf_seq_printf.  Per-CPU maps show the value as every possible CPU's round_up(vs, 8)
copy back to back (upstream-spec §2.4).

Simplifications (documented): the emulator has no vmlinux BTF, so any TRACING program
with expected_attach_type BPF_TRACE_ITER is taken to be a bpf_map_elem iterator; the
value buffer is a copy (writes through ctx->value do not reach the map); one read(2)
returns the whole output.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from harness.kernel.helpers.call import RunState
from harness.kernel.progtypes import ITER_MAP_ELEM, ITER_META
from harness.kernelapi import BpfError
from harness.uapi import AttachType, MapType, ProgType

#: map types with iter_seq_info (array, percpu array, the hash family)
ITERABLE_MAPS = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.HASH, MapType.PERCPU_HASH,
                           MapType.LRU_HASH, MapType.LRU_PERCPU_HASH})


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
        for key, value in list(link.map.iter_elems()):
            kb = mem.add(bytearray(key), writable=False, kind="iter_key")
            vb = mem.add(bytearray(value), kind="iter_value")
            regions += [kb, vb]
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
