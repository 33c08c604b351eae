"""Helpers of BPF_PROG_TYPE_SYSCALL programs: bpf_sys_bpf, bpf_sys_close, bpf_copy_from_user.

They exist for light skeletons (upstream-spec §4.9): the loader program creates the maps,
fills them (BPF_F_ALL_CPUS for `.percpu`) and loads the programs itself.  Kernel facts
(kernel/bpf/syscall.c, kernel/bpf/helpers.c, 6.18):

* bpf_sys_bpf(cmd, attr, attr_size) accepts only MAP_CREATE, MAP_DELETE_ELEM,
  MAP_UPDATE_ELEM, MAP_FREEZE, MAP_GET_FD_BY_ID, PROG_LOAD, BTF_LOAD, LINK_CREATE and
  RAW_TRACEPOINT_OPEN (anything else, PROG_TEST_RUN included, is -EINVAL), then runs
  __sys_bpf with a *kernel* attr pointer: the union is copied from program memory (tail
  check, then per-command CHECK_ATTR, harness/kernel/sysattr.py), and the pointers inside
  it (keys, values, insns, license, fd_array, func/line info, BTF data, iter_info) are
  kernel pointers too, i.e. program memory.  The verifier log buffer stays a *user*
  pointer (bpf_vlog_init takes attr->log_buf as `char __user *`).  Results are the
  command's: a new fd, 0, or a negative errno.
* bpf_sys_close(fd) is close(2) on the caller's fd table.
* bpf_copy_from_user(dst, size, user_ptr) copies from user memory; on failure it zeroes
  dst and returns -EFAULT.

Each command calls the EmulatedKernel's own bpf(2) method, so the checks and errnos are
the syscall's.  Where the real kernel would dereference a bad kernel pointer inside the
attr (an oops; the helper is CAP_PERFMON-only for that reason) we return -EFAULT.  Not
emulated (-ENOTSUPP): RAW_TRACEPOINT_OPEN, read-only/write-only fds from
MAP_GET_FD_BY_ID, and attr fields for tokens, program signatures, exclusive maps and
CO-RE relocations done by the kernel.
"""

from __future__ import annotations

import errno

from harness.isa import InsnFormatError, decode
from harness.kernel import sysattr
from harness.kernel.helpers.call import HelperCall, MemFault
from harness.kernel.helpers.registry import helper
from harness.kernel.helpers.usermem import user_memory
from harness.kernel.maps.base import BpfMap
from harness.kernel.maps.flags import user_value_size
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.uapi import (BPF_COMPLEXITY_LIMIT_INSNS, BPF_F_RDONLY, BPF_F_WRONLY, BPF_PSEUDO_MAP_IDX,
                          BPF_PSEUDO_MAP_IDX_VALUE, ENOTSUPP, Cmd)

FUNC_INFO_SIZE = 8          # struct bpf_func_info
LINE_INFO_SIZE = 16         # struct bpf_line_info
ITER_LINK_INFO_SIZE = 16    # union bpf_iter_link_info
BPF_LOG_FIXED = 8           # log_level bit: keep the head of a log that does not fit
LOG_SIZE_MAX = 0xFFFFFFFF >> 2


class _Fault(Exception):
    """A pointer inside the attr does not point at program memory: -EFAULT."""


def _kread(h: HelperCall, addr: int, size: int) -> bytes:
    if size == 0:
        return b""
    try:
        return h.read(addr, size)
    except MemFault:
        raise _Fault() from None


def _unsupported(**fields) -> None:
    named = [k for k, v in fields.items() if v]
    if named:
        raise BpfError(ENOTSUPP, f"bpf_sys_bpf: {', '.join(named)} not emulated")


# ----------------------------------------------------------------------------- commands
def _map_create(h, k, a, attr_ptr, size) -> int:
    _unsupported(value_type_btf_obj_fd=a.value_type_btf_obj_fd, map_token_fd=a.map_token_fd,
                 excl_prog_hash=a.excl_prog_hash or a.excl_prog_hash_size)
    return k.map_create(MapCreateAttr(
        a.map_type, a.key_size, a.value_size, a.max_entries, a.map_flags, a.inner_map_fd, a.numa_node,
        sysattr.obj_name(a.map_name), a.map_ifindex, a.btf_fd, a.btf_key_type_id, a.btf_value_type_id,
        a.btf_vmlinux_value_type_id, a.map_extra))


def _key(h, m, ptr: int) -> bytes | None:
    """___bpf_copy_key: key_size bytes, or NULL for a key_size 0 map (a pointer there is EINVAL,
    which the map command reports when handed b"")."""
    if not m.key_size:
        return None if not ptr else b""
    return _kread(h, ptr, m.key_size)


def _map_update_elem(h, k, a, attr_ptr, size) -> int:
    m = k.map_object(a.map_fd)
    k.map_update_elem(a.map_fd, _key(h, m, a.key), _kread(h, a.value, user_value_size(m, a.flags)), a.flags)
    return 0


