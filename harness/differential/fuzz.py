"""Differential fuzzing: generated programs (gen.py) on two kernels, disagreements minimised.

`observe_program(kernel, prog, cpus)` creates the fuzz maps (gen.MAPS) on that kernel,
patches the program's map references to their fds, loads it at log level 1 and, when
accepted, test-runs it once on each CPU (64 bytes of packet data) and reads the maps.
`fuzz()` does that for programs 0, 1, 2, ... of a seed on a `KernelPair` until the count
or the time is reached, tallies agreement, and for each disagreement delta-debugs a
minimal reproducer: units (progedit.py) are dropped, ddmin-style and then one at a time,
while a difference of the same kind (Difference.key) persists.  Minimisation is bounded by
a number of evaluations, not by time, so a seed's reproducers are deterministic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from harness.differential.gen import HELPER_NAMES, MAPS, FuzzProgram, generate
from harness.differential.kernels import run_on_cpu
from harness.differential.observe import Difference, Observation, compare, load_obs, run_obs, snapshot_map
from harness.differential.progedit import delete, encode_units, to_units
from harness.isa import disasm, opcodes as o
from harness.isa.insn import encode
from harness.kernelapi import BpfError, ProgLoadAttr, TestRunAttr
from harness.uapi import BPF_PSEUDO_MAP_FD

MAX_EVALUATIONS = 300
TEST_DATA = bytes(range(64))


@dataclass
class KernelPair:
    """Factories for the two sides; each observation gets fresh kernel objects."""
    emulated: Callable[[], object]
    real: Callable[[], object]
    cpus: list[int] = field(default_factory=lambda: [0])


def _patch_maps(prog: FuzzProgram, fds: list[int]) -> bytes:
    out = []
    for i in prog.insns:
        if o.is_ld_imm64(i) and i.src == BPF_PSEUDO_MAP_FD and 0 <= i.imm < len(fds):
            i = i.replace(imm=fds[i.imm])
        out.append(i)
    return encode(out)


def observe_program(kernel, prog: FuzzProgram, cpus: list[int], run: bool = True) -> Observation:
    fds: list[int] = []
    obs = Observation()
    try:
        for attr in MAPS:
            fds.append(kernel.map_create(attr))
        prog_fd = -1
        try:
            res = kernel.prog_load(ProgLoadAttr(prog.prog_type, _patch_maps(prog, fds), license="GPL", log_level=1))
            prog_fd = res.fd
            obs.load = load_obs(None, log=res.log, verified_insns=res.verified_insns)
        except BpfError as exc:
            obs.load = load_obs(exc)
        if prog_fd >= 0 and run:
            attr = TestRunAttr(data_in=TEST_DATA, data_size_out=len(TEST_DATA) * 4)
            obs.runs = [run_obs(c, lambda c=c: run_on_cpu(kernel, prog_fd, attr, c, prog.prog_type)) for c in cpus]
            fds.append(prog_fd)
        for attr, fd in zip(MAPS, fds) if run else ():
            obs.maps[attr.map_name] = snapshot_map(kernel, fd, attr.map_type)
    finally:
        for fd in fds:
            try:
                kernel.close(fd)
            except BpfError:
                pass
        closer = getattr(kernel, "close_all", None)
        if closer:
            closer()
    return obs


def differences(pair: KernelPair, prog: FuzzProgram) -> tuple[list[Difference], Observation, Observation]:
    e = observe_program(pair.emulated(), prog, pair.cpus)
    r = observe_program(pair.real(), prog, pair.cpus)
    return compare(e, r), e, r


def load_differences(pair: KernelPair, prog: FuzzProgram) -> list[Difference]:
    """Differences of the load alone (no test runs, no maps): what a counterfactual rewrite
    (known.REWRITES) is judged by, since a rewrite may change what a run computes."""
    return compare(observe_program(pair.emulated(), prog, pair.cpus, run=False),
                   observe_program(pair.real(), prog, pair.cpus, run=False))


#: Helper -> argument registers that point at stack memory the helper reads, and its size.
HELPER_STACK_ARGS = {1: ((2, 4),), 2: ((2, 4), (3, 8)), 3: ((2, 4),)}


def stack_reads_initialised(insns) -> bool:
    """Does every stack read (loads from r10, helper key/value pointers) follow a store to
    those bytes, in program order?  Generated programs only jump forward, so program order
    is a sound approximation.  Minimisation keeps only candidates for which this holds:
    dropping a store would otherwise make the reproducer read uninitialised stack, which a
    privileged verifier accepts and which yields garbage (a different disagreement)."""
    written: set[int] = set()
    fp_off: dict[int, int] = {}          # register -> its constant offset from r10
    for i in insns:
        cl = o.cls(i.code)
        if cl in (o.BPF_ST, o.BPF_STX) and o.mode(i.code) == o.BPF_MEM and i.dst == 10:
            written.update(range(i.off, i.off + o.SIZE_BYTES[o.size(i.code)]))
        elif cl == o.BPF_LDX and i.src == 10:
            if not set(range(i.off, i.off + o.SIZE_BYTES[o.size(i.code)])) <= written:
                return False
        elif o.is_helper_call(i):
            for reg, size in HELPER_STACK_ARGS.get(i.imm, ()):
                off = fp_off.get(reg)
                if off is not None and not set(range(off, off + size)) <= written:
                    return False
            for reg in range(6):
                fp_off.pop(reg, None)
            continue
        if cl == o.BPF_ALU64 and i.code == (o.BPF_ALU64 | o.BPF_MOV | o.BPF_X) and i.src == 10:
            fp_off[i.dst] = 0
        elif i.code == (o.BPF_ALU64 | o.BPF_ADD) and i.dst in fp_off:
            fp_off[i.dst] += i.imm
        elif (o.is_alu(i) or cl == o.BPF_LDX or o.is_ld_imm64(i)) and i.dst in fp_off:
            fp_off.pop(i.dst)
    return True


def minimise(prog: FuzzProgram, still_differs: Callable[[FuzzProgram], bool],
             max_evaluations: int = MAX_EVALUATIONS) -> tuple[FuzzProgram, int]:
    """The smallest program (by units) found for which `still_differs` holds: ddmin over
    chunks, then single units until none can go.  Returns (program, evaluations)."""
    units = to_units(list(prog.insns))
    kept = list(range(len(units)))
    evals = 0

    def test(candidate: list[int]) -> bool:
        nonlocal evals
        if not candidate or evals >= max_evaluations:
            return False
        evals += 1
        drop = set(range(len(units))) - set(candidate)
        return still_differs(prog.with_insns(encode_units(delete(units, drop))))

    gran = 2
    while len(kept) >= 2 and evals < max_evaluations:
        chunk = -(-len(kept) // gran)
        for start in range(0, len(kept), chunk):
            cand = kept[:start] + kept[start + chunk:]
            if test(cand):
                kept, gran = cand, max(gran - 1, 2)
                break
        else:
            if gran >= len(kept):
                break
            gran = min(len(kept), gran * 2)
    changed = True
    while changed and evals < max_evaluations:
        changed = False
        for k in list(kept):
            cand = [x for x in kept if x != k]
            if test(cand):
                kept, changed = cand, True
    drop = set(range(len(units))) - set(kept)
    return prog.with_insns(encode_units(delete(units, drop))), evals


@dataclass
class Disagreement:
    program: FuzzProgram
    differences: list[Difference]
    reproducer: FuzzProgram
    reproducer_differences: list[Difference]
    evaluations: int

    def disassembly(self) -> list[str]:
        return disasm(list(self.reproducer.insns), imm_fmt=_map_name, helper_name=HELPER_NAMES.get)


def _map_name(i, value):
    if i.src == BPF_PSEUDO_MAP_FD and 0 <= i.imm < len(MAPS):
        return f"map[{MAPS[i.imm].map_name}]"
    return None


@dataclass
class FuzzReport:
    seed: object
    programs: int = 0
    agree: int = 0
    both_accepted: int = 0             # and therefore run on both
    both_rejected: int = 0
    only_emulated_accepted: int = 0
    only_real_accepted: int = 0
    unchecked: int = 0                 # emulated side accepted without a verifier
    by_field: dict[str, int] = field(default_factory=dict)     # disagreements by first differing field
    disagreements: list[Disagreement] = field(default_factory=list)    # the unexplained ones (minimised)
    seconds: float = 0.0
    known: dict[str, int] = field(default_factory=dict)        # class id -> programs it helped explain
    unused: list[str] = field(default_factory=list)            # classes that explained nothing
    unexplained: int = 0

    @property
    def known_total(self) -> int:
        return self.disagree - self.unexplained

    @property
    def disagree(self) -> int:
        return self.programs - self.agree

    def summary(self) -> str:
        fields = ", ".join(f"{k} {v}" for k, v in sorted(self.by_field.items())) or "none"
        return (f"seed {self.seed}: {self.programs} programs in {self.seconds:.1f} s: {self.agree} agree, "
                f"{self.disagree} disagree (by field: {fields}); verdicts: both accepted {self.both_accepted}, "
                f"both rejected {self.both_rejected}, only emulated accepted {self.only_emulated_accepted}, "
                f"only real accepted {self.only_real_accepted}; emulated unchecked {self.unchecked}"
                + self.known_summary())

    def known_summary(self) -> str:
        known = ", ".join(f"{k} {v}" for k, v in sorted(self.known.items())) or "none"
        unused = f"; unused classes: {', '.join(self.unused)}" if self.unused else ""
        return (f"\nknown differences {self.known_total} ({known}); unexplained {self.unexplained}{unused}")


def fuzz(pair: KernelPair, seed, *, count: int | None = None, seconds: float | None = None,
         minimise_limit: int = MAX_EVALUATIONS, max_reproducers: int = 20,
         progress: Callable[[Disagreement], None] | None = None, known=()) -> FuzzReport:
    """Programs 0.. of `seed` until `count` programs or `seconds` have passed (at least one).
    A disagreement all of whose differences match `known` classes (known.classify) is
    known (counted once under each class credited); the others are unexplained and minimised."""
    from harness.differential.known import classify
    report = FuzzReport(seed)
    t0 = time.monotonic()
    index = 0
    while (count is None or index < count) and (seconds is None or index == 0 or time.monotonic() - t0 < seconds):
        prog = generate(seed, index)
        index += 1
        diffs, e, r = differences(pair, prog)
        report.programs += 1
        a, b = e.load.accepted, r.load.accepted
        report.both_accepted += a and b
        report.both_rejected += not a and not b
        report.only_emulated_accepted += a and not b
        report.only_real_accepted += b and not a
        report.unchecked += not e.load.checked
        if not diffs:
            report.agree += 1
            continue
        first = diffs[0].what.split()[0]
        report.by_field[first] = report.by_field.get(first, 0) + 1
        ids = classify(known, diffs, prog.insns, lambda insns: load_differences(pair, prog.with_insns(insns)))
        if ids is not None:
            for cid in dict.fromkeys(ids):
                report.known[cid] = report.known.get(cid, 0) + 1
            continue
        report.unexplained += 1
        if len(report.disagreements) >= max_reproducers:
            continue
        key = diffs[0].key
        repro, evals = minimise(prog, lambda p: stack_reads_initialised(p.insns)
                                and any(d.key == key for d in differences(pair, p)[0]), minimise_limit)
        found = Disagreement(prog, diffs, repro, differences(pair, repro)[0], evals)
        report.disagreements.append(found)
        if progress:
            progress(found)
    report.seconds = time.monotonic() - t0
    report.unused = [c.id for c in known if c.id not in report.known]
    return report
