"""The ISA conformance suite on the running kernel, compared with our VM.

The suite's programs assume r1 = address of the input memory, r2 = its length, and may
return any u64.  A kernel program gets a context instead and returns a u32, so each case
is wrapped (progedit units keep every jump and local call right):

    prologue   r1 = the memory (see vehicles), r2 = length, r0 and r3..r9 = 0
    body       the case's main function, every `exit` turned into `goto epilogue`
    epilogue   *(u64 *)result = r0; return XDP_PASS
    bounds     (packet vehicle with memory) *(u64 *)(result + 8) = 1; return XDP_PASS
    subprogs   the case's local functions, unchanged

Vehicles, tried in order: "packet" -- an XDP program whose packet data is the memory,
after a bounds check that gives the verifier the packet range; "map" -- the memory as
the value of an ARRAY map, r1 a direct value pointer (ld_imm64 BPF_PSEUDO_MAP_VALUE),
for programs the verifier refuses on packet memory (atomics on packet data, ...).
The result is read from a separate ARRAY map, so all 64 bits of r0 are compared.

Cases that cannot run on a kernel are skipped with the reason: helper calls (the suite's
helper 5 exists only in its runners), callx, expected-error cases; cases both vehicles
fail to load are "rejected" with the kernel's reason line.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from harness.differential.progedit import Unit, encode_units, to_units
from harness.isa import opcodes as o
from harness.isa.insn import Insn, encode
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr, TestRunAttr
from harness.uapi import BPF_PSEUDO_MAP_VALUE, MapType, ProgType

#: The suite ships in shared/ beside the repository (/work/shared here, beside the clone in CI).
SUITE_DIR = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "bpf_conformance" / "tests"
XDP_PASS = 2
MIN_PACKET = 64          # the XDP runner wants at least an Ethernet header; pad with zeros
VEHICLES = ("packet", "map")


@dataclass
class CaseOutcome:
    name: str
    status: str                 # agree | disagree | skip | rejected | error (unreadable file, kernel crash)
    detail: str = ""
    vehicle: str = ""
    real: int | None = None     # r0 on the running kernel
    vm: int | None = None       # r0 on our VM
    expected: int | None = None


def skip_reason(case) -> str:
    """Why a case cannot run on a kernel ("" when it can)."""
    if case.error is not None:
        return "expects an error (the kernel's verifier would refuse it at load)"
    for i in case.insns:
        if o.is_callx(i):
            return "uses callx (call by register: not a kernel instruction form)"
        if o.is_helper_call(i):
            return f"calls helper {i.imm} (the suite's runner helper, not a kernel helper)"
        if o.is_kfunc_call(i):
            return "calls a kfunc"
    return ""


def _mov_imm(reg: int, imm: int) -> Unit:
    return Unit((Insn(o.BPF_ALU64 | o.BPF_MOV, reg, imm=imm),))


def _ld_value(reg: int, fd: int, off: int = 0) -> Unit:
    return Unit((Insn(o.LD_IMM64_CODE, reg, BPF_PSEUDO_MAP_VALUE, imm=fd), Insn(0, imm=off)))


def wrap(case, vehicle: str, result_fd: int, mem_fd: int = 0) -> list[Insn]:
    """The case's program wrapped for the kernel (module docstring)."""
    units = to_units(list(case.insns))
    subprog_starts = sorted({u.target for u in units if o.is_pseudo_call(u.first) and u.target is not None})
    main_end = subprog_starts[0] if subprog_starts else len(units)
    n = len(case.mem)
    pro: list[Unit] = []
    if vehicle == "packet":
        pro += [Unit((Insn(o.BPF_LDX | o.BPF_MEM | o.BPF_W, 2, 1, off=4),)),       # r2 = ctx->data_end
                Unit((Insn(o.BPF_LDX | o.BPF_MEM | o.BPF_W, 1, 1, off=0),))]       # r1 = ctx->data
        if n:
            pro += [Unit((Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, 3, 1),)),
                    Unit((Insn(o.BPF_ALU64 | o.BPF_ADD, 3, imm=n),)),
                    Unit((Insn(o.BPF_JMP | o.BPF_JGT | o.BPF_X, 3, 2),), "bounds")]   # if r3 > r2 goto bounds
    else:
        pro.append(_ld_value(1, mem_fd))
    pro += [_mov_imm(2, n)] + [_mov_imm(r, 0) for r in (0, 3, 4, 5, 6, 7, 8, 9)]
    base = len(pro)
    epi_at = base + main_end
    epilogue = [_ld_value(1, result_fd), Unit((Insn(o.BPF_STX | o.BPF_MEM | o.BPF_DW, 1, 0),)),
                _mov_imm(0, XDP_PASS), Unit((Insn(o.BPF_JMP | o.BPF_EXIT),))]
    bounds_at = epi_at + len(epilogue)
    bounds = [_ld_value(1, result_fd), Unit((Insn(o.BPF_ST | o.BPF_MEM | o.BPF_DW, 1, off=8, imm=1),)),
              _mov_imm(0, XDP_PASS), Unit((Insn(o.BPF_JMP | o.BPF_EXIT),))]
    if not any(u.target == "bounds" for u in pro):
        bounds = []                  # nothing jumps there: the verifier refuses unreachable code
    shift = len(epilogue) + len(bounds)

    def moved(t: int | None) -> int | None:
        if t is None:
            return None
        return base + t + (shift if t >= main_end else 0)

    body = []
    for k, u in enumerate(units):
        if k < main_end and o.is_exit(u.first):
            body.append(Unit((Insn(o.BPF_JMP | o.BPF_JA),), epi_at))
        else:
            body.append(Unit(u.insns, moved(u.target)))
    pro = [Unit(u.insns, bounds_at if u.target == "bounds" else u.target) for u in pro]
    out = pro + body[:main_end] + epilogue + bounds + body[main_end:]
    return encode_units(out)