def _map_delete_elem(h, k, a, attr_ptr, size) -> int:
    k.map_delete_elem(a.map_fd, _key(h, k.map_object(a.map_fd), a.key))
    return 0


def _map_freeze(h, k, a, attr_ptr, size) -> int:
    k.map_freeze(a.map_fd)
    return 0


def _map_get_fd_by_id(h, k, a, attr_ptr, size) -> int:
    """A new fd for the map with id `map_id`: any map the kernel still holds (an open fd or
    a loaded program's used map).  Read-only / write-only fds are not modelled (the emulated
    kernel keeps permissions per map, not per fd)."""
    if a.open_flags & ~(BPF_F_RDONLY | BPF_F_WRONLY):
        raise BpfError(errno.EINVAL, f"open_flags {a.open_flags:#x}")
    if not k.config.privileged:
        raise BpfError(errno.EPERM, "BPF_MAP_GET_FD_BY_ID needs CAP_SYS_ADMIN")
    _unsupported(open_flags=a.open_flags)
    live = list(k.fds.objects.values())
    for obj in live + [m for o in live for m in getattr(o, "used_maps", ())]:
        if isinstance(obj, BpfMap) and obj.id == a.map_id:
            return k.fds.install(obj)
    raise BpfError(errno.ENOENT, f"no map with id {a.map_id}")


def _records(h, ptr: int, cnt: int, rec_size: int, min_size: int, fmt_words: int) -> list[tuple]:
    """func_info / line_info: `cnt` records of `rec_size` bytes, each read as its first
    `fmt_words` u32 fields (a record smaller than the kernel's struct is EINVAL)."""
    if not cnt:
        return []
    if rec_size < min_size:
        raise BpfError(errno.EINVAL, f"info record size {rec_size} < {min_size}")
    raw = _kread(h, ptr, cnt * rec_size)
    return [tuple(int.from_bytes(raw[i * rec_size + 4 * w:i * rec_size + 4 * w + 4], "little")
                  for w in range(fmt_words)) for i in range(cnt)]


def _fd_array(h, a, insns: bytes) -> list[int]:
    """The fd_array entries the program can use: fd_array_cnt of them when given (6.18 reads
    them all at load), else up to the largest BPF_PSEUDO_MAP_IDX(_VALUE) index, as the
    kernel reads each referenced slot."""
    if not a.fd_array:
        return []
    count = a.fd_array_cnt
    if not count:
        try:
            slots = decode(insns, where="sys_bpf insns")
        except InsnFormatError:
            return []                  # the load itself reports the bad instructions
        idx = [s.imm & 0xFFFFFFFF for s in slots
               if s.code == 0x18 and s.src in (BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE)]
        if idx and max(idx) >= 1 << 16:          # far past any blob: the slot read faults
            raise _Fault()
        count = max(idx) + 1 if idx else 0
    raw = _kread(h, a.fd_array, 4 * count)
    return [int.from_bytes(raw[4 * i:4 * i + 4], "little", signed=True) for i in range(count)]


def _prog_load(h, k, a, attr_ptr, size) -> int:
    _unsupported(core_relo_cnt=a.core_relo_cnt, prog_token_fd=a.prog_token_fd, signature=a.signature,
                 keyring_id=a.keyring_id)
    if bool(a.log_buf) != bool(a.log_size) or (a.log_buf and not a.log_level) or a.log_size > LOG_SIZE_MAX:
        raise BpfError(errno.EINVAL, "log_buf, log_size and log_level do not agree (bpf_vlog_init)")
    if 0 < a.insn_cnt <= BPF_COMPLEXITY_LIMIT_INSNS:
        insns = _kread(h, a.insns, 8 * a.insn_cnt)
        license = h.read_str(a.license, 127) if a.license else None
        if license is None:
            raise _Fault()
    else:                   # E2BIG from prog_load, after its attr checks and before any copy
        insns, license = b"", b""
    attr = ProgLoadAttr(      # log_size 0: the whole log, sized into the user's buffer below
        a.prog_type, insns, license.decode("latin-1"), log_level=a.log_level, log_size=0,
        kern_version=a.kern_version, prog_flags=a.prog_flags, prog_name=sysattr.obj_name(a.prog_name),
        prog_ifindex=a.prog_ifindex, expected_attach_type=a.expected_attach_type, prog_btf_fd=a.prog_btf_fd,
        func_info=_records(h, a.func_info, a.func_info_cnt, a.func_info_rec_size, FUNC_INFO_SIZE, 2),
        line_info=_records(h, a.line_info, a.line_info_cnt, a.line_info_rec_size, LINE_INFO_SIZE, 4),
        attach_btf_id=a.attach_btf_id, attach_prog_fd=a.attach_prog_fd, fd_array=_fd_array(h, a, insns))
    try:
        res = k.prog_load(attr)
        fd, err, log = res.fd, None, res.log
    except BpfError as e:
        fd, err, log = None, e, e.log
    status = _log_out(h, k, a, attr_ptr, size, log or "") if a.log_level else 0
    if status and fd is not None:
        k.close(fd)             # bpf_vlog_finalize's verdict overrides a successful load
    if status:
        return -status
    if err is not None:
        raise err
    return fd


