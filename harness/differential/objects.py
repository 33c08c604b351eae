"""One ELF object through the same loader (harness.libbpf) into both kernels.

`observe_object(path, kernel, cpus)` opens the object with every program autoloaded
(as the load stage does), loads it at log level 1, test-runs every program that loaded
once on each CPU in `cpus` -- in program order, so map side effects accumulate the same
way on both sides -- and reads every map afterwards.  `diff_object(path)` does that on
the emulated and the real kernel and compares (observe.compare) per program; map
differences belong to the object as a whole ("*").

Test-run input follows the selftests' test_loader: 64 zero bytes of packet data, no input
for raw tracepoint and SYSCALL programs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.differential.kernels import run_on_cpu, runnable_cpus
from harness.differential.observe import Difference, Observation, compare, load_obs, run_obs, snapshot_map
from harness.kernelapi import BpfError, TestRunAttr
from harness.uapi import ProgType

TEST_DATA_LEN = 64
#: Program types whose runner takes no packet: their test runs get no input at all.
NO_DATA_PROG_TYPES = frozenset({ProgType.RAW_TRACEPOINT, ProgType.SYSCALL, ProgType.TRACING})


def run_attr(prog_type: int) -> TestRunAttr:
    if prog_type in NO_DATA_PROG_TYPES:
        return TestRunAttr()
    return TestRunAttr(data_in=bytes(TEST_DATA_LEN), data_size_out=TEST_DATA_LEN * 4)


@dataclass
class ObjectObservation:
    error: str = ""                                   # open/load failed as a whole: errno and message
    programs: dict[str, Observation] = field(default_factory=dict)
    maps: dict[str, dict[str, str] | str] = field(default_factory=dict)


def observe_object(path: str, kernel, cpus: list[int]) -> ObjectObservation:
    from harness.errors import HarnessError
    from harness.libbpf.object import Object
    out = ObjectObservation()
    try:
        obj = Object.open(str(path), kernel)
    except (BpfError, HarnessError) as exc:
        out.error = f"open: {getattr(exc, 'errno_name', 'error')}: {getattr(exc, 'message', '') or exc}"
        return out
    try:
        for p in obj.programs:
            p.autoload = True
        try:
            obj.load(keep_going=True, log_level=1)
        except (BpfError, HarnessError) as exc:
            out.error = f"load: {getattr(exc, 'errno_name', 'error')}: {getattr(exc, 'message', '') or exc}"
            return out
        for p in obj.programs:
            out.programs[p.name] = Observation(load_obs(p.load_error, log=p.log, verified_insns=p.verified_insns))
        for p in obj.programs:
            if p.fd < 0:
                continue
            attr = run_attr(p.prog_type)
            out.programs[p.name].runs = [
                run_obs(cpu, lambda cpu=cpu, p=p: run_on_cpu(kernel, p.fd, attr, cpu, p.prog_type)) for cpu in cpus]
        for m in obj.maps:
            if m.fd >= 0:
                out.maps[m.name] = snapshot_map(kernel, m.fd, m.type)
    finally:
        obj.destroy()
    return out


@dataclass
class ObjectDiff:
    emulated: ObjectObservation
    real: ObjectObservation
    programs: dict[str, list[Difference]] = field(default_factory=dict)
    object: list[Difference] = field(default_factory=list)


def diff_object(path: str, *, emulated=None, real=None) -> ObjectDiff:
    """Observe `path` on both kernels (fresh ones unless given) and compare."""
    from harness.differential.kernels import emulated_like
    from harness.realkernel import RealKernel
    own_real = real is None
    real = RealKernel() if own_real else real
    try:
        emulated = emulated_like(real) if emulated is None else emulated
        cpus = runnable_cpus(real)
        r = observe_object(path, real, cpus)
        e = observe_object(path, emulated, cpus)
    finally:
        if own_real:
            real.close_all()
    d = ObjectDiff(e, r)
    if e.error != r.error:
        d.object.append(Difference("object", e.error or "loaded", r.error or "loaded"))
    d.object += compare(Observation(maps=e.maps), Observation(maps=r.maps))
    for name in list(dict.fromkeys(list(r.programs) + list(e.programs))):
        pe, pr = e.programs.get(name), r.programs.get(name)
        if pe is None or pr is None:
            d.programs[name] = [Difference("program", "present" if pe else "absent", "present" if pr else "absent")]
        else:
            d.programs[name] = compare(pe, pr)
    return d