def run_on_kernel(kernel, case, vehicle: str) -> int:
    """r0 (u64) of the wrapped case on `kernel`; raises BpfError (load or run)."""
    n = len(case.mem)
    result_fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 16, 1, map_name="cf_result"))
    mem_fd = 0
    if vehicle == "map":
        mem_fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, max(8, n), 1, map_name="cf_mem"))
        kernel.map_update_elem(mem_fd, bytes(4), case.mem.ljust(max(8, n), b"\0"), 0)
    insns = wrap(case, vehicle, result_fd, mem_fd)
    prog = kernel.prog_load(ProgLoadAttr(ProgType.XDP, encode(insns), license="GPL", log_level=1))
    data = case.mem if vehicle == "packet" else b""
    kernel.prog_test_run(prog.fd, TestRunAttr(data_in=data.ljust(MIN_PACKET, b"\0"),
                                              data_size_out=max(MIN_PACKET, len(data)) * 2))
    r0, bounds_failed = struct.unpack("<QQ", kernel.map_lookup_elem(result_fd, bytes(4)))
    if bounds_failed:
        raise BpfError(34, "packet bounds check failed in the wrapper")          # ERANGE
    return r0


def _vm_r0(case) -> tuple[int | None, str]:
    from harness.errors import HarnessError
    from harness.kernel.vm.conformance import run_case
    try:
        return run_case(case), ""
    except HarnessError as exc:
        return None, str(exc)


def check_case(case, make_kernel) -> CaseOutcome:
    out = CaseOutcome(case.name, "skip", expected=case.result)
    why = skip_reason(case)
    if why:
        out.detail = why
        return out
    out.vm, vm_error = _vm_r0(case)
    reasons = []
    for vehicle in VEHICLES:
        kernel = make_kernel()
        try:
            out.real, out.vehicle = run_on_kernel(kernel, case, vehicle), vehicle
            break
        except BpfError as exc:
            reasons.append(f"{vehicle}: {exc.errno_name}: {exc.message}")
        except Exception as exc:          # noqa: BLE001 - a kernel that crashes is a finding, not our crash
            out.status, out.detail = "error", f"{vehicle}: kernel raised {type(exc).__name__}: {exc}"
            return out
        finally:
            getattr(kernel, "close_all", lambda: None)()
    if out.real is None:
        out.status, out.detail = "rejected", "; ".join(reasons)
        return out
    if out.vm is None:
        out.status, out.detail = "disagree", f"real r0={out.real:#x}, our VM failed: {vm_error}"
    elif out.vm != out.real:
        out.status, out.detail = "disagree", f"real r0={out.real:#x}, VM r0={out.vm:#x}"
    else:
        out.status = "agree"
        out.detail = f"r0={out.real:#x} via {out.vehicle}"
    return out


@dataclass
class SuiteReport:
    outcomes: list[CaseOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.outcomes if c.status == status)

    @property
    def ran(self) -> int:
        return self.count("agree") + self.count("disagree")

    def summary(self) -> str:
        return (f"{len(self.outcomes)} cases: {self.ran} ran on the kernel, {self.count('agree')} agreed with our VM, "
                f"{self.count('disagree')} disagreed, {self.count('rejected')} rejected by the kernel's verifier, "
                f"{self.count('skip')} skipped, {self.count('error')} errors")

    def reasons(self) -> dict[str, int]:
        """Why cases did not run: reason (numbers folded to N) -> count."""
        out: dict[str, int] = {}
        for c in self.outcomes:
            if c.status in ("skip", "rejected", "error"):
                why = c.detail.split(";")[0]
                why = why.split(": ", 2)[-1] if c.status == "rejected" else why
                why = re.sub(r"-?\b\d+\b", "N", why)
                out[why] = out.get(why, 0) + 1
        return out


def run_suite(make_kernel, directory: Path = SUITE_DIR) -> SuiteReport:
    from harness.isa.conformance import ConformanceFileError, load_case
    from harness.errors import HarnessError
    report = SuiteReport()
    for path in sorted(Path(directory).glob("*.data")):
        try:
            case = load_case(path)
        except (ConformanceFileError, HarnessError) as exc:
            report.outcomes.append(CaseOutcome(path.stem, "error", str(exc)))
            continue
        report.outcomes.append(check_case(case, make_kernel))
    return report