def _log_out(h, k, a, attr_ptr, size, log: str) -> int:
    """bpf_vlog_finalize + the log_true_size write-back: the log goes to the user's log_buf
    (its tail, or its head with BPF_LOG_FIXED, when it does not fit), its true size into the
    attr (program memory) when the caller's attr reaches log_true_size.  Returns 0, EFAULT
    (log_buf is not writable user memory) or ENOSPC (the log was truncated)."""
    data = log.encode() + b"\0"
    status = 0
    if a.log_buf:
        keep = data
        if len(data) > a.log_size:
            body = data[:-1]
            keep = (body[:a.log_size - 1] if a.log_level & BPF_LOG_FIXED else body[len(body) - a.log_size + 1:])
            keep += b"\0"
            status = errno.ENOSPC
        if not user_memory(k).write(a.log_buf, keep):
            status = errno.EFAULT
    if size >= sysattr.LOG_TRUE_SIZE_END:
        try:
            h.write(attr_ptr + sysattr.LOG_TRUE_SIZE_OFF, len(data).to_bytes(4, "little"))
        except MemFault:
            status = errno.EFAULT
    return status


def _btf_load(h, k, a, attr_ptr, size) -> int:
    _unsupported(btf_flags=a.btf_flags, btf_token_fd=a.btf_token_fd)
    return k.btf_load(_kread(h, a.btf, a.btf_size), a.btf_log_level, a.btf_log_size)


def _link_create(h, k, a, attr_ptr, size) -> int:
    iter_map_fd = 0
    if bool(a.iter_info) != bool(a.iter_info_len):
        raise BpfError(errno.EINVAL, "iter_info and iter_info_len must be given together")
    if a.iter_info:
        if a.iter_info_len > ITER_LINK_INFO_SIZE and any(
                _kread(h, a.iter_info + ITER_LINK_INFO_SIZE, a.iter_info_len - ITER_LINK_INFO_SIZE)):
            raise BpfError(errno.E2BIG, "non-zero bytes past union bpf_iter_link_info")
        raw = _kread(h, a.iter_info, min(a.iter_info_len, ITER_LINK_INFO_SIZE)).ljust(4, b"\0")
        iter_map_fd = sysattr.IterLinkInfo.unpack_from(raw).map_fd
    return k.link_create(a.prog_fd, a.target_fd, a.attach_type, iter_map_fd=iter_map_fd, flags=a.flags)


#: the commands bpf_sys_bpf passes on; None: allowed by the kernel, not emulated.
COMMANDS = {
    Cmd.MAP_CREATE: _map_create,
    Cmd.MAP_UPDATE_ELEM: _map_update_elem,
    Cmd.MAP_DELETE_ELEM: _map_delete_elem,
    Cmd.MAP_FREEZE: _map_freeze,
    Cmd.MAP_GET_FD_BY_ID: _map_get_fd_by_id,
    Cmd.PROG_LOAD: _prog_load,
    Cmd.BTF_LOAD: _btf_load,
    Cmd.LINK_CREATE: _link_create,
    Cmd.RAW_TRACEPOINT_OPEN: None,
}


@helper("sys_bpf")
def sys_bpf(h: HelperCall) -> int:
    cmd, attr_ptr, size = h.arg(1) & 0xFFFFFFFF, h.arg(2), h.arg(3) & 0xFFFFFFFF
    if cmd not in COMMANDS:
        return -errno.EINVAL
    if size > sysattr.PAGE_SIZE:
        return -errno.E2BIG
    attr = sysattr.copy_attr(h.read(attr_ptr, size), size)    # the verifier checked [attr, +size)
    if isinstance(attr, int):
        return -attr
    run = COMMANDS[cmd]
    if run is None:
        return -ENOTSUPP
    rec = sysattr.decode(cmd, attr)
    if isinstance(rec, int):
        return -rec
    try:
        return run(h, h.state.kernel, rec, attr_ptr, size)
    except BpfError as e:
        return -e.errno
    except _Fault:
        return -errno.EFAULT


@helper("sys_close")
def sys_close(h: HelperCall) -> int:
    try:
        h.state.kernel.close(h.arg(1) & 0xFFFFFFFF)
    except BpfError as e:
        return -e.errno
    return 0


@helper("copy_from_user")
def copy_from_user(h: HelperCall) -> int:
    dst, size, src = h.arg(1), h.arg(2) & 0xFFFFFFFF, h.arg(3)
    if not size:
        return 0
    data = user_memory(h.state.kernel).read(src, size)
    if data is None:
        h.write(dst, bytes(size))
        return -errno.EFAULT
    h.write(dst, data)
    return 0
