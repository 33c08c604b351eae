"""May this process use bpf(2), and what does the running kernel support?

`probe()` answers the first question the way running-kernel.md "Availability detection"
describes: create an array map, load `r0 = 0; exit` as SOCKET_FILTER and test-run it
once.  Anything that stops one of those steps (not Linux/x86_64, seccomp, EPERM from
unprivileged_bpf_disabled or missing CAP_BPF, ENOSYS, ...) makes it return
Availability(False, reason) -- it never raises, so test modules can use it in a skip mark.

Before touching bpf(2) the ctypes layouts are compared with the kernel's BTF when
/sys/kernel/btf/vmlinux exists (layouts.py); a conflicting field makes the backend
unavailable rather than let the kernel write past a Python buffer.

Under a seccomp filter a bpf(2) call might kill the process instead of failing, so in
that case the first probe runs in a child interpreter.  Set HARNESS_REALKERNEL=0 to turn
the backend off.

`prog_type_supported()` and `feature()` answer the second question; names in FEATURES are
those of the emulated kernel's KernelConfig.features so a matrix can configure the
emulated kernel like the real one.  All answers are cached for the process.
"""

from __future__ import annotations

import functools
import os
import struct
import subprocess
import sys
from dataclasses import dataclass

from harness.isa.insn import Insn, decode, encode
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr, TestRunAttr
from harness.realkernel.layouts import check_running_kernel
from harness.realkernel.sys import platform_problem
from harness.uapi import (BPF_ADDR_PERCPU, BPF_F_CPU, BPF_F_SLEEPABLE, BPF_PSEUDO_MAP_VALUE, AttachType, MapType,
                          ProgType)

DISABLE_ENV = "HARNESS_REALKERNEL"
BPF_FUNC_get_smp_processor_id = 8


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


R0_IS_0 = encode([Insn(0xB7, dst=0, imm=0), Insn(0x95)])       # r0 = 0; exit


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _seccomp_mode() -> int:
    for line in _read("/proc/self/status").splitlines():
        if line.startswith("Seccomp:"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return 0
    return 0


def _explain(exc: BpfError) -> str:
    """The probe's reason: the errno name, plus the sysctl that usually explains EPERM."""
    reason = f"bpf(): {exc.errno_name}"
    if exc.message:
        reason += f" ({exc.message})"
    if exc.errno_name == "EPERM":
        knob = _read("/proc/sys/kernel/unprivileged_bpf_disabled")
        reason += f"; euid={os.geteuid()}, unprivileged_bpf_disabled={knob or '?'}"
    return reason


def probe_in_process() -> Availability:
    """The probe itself, in this process (see module docstring)."""
    from harness.realkernel.kernel import RealKernel
    try:
        with RealKernel() as k:
            k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1, map_name="probe"))
            prog = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, R0_IS_0, license="GPL"))
            k.prog_test_run(prog.fd, TestRunAttr(data_in=bytes(64)))
    except BpfError as exc:
        return Availability(False, _explain(exc))
    except Exception as exc:      # noqa: BLE001 - a probe must never raise
        return Availability(False, f"bpf(2) probe failed: {type(exc).__name__}: {exc}")
    return Availability(True, "ok")


def _probe_in_child() -> Availability:
    code = ("from harness.realkernel.availability import probe_in_process as p; a = p(); "
            "print(int(a.ok)); print(a.reason)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        return Availability(False, f"bpf(2) probe child failed: {exc}")
    if out.returncode != 0:
        return Availability(False, f"bpf(2) probe child exited with {out.returncode} (seccomp kill?)")
    ok, _, reason = out.stdout.partition("\n")
    return Availability(ok.strip() == "1", reason.strip() or "no reason given")


@functools.lru_cache(maxsize=None)
def probe() -> Availability:
    """Can this process use bpf(2) on the running kernel?  Never raises."""
    try:
        if os.environ.get(DISABLE_ENV, "").lower() in ("0", "no", "off", "false"):
            return Availability(False, f"disabled by {DISABLE_ENV}={os.environ[DISABLE_ENV]}")
        problem = platform_problem()
        if problem:
            return Availability(False, problem)
        mode = _seccomp_mode()
        if mode == 1:
            return Availability(False, "seccomp strict mode: bpf(2) would kill the process")
        if mode == 2:
            child = _probe_in_child()
            if not child.ok:
                return child
        conflicts = [m for m in check_running_kernel()[0] if m.conflict]
        if conflicts:
            more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
            return Availability(False, f"ctypes layout disagrees with the kernel's BTF: {conflicts[0]}{more}")
        return probe_in_process()
    except Exception as exc:      # noqa: BLE001 - a probe must never raise
        return Availability(False, f"bpf(2) probe failed: {type(exc).__name__}: {exc}")


# --- program types ------------------------------------------------------------------------

#: Extra load attributes without which a program type is refused regardless of support.
PROG_TYPE_LOAD_EXTRAS: dict[int, dict] = {
    ProgType.SK_LOOKUP: {"expected_attach_type": AttachType.SK_LOOKUP},
    ProgType.NETFILTER: {"expected_attach_type": AttachType.NETFILTER},
    ProgType.CGROUP_SOCK_ADDR: {"expected_attach_type": AttachType.CGROUP_INET4_CONNECT},
    ProgType.CGROUP_SOCKOPT: {"expected_attach_type": AttachType.CGROUP_GETSOCKOPT},
    ProgType.SYSCALL: {"prog_flags": BPF_F_SLEEPABLE},
}


@functools.lru_cache(maxsize=None)
def prog_type_supported(prog_type: int) -> bool:
    """Does the running kernel load programs of this type for this process?

    Loads `r0 = 0; exit` (with PROG_TYPE_LOAD_EXTRAS).  Types that need an attach target
    (tracing, LSM, EXT, struct_ops) cannot load without one; for them a refusal that comes
    with a verifier log still proves the type is known (an unknown type is EINVAL with an
    empty log, before the verifier starts).  EPERM means "not for this process": False."""
    if not probe().ok:
        return False
    from harness.realkernel.kernel import RealKernel
    try:
        with RealKernel() as k:
            k.prog_load(ProgLoadAttr(int(prog_type), R0_IS_0, license="GPL",
                                     **PROG_TYPE_LOAD_EXTRAS.get(prog_type, {})))
        return True
    except BpfError as exc:
        return exc.errno_name not in ("EPERM", "EACCES") and bool(exc.log.strip())
    except Exception:             # noqa: BLE001 - a probe must never raise
        return False


# --- features -----------------------------------------------------------------------------

def _btf_blob(types: bytes, strings: bytes) -> bytes:
    """A raw BTF image: header (magic 0xeB9F, version 1), type section, string section."""
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) \
        + types + strings


