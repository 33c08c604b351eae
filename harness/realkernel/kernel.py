"""`RealKernel`: the Kernel protocol (harness.kernelapi) over the running kernel's bpf(2).

Each method fills one attrs.py layout, keeps the buffers it points to alive for the call,
and turns the result into the protocol's Python types.  Things the kernel cannot check
for us, because it only sees raw pointers, are checked here before the call:

- Value buffers are sized like `bpf_map_value_size()` (upstream-spec §1.6): per-CPU maps
  take `round_up(value_size, 8) * nr_possible_cpus`, or `value_size` with BPF_F_CPU /
  BPF_F_ALL_CPUS.  Output buffers are always allocated for the *larger* of the two
  layouts, so a kernel that interprets the flags differently from what we expect can
  never write past the buffer (a short buffer corrupts Python's heap).  Input keys and
  values of the wrong length are refused with EINVAL like libbpf's validate_map_op.
- BPF_PROG_TEST_RUN's `data_size_out == 0` means "unbounded" to the kernel, so an output
  buffer is always passed with its real size.

Map and program metadata needed for that sizing is cached per fd (filled on create /
load, or fetched with BPF_OBJ_GET_INFO_BY_FD for fds from elsewhere) and dropped on close.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

from harness.kernelapi import (BatchResult, BpfError, MapCreateAttr, MapInfo, ProgInfo,
                               ProgLoadAttr, ProgLoadResult, TestRunAttr, TestRunResult)
from harness.realkernel import attrs
from harness.realkernel.sys import address, bpf, buffer
from harness.realkernel.verifier_log import reason_line
from harness.uapi import (BPF_F_ALL_CPUS, BPF_F_CPU, PERCPU_MAP_TYPES, Cmd, MapType, ProgType,
                          round_up)

#: Start size of the verifier log buffer when the caller leaves log_size to us; it grows to
#: the kernel's log_true_size on ENOSPC.  The kernel refuses log_size >= 2**30.
LOG_START_SIZE = 1 << 20
LOG_MAX_SIZE = (1 << 30) - 1

POSSIBLE_CPUS_FILE = "/sys/devices/system/cpu/possible"

#: Map types whose user-space value is a u32 fd on update and a u32 id on lookup.
FD_MAP_TYPES = frozenset({
    MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS,
    MapType.HASH_OF_MAPS,
})

#: Maps whose batch ops are htab's own: the in/out batch token is a u32 bucket index.
#: Every other map uses the generic batch ops, whose token is a key.
HASH_BATCH_MAP_TYPES = frozenset({
    MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
    MapType.HASH_OF_MAPS,
})

#: Program types whose test_run copies a context back (ctx_out): the skb family, XDP,
#: the flow dissector and sk_lookup.  The others reject a ctx_out pointer with EINVAL
#: (raw_tp, syscall) or ignore it, so one is passed only when the caller asks for it.
CTX_OUT_PROG_TYPES = frozenset({
    ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB,
    ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.LWT_SEG6LOCAL, ProgType.XDP,
    ProgType.FLOW_DISSECTOR, ProgType.SK_LOOKUP,
})

#: BPF_PROG_TYPE_SYSCALL writes its context back into ctx_in (running-kernel.md §2).
CTX_IN_WRITEBACK_PROG_TYPES = frozenset({ProgType.SYSCALL})

#: Room for packet growth (bpf_xdp_adjust_tail, skb_change_tail) when the caller does not
#: size data_out: the result is trimmed to the kernel's data_size_out anyway.
DATA_OUT_HEADROOM = 4096


def parse_cpu_list(text: str) -> list[int]:
    """"0-3,5" -> [0, 1, 2, 3, 5] (the kernel's cpulist format)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


@dataclass(frozen=True)
class _MapMeta:
    type: int
    key_size: int
    value_size: int


class RealKernel:
    """bpf(2) on the running kernel.  Use `harness.realkernel.availability()` first: on a host
    where bpf(2) is unavailable every method raises BpfError (ENOSYS / EPERM)."""

    name = "real"

    def __init__(self):
        self._maps: dict[int, _MapMeta] = {}
        self._progs: dict[int, int] = {}
        self._open: set[int] = set()
        self._ncpus: int | None = None

    # --- housekeeping ---------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_all()

    def close_all(self) -> None:
        """Close every fd this object created (tests use it to avoid leaking kernel objects)."""
        for fd in sorted(self._open):
            try:
                self.close(fd)
            except BpfError:
                pass

    def _own(self, fd: int) -> int:
        self._open.add(fd)
        return fd

    def close(self, fd: int) -> None:
        self._maps.pop(fd, None)
        self._progs.pop(fd, None)
        self._open.discard(fd)
        try:
            os.close(fd)
        except OSError as exc:
            raise BpfError(exc.errno or errno.EBADF, f"close({fd}): {exc.strerror}") from None

    def nr_possible_cpus(self) -> int:
        """The number of CPUs in /sys/devices/system/cpu/possible, as libbpf counts them
        (not os.cpu_count(): per-CPU value buffers are laid out over *possible* CPUs)."""
        if self._ncpus is None:
            try:
                with open(POSSIBLE_CPUS_FILE) as f:
                    self._ncpus = len(parse_cpu_list(f.read())) or 1
            except (OSError, ValueError):
                self._ncpus = os.cpu_count() or 1
        return self._ncpus

    # --- map sizing -------------------------------------------------------------
    def _map(self, fd: int) -> _MapMeta:
        meta = self._maps.get(fd)
        if meta is None:
            info = self.map_get_info(fd)
            meta = _MapMeta(info.type, info.key_size, info.value_size)
            self._maps[fd] = meta
        return meta

    def _value_size(self, meta: _MapMeta, flags: int) -> int:
        """bpf_map_value_size(map, flags), upstream-spec §1.6."""
        if flags & (BPF_F_CPU | BPF_F_ALL_CPUS):
            return meta.value_size
        if meta.type in PERCPU_MAP_TYPES:
            return round_up(meta.value_size, 8) * self.nr_possible_cpus()
        if meta.type in FD_MAP_TYPES:
            return 4
        return meta.value_size

    def _value_room(self, meta: _MapMeta) -> int:
        """A value buffer size that is safe whatever flags the kernel honours."""
        return max(self._value_size(meta, 0), self._value_size(meta, BPF_F_CPU))

    @staticmethod
    def _check_len(what: str, data: bytes, want: int) -> None:
        if len(data) != want:
            raise BpfError(errno.EINVAL, f"{what} of {len(data)} bytes provided, expected {want}")

    def _key_buffer(self, meta: _MapMeta, key: bytes | None):
        if key is None:
            return None
        self._check_len("key", key, meta.key_size)
        return buffer(key)

    # --- maps -------------------------------------------------------------------
    def map_create(self, attr: MapCreateAttr) -> int:
        a = attrs.AttrMapCreate(
            map_type=attr.map_type, key_size=attr.key_size, value_size=attr.value_size,
            max_entries=attr.max_entries, map_flags=attr.map_flags,
            inner_map_fd=attr.inner_map_fd, numa_node=attr.numa_node,
            map_name=attr.map_name.encode()[:15], map_ifindex=attr.map_ifindex,
            btf_fd=attr.btf_fd, btf_key_type_id=attr.btf_key_type_id,
            btf_value_type_id=attr.btf_value_type_id,
            btf_vmlinux_value_type_id=attr.btf_vmlinux_value_type_id, map_extra=attr.map_extra)
        fd = self._own(bpf(Cmd.MAP_CREATE, a))
        self._maps[fd] = _MapMeta(attr.map_type, attr.key_size, attr.value_size)
        return fd

    def _elem(self, cmd: int, fd: int, key, value=None, flags: int = 0) -> int:
        a = attrs.AttrMapElem(map_fd=fd, key=address(key), value=address(value), flags=flags)
        return bpf(cmd, a)

    def map_lookup_elem(self, fd: int, key: bytes | None, flags: int = 0) -> bytes:
        return self._lookup(Cmd.MAP_LOOKUP_ELEM, fd, key, flags)

    def map_lookup_and_delete_elem(self, fd: int, key: bytes | None, flags: int = 0) -> bytes:
        return self._lookup(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, fd, key, flags)

    def _lookup(self, cmd: int, fd: int, key: bytes | None, flags: int) -> bytes:
        meta = self._map(fd)
        kbuf = self._key_buffer(meta, key)
        vbuf = buffer(size=self._value_room(meta))
        self._elem(cmd, fd, kbuf, vbuf, flags)
        return vbuf.raw[:self._value_size(meta, flags)]

    def map_update_elem(self, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
        meta = self._map(fd)
        kbuf = self._key_buffer(meta, key)
        self._check_len("value", value, self._value_size(meta, flags))
        vbuf = buffer(value, self._value_room(meta))
        self._elem(Cmd.MAP_UPDATE_ELEM, fd, kbuf, vbuf, flags)

    def map_delete_elem(self, fd: int, key: bytes) -> None:
        meta = self._map(fd)
        self._elem(Cmd.MAP_DELETE_ELEM, fd, self._key_buffer(meta, key))

    def map_get_next_key(self, fd: int, key: bytes | None) -> bytes:
        meta = self._map(fd)
        kbuf = self._key_buffer(meta, key)
        nbuf = buffer(size=meta.key_size)
        self._elem(Cmd.MAP_GET_NEXT_KEY, fd, kbuf, nbuf)
        return nbuf.raw[:meta.key_size]

    def map_freeze(self, fd: int) -> None:
        self._elem(Cmd.MAP_FREEZE, fd, None)

    # --- batch ops ----------------------------------------------------------------
    def _batch_token_size(self, meta: _MapMeta) -> int:
        return 4 if meta.type in HASH_BATCH_MAP_TYPES else max(meta.key_size, 1)

    def _lookup_batch(self, cmd: int, fd: int, in_batch: bytes | None, count: int,
                      elem_flags: int, flags: int) -> BatchResult:
        meta = self._map(fd)
        if count < 0:
            raise BpfError(errno.EINVAL, f"batch count {count} is negative")
        stride = self._value_size(meta, elem_flags)
        token = self._batch_token_size(meta)
        in_buf = buffer(in_batch, token) if in_batch is not None else None
        out_buf = buffer(size=max(token, 8))
        keys = buffer(size=meta.key_size * count)
        values = buffer(size=self._value_room(meta) * count)
        a = attrs.AttrMapBatch(in_batch=address(in_buf), out_batch=address(out_buf),
                               keys=address(keys), values=address(values), count=count,
                               map_fd=fd, elem_flags=elem_flags, flags=flags)
        done = False
        try:
            bpf(cmd, a)
        except BpfError as exc:
            if exc.errno != errno.ENOENT:
                exc.count = a.count
                raise
            done = True
        n = a.count
        return BatchResult(keys=keys.raw[:n * meta.key_size], values=values.raw[:n * stride],
                           count=n, out_batch=None if done else out_buf.raw[:token])

    def map_lookup_batch(self, fd: int, in_batch: bytes | None, count: int,
                         elem_flags: int = 0, flags: int = 0) -> BatchResult:
        return self._lookup_batch(Cmd.MAP_LOOKUP_BATCH, fd, in_batch, count, elem_flags, flags)

    def map_lookup_and_delete_batch(self, fd: int, in_batch: bytes | None, count: int,
                                    elem_flags: int = 0, flags: int = 0) -> BatchResult:
        return self._lookup_batch(Cmd.MAP_LOOKUP_AND_DELETE_BATCH, fd, in_batch, count,
                                  elem_flags, flags)

    def map_update_batch(self, fd: int, keys: bytes, values: bytes, count: int,
                         elem_flags: int = 0, flags: int = 0) -> int:
        meta = self._map(fd)
        self._check_len("batch keys", keys, meta.key_size * count)
        self._check_len("batch values", values, self._value_size(meta, elem_flags) * count)
        kbuf, vbuf = buffer(keys), buffer(values, self._value_room(meta) * count)
        return self._write_batch(Cmd.MAP_UPDATE_BATCH, fd, kbuf, vbuf, count, elem_flags, flags)

    def map_delete_batch(self, fd: int, keys: bytes, count: int, elem_flags: int = 0,
                         flags: int = 0) -> int:
        meta = self._map(fd)
        self._check_len("batch keys", keys, meta.key_size * count)
        return self._write_batch(Cmd.MAP_DELETE_BATCH, fd, buffer(keys), None, count,
                                 elem_flags, flags)

    @staticmethod
    def _write_batch(cmd, fd, kbuf, vbuf, count, elem_flags, flags) -> int:
        a = attrs.AttrMapBatch(keys=address(kbuf), values=address(vbuf), count=count,
                               map_fd=fd, elem_flags=elem_flags, flags=flags)
        try:
            bpf(cmd, a)
        except BpfError as exc:
            exc.count = a.count       # elements processed before the failure
            raise
        return a.count

    # --- loading with a verifier log ----------------------------------------------
    def _load_logged(self, cmd: int, attr, set_log, log_level: int, log_size: int):
        """Run a load command with a log buffer.  `set_log(attr, level, buf, size)` fills
        the command's log fields and returns the log_true_size reader.  With `log_size` 0
        the buffer starts at LOG_START_SIZE and grows to the kernel's log_true_size when a
        truncated log turned the result into ENOSPC.  Returns (fd, log)."""
        if log_size > LOG_MAX_SIZE:
            # The kernel refuses it (EINVAL) before touching the buffer; refusing here
            # avoids allocating a gigabyte only to be told so.
            raise BpfError(errno.EINVAL, f"log_size {log_size} is not below 2**30")
        size = log_size or LOG_START_SIZE
        while True:
            buf = buffer(size=size)
            true_size = set_log(attr, log_level, buf, size)
            try:
                fd = bpf(cmd, attr)
            except BpfError as exc:
                log = buf.value.decode(errors="replace")
                needed = true_size()
                if (exc.errno == errno.ENOSPC and not log_size and needed > size
                        and size < LOG_MAX_SIZE):
                    size = min(needed + 1, LOG_MAX_SIZE)
                    continue
                raise BpfError(exc.errno, reason_line(log) or exc.message, log) from None
            return fd, buf.value.decode(errors="replace")

    def _load(self, cmd: int, attr, set_log, log_level: int, log_size: int):
        """Load; at log_level 0 a failure is retried once at level 1 (as libbpf does) so the
        error carries the kernel's reason line, while keeping the first attempt's errno."""
        if log_level:
            return self._load_logged(cmd, attr, set_log, log_level, log_size)
        set_log(attr, 0, None, 0)
        try:
            return bpf(cmd, attr), ""
        except BpfError as first:
            try:
                fd, _ = self._load_logged(cmd, attr, set_log, 1, 0)
            except BpfError as again:
                raise BpfError(first.errno, again.message or first.message, again.log) from None
            os.close(fd)     # cannot happen for a deterministic verifier; do not leak
            raise first from None

    # --- BTF and programs ---------------------------------------------------------
    def btf_load(self, data: bytes, log_level: int = 0, log_size: int = 0) -> int:
        blob = buffer(data)
        a = attrs.AttrBtfLoad(btf=address(blob), btf_size=len(data))

        def set_log(attr, level, buf, size):
            attr.btf_log_level, attr.btf_log_size, attr.btf_log_buf = level, size, address(buf)
            return lambda: attr.btf_log_true_size

        fd, _ = self._load(Cmd.BTF_LOAD, a, set_log, log_level, log_size)
        return self._own(fd)

    def prog_load(self, attr: ProgLoadAttr) -> ProgLoadResult:
        if len(attr.insns) % 8:
            raise BpfError(errno.EINVAL, f"program of {len(attr.insns)} bytes is not whole instructions")
        keep = []   # buffers the attr points to, alive until the syscall returns

        def ptr(buf):
            keep.append(buf)
            return address(buf)

        a = attrs.AttrProgLoad(
            prog_type=attr.prog_type, insn_cnt=len(attr.insns) // 8,
            insns=ptr(buffer(attr.insns)), license=ptr(buffer(attr.license.encode() + b"\0")),
            kern_version=attr.kern_version, prog_flags=attr.prog_flags,
            prog_name=attr.prog_name.encode()[:15], prog_ifindex=attr.prog_ifindex,
            expected_attach_type=attr.expected_attach_type, prog_btf_fd=attr.prog_btf_fd,
            attach_btf_id=attr.attach_btf_id,
            attach_prog_fd=attr.attach_prog_fd or attr.attach_btf_obj_fd)
        if attr.func_info:
            recs = (attrs.BpfFuncInfo * len(attr.func_info))(*attr.func_info)
            a.func_info_rec_size, a.func_info, a.func_info_cnt = (
                ctypes.sizeof(attrs.BpfFuncInfo), ptr(recs), len(attr.func_info))
        if attr.line_info:
            recs = (attrs.BpfLineInfo * len(attr.line_info))(*attr.line_info)
            a.line_info_rec_size, a.line_info, a.line_info_cnt = (
                ctypes.sizeof(attrs.BpfLineInfo), ptr(recs), len(attr.line_info))
        if attr.fd_array:
            # Only the pointer, as libbpf passes it: fd_array_cnt would also bind every map
            # in the array to the program, which is a different request.
            a.fd_array = ptr((ctypes.c_int32 * len(attr.fd_array))(*attr.fd_array))

        def set_log(at, level, buf, size):
            at.log_level, at.log_size, at.log_buf, at.log_true_size = level, size, address(buf), 0
            return lambda: at.log_true_size

        fd, log = self._load(Cmd.PROG_LOAD, a, set_log, attr.log_level, attr.log_size)
        self._own(fd)
        self._progs[fd] = attr.prog_type
        return ProgLoadResult(fd=fd, log=log, verified_insns=self._prog_info(fd).verified_insns)

    def prog_test_run(self, fd: int, attr: TestRunAttr) -> TestRunResult:
        prog_type = self._prog_type(fd)
        keep = []

        def ptr(buf):
            keep.append(buf)
            return address(buf)

        # repeat 0 and 1 both mean one run to the kernel, but raw_tp and syscall programs
        # refuse any non-zero repeat: send 0 for a single run.
        a = attrs.AttrTestRun(prog_fd=fd, repeat=attr.repeat if attr.repeat > 1 else 0,
                              flags=attr.flags, cpu=attr.cpu, batch_size=attr.batch_size)
        data_out = ctx_out = ctx_in = None
        if attr.data_in is not None:
            a.data_in, a.data_size_in = ptr(buffer(attr.data_in)), len(attr.data_in)
        if attr.data_in is not None or attr.data_size_out:
            size = attr.data_size_out or len(attr.data_in or b"") + DATA_OUT_HEADROOM
            data_out = buffer(size=size)
            a.data_out, a.data_size_out = ptr(data_out), size
        if attr.ctx_in is not None:
            ctx_in = buffer(attr.ctx_in)
            a.ctx_in, a.ctx_size_in = ptr(ctx_in), len(attr.ctx_in)
        want_ctx_out = attr.ctx_size_out or (attr.ctx_in is not None and prog_type in CTX_OUT_PROG_TYPES)
        if want_ctx_out:
            size = attr.ctx_size_out or len(attr.ctx_in)
            ctx_out = buffer(size=size)
            a.ctx_out, a.ctx_size_out = ptr(ctx_out), size
        bpf(Cmd.PROG_TEST_RUN, a)
        result = TestRunResult(retval=a.retval, duration=a.duration)
        if data_out is not None:
            result.data_out = data_out.raw[:min(a.data_size_out, len(data_out))]
        if ctx_out is not None:
            result.ctx_out = ctx_out.raw[:min(a.ctx_size_out, len(ctx_out))]
        elif ctx_in is not None and prog_type in CTX_IN_WRITEBACK_PROG_TYPES:
            result.ctx_out = ctx_in.raw[:len(attr.ctx_in)]
        return result

    def _prog_type(self, fd: int) -> int:
        if fd not in self._progs:
            self._progs[fd] = self._prog_info(fd).type
        return self._progs[fd]

    # --- object info ------------------------------------------------------------------
    def _get_info(self, fd: int, info) -> None:
        a = attrs.AttrInfo(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
        bpf(Cmd.OBJ_GET_INFO_BY_FD, a)

    def map_get_info(self, fd: int) -> MapInfo:
        info = attrs.BpfMapInfo()
        self._get_info(fd, info)
        return MapInfo(type=info.type, id=info.id, key_size=info.key_size,
                       value_size=info.value_size, max_entries=info.max_entries,
                       map_flags=info.map_flags, name=info.name.decode(errors="replace"),
                       btf_id=info.btf_id, btf_key_type_id=info.btf_key_type_id,
                       btf_value_type_id=info.btf_value_type_id, map_extra=info.map_extra)

    def _prog_info(self, fd: int) -> attrs.BpfProgInfo:
        info = attrs.BpfProgInfo()
        self._get_info(fd, info)
        return info

    def prog_get_info(self, fd: int) -> ProgInfo:
        """Two calls, as bpftool does: the first learns the lengths, the second fetches the
        xlated instructions and map ids into buffers of those lengths."""
        first = self._prog_info(fd)
        xlated = buffer(size=first.xlated_prog_len)
        map_ids = (ctypes.c_uint32 * max(first.nr_map_ids, 1))()
        second = attrs.BpfProgInfo(xlated_prog_len=first.xlated_prog_len,
                                   xlated_prog_insns=address(xlated),
                                   nr_map_ids=first.nr_map_ids, map_ids=address(map_ids))
        self._get_info(fd, second)
        nx = min(second.xlated_prog_len, first.xlated_prog_len)
        nm = min(second.nr_map_ids, first.nr_map_ids)
        return ProgInfo(type=first.type, id=first.id, name=first.name.decode(errors="replace"),
                        xlated=xlated.raw[:nx], verified_insns=first.verified_insns,
                        map_ids=list(map_ids[:nm]), jited=first.jited_prog_len > 0)

    # --- links and iterators -------------------------------------------------------------
    def link_create(self, prog_fd: int, target_fd: int, attach_type: int, *,
                    iter_map_fd: int = 0, flags: int = 0) -> int:
        a = attrs.AttrLinkCreate(prog_fd=prog_fd, target_fd=target_fd,
                                 attach_type=attach_type, flags=flags)
        info = None
        if iter_map_fd:
            info = attrs.BpfIterLinkInfo()
            info.map.map_fd = iter_map_fd
            a.iter_info, a.iter_info_len = ctypes.addressof(info), ctypes.sizeof(info)
        return self._own(bpf(Cmd.LINK_CREATE, a))

    def iter_create(self, link_fd: int) -> int:
        return self._own(bpf(Cmd.ITER_CREATE, attrs.AttrIterCreate(link_fd=link_fd)))

    def iter_read(self, iter_fd: int) -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(iter_fd, 1 << 16)
            except OSError as exc:
                raise BpfError(exc.errno or errno.EIO, f"read(iter fd {iter_fd}): {exc.strerror}") from None
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
