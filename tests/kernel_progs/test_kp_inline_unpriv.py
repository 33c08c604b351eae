"""Inlined array lookups and tail calls for a loader with CAP_BPF but not CAP_PERFMON
(bypass_spec_v1 off: the index is bound-checked and masked), against the running kernel.
The real side runs in a child process that drops every capability but CAP_BPF (capset(2));
skipped with the reason when bpf(2) or capset is unavailable.  The program avoids stack writes, whose first use the kernel
fences with a nospec barrier for such loaders (a verifier fact we do not record yet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.isa import decode, encode
from harness.isa.disasm import disasm
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernelapi import MapCreateAttr, ProgLoadAttr
from harness.uapi import MapType, ProgType
from kp_asm import CALL, EXIT, JEQ_IMM, LD_MAP_FD, LD_MAP_VALUE, LDX_MEM, MOV64_IMM
from kp_inline_progs import normalise

pytestmark = pytest.mark.realkernel

CAP_BPF = 39
_CHILD = r"""
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
data = (Data * 2)()
data[1].effective = data[1].permitted = 1 << (%d - 32)
if libc.syscall(126, ctypes.byref(Hdr(0x20080522, 0)), data) != 0:     # SYS_capset, x86-64
    print(json.dumps({"skip": "capset failed: errno %%d" %% ctypes.get_errno()}))
    sys.exit(0)
from harness.realkernel import RealKernel
sys.path.insert(0, %r)
from test_kp_inline_unpriv import xlated_text
print(json.dumps({"xlated": xlated_text(RealKernel(), %r)}))
""" % (CAP_BPF, os.path.dirname(__file__), "{case}")


def _prog(k, value_size, max_entries):
    """r0 = lookup(array, &global); return r0 ? *(u32 *)r0 : 7 -- the key lives in a map value."""
    g = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1))
    a = k.map_create(MapCreateAttr(MapType.ARRAY, 4, value_size, max_entries))
    return [*LD_MAP_VALUE(2, g, 0), *LD_MAP_FD(1, a), CALL(1), JEQ_IMM(0, 0, 2), LDX_MEM(4, 0, 0, 0), EXIT(),
            MOV64_IMM(0, 7), EXIT()]


CASES = {"mul": (20, 5), "pow2": (16, 3), "one": (8, 1), "big": (8, 1000)}


def xlated_text(k, case: str) -> list[str]:
    insns = _tail_call_prog(k, case) if case.startswith("tail") else _prog(k, *CASES[case])
    fd = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(insns), license="GPL")).fd
    return disasm(normalise(decode(k.prog_get_info(fd).xlated)))


def _real(case: str) -> list[str]:
    from harness.realkernel import probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    if os.geteuid() != 0:
        pytest.skip("dropping to CAP_BPF only needs a root start")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", _CHILD.replace("{case}", case)], capture_output=True, text=True,
                         env=env, timeout=60)
    if out.returncode:
        pytest.fail(f"child failed: {out.stderr[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    return result["xlated"]


@pytest.mark.parametrize("case", list(CASES))
def test_masked_lookup_same_as_running_kernel(case):
    emulated = xlated_text(EmulatedKernel(KernelConfig(privileged=False)), case)
    assert any("&=" in line for line in emulated)
    assert emulated == _real(case)


def _tail_call_prog(k, case):
    """bpf_tail_call(ctx, prog_array, key) with a constant key or one read from a map value
    (not from the context: __sk_buff field loads are rewritten to sk_buff offsets, which we
    do not model)."""
    pa = k.map_create(MapCreateAttr(MapType.PROG_ARRAY, 4, 4, 5))
    if case == "tail_const":
        return [*LD_MAP_FD(2, pa), MOV64_IMM(3, 1), CALL(12), MOV64_IMM(0, 0), EXIT()]
    g = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1))
    return [*LD_MAP_VALUE(4, g, 0), LDX_MEM(4, 3, 4, 0), *LD_MAP_FD(2, pa), CALL(12), MOV64_IMM(0, 0), EXIT()]


TAIL_CASES = ("tail_const", "tail_map_key")


@pytest.mark.parametrize("case", TAIL_CASES)
def test_tail_call_guard_same_as_running_kernel(case):
    emulated = xlated_text(EmulatedKernel(KernelConfig(privileged=False)), case)
    assert any("w3 &= 7" in line for line in emulated)
    assert emulated == _real(case)


def test_no_tail_call_guard_with_cap_perfmon():
    got = xlated_text(EmulatedKernel(), "tail_const")
    assert not any("&=" in line for line in got) and any("call" in line for line in got)