def _btf_type(name_off: int, kind: int, vlen: int, size_or_type: int, extra: bytes = b"") -> bytes:
    return struct.pack("<III", name_off, (kind << 24) | vlen, size_or_type) + extra


# string table: 1 "int", 5 "x", 7 ".data", 13 "tag", 17 "f"
_STRS = b"\0int\0x\0.data\0tag\0f\0"
_INT = _btf_type(1, 1, 0, 4, struct.pack("<I", (1 << 24) | 32))          # [1] int
_VAR = _btf_type(5, 14, 0, 1, struct.pack("<I", 1))                       # [2] global var x

#: BTF kinds newer than the base set, each as a minimal type section the kernel accepts
#: only if it knows the kind.  The encodings follow include/uapi/linux/btf.h.
BTF_FEATURE_TYPES: dict[str, bytes] = {
    "btf_func": _INT + _btf_type(0, 13, 0, 1) + _btf_type(17, 12, 0, 2),   # FUNC_PROTO, FUNC
    "btf_datasec": _INT + _VAR + _btf_type(7, 15, 1, 4, struct.pack("<III", 2, 0, 4)),
    "btf_float": _btf_type(1, 16, 0, 4),
    "btf_decl_tag": _INT + _VAR + _btf_type(13, 17, 0, 2, struct.pack("<i", -1)),
    "btf_type_tag": _INT + _btf_type(13, 18, 0, 1) + _btf_type(0, 2, 0, 2),  # TYPE_TAG, PTR
    "btf_enum64": _btf_type(5, 19, 1, 8, struct.pack("<III", 1, 1, 1)),
}


def _ld_map_value(dst: int, fd: int, off: int) -> list[Insn]:
    return [Insn(0x18, dst=dst, src=BPF_PSEUDO_MAP_VALUE, imm=fd), Insn(0, imm=off)]


def _direct_value_probe(k, map_type: int) -> bool:
    """libbpf's global-data / percpu-data probe: a SOCKET_FILTER program that reads a map
    value through ld_imm64 BPF_PSEUDO_MAP_VALUE (upstream-spec §4.6)."""
    fd = k.map_create(MapCreateAttr(map_type, 4, 8, 1, map_name="probe_data"))
    prog = _ld_map_value(1, fd, 0) + [Insn(0x79, dst=0, src=1, off=0), Insn(0x95)]
    k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(prog), license="GPL"))
    return True


def _cpu_flags_probe(k) -> bool:
    """BPF_F_CPU lookup (CPU 0) on a per-CPU array; kernels without the series say EINVAL."""
    fd = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1, map_name="probe_cpu"))
    k.map_lookup_elem(fd, bytes(4), BPF_F_CPU)
    return True


def _percpu_insn_probe(k) -> bool:
    """bpf_jit_supports_percpu_insn(): the fixups then inline bpf_get_smp_processor_id()
    with the kernel-internal percpu mov (0xbf, off BPF_ADDR_PERCPU), visible in the xlated
    dump.  An empty dump (no permission to read it) answers False."""
    code = encode([Insn(0x85, imm=BPF_FUNC_get_smp_processor_id), Insn(0x95)])
    prog = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, code, license="GPL"))
    xlated = decode(k.prog_get_info(prog.fd).xlated)
    return any(i.code == 0xBF and i.off == BPF_ADDR_PERCPU for i in xlated)


FEATURES = {
    "global_data": lambda k: _direct_value_probe(k, MapType.ARRAY),
    "percpu_data": lambda k: _direct_value_probe(k, MapType.PERCPU_ARRAY),
    "cpu_flags": _cpu_flags_probe,
    "jit_percpu_insn": _percpu_insn_probe,
    **{name: (lambda types: lambda k: k.btf_load(_btf_blob(types, _STRS)) >= 0)(types)
       for name, types in BTF_FEATURE_TYPES.items()},
}


@functools.lru_cache(maxsize=None)
def feature(name: str) -> bool:
    """Does the running kernel have this optional feature (a name from FEATURES)?
    False when bpf(2) is unavailable.  Unknown names are a programming error: ValueError."""
    if name not in FEATURES:
        raise ValueError(f"unknown feature {name!r}; known: {', '.join(sorted(FEATURES))}")
    if not probe().ok:
        return False
    from harness.realkernel.kernel import RealKernel
    try:
        with RealKernel() as k:
            return bool(FEATURES[name](k))
    except BpfError:
        return False
    except Exception:             # noqa: BLE001 - a probe must never raise
        return False


def features() -> frozenset[str]:
    """Every feature in FEATURES the running kernel has."""
    return frozenset(name for name in FEATURES if feature(name))
