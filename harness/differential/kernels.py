"""The two kernels of a differential run, configured alike, and running on a chosen CPU.

`emulated_like()` builds the EmulatedKernel the running kernel is compared with: as many
possible CPUs, the same privilege (root with CAP_SYS_ADMIN or CAP_PERFMON verifies
"privileged", CAP_BPF alone does not), and the running kernel's optional features --
except the features under test (MODEL_FEATURES: BPF_F_CPU and global per-CPU data), which
the emulated kernel keeps so that their absence on an older running kernel shows up as a
difference to be written down as an expectation, never silently configured away.
`features="running"` removes those too (an exact replica of what the kernel has).

`run_on_cpu()` runs a test on one CPU on both sides.  Only the raw_tp runner honours
BPF_F_TEST_RUN_ON_CPU; the skb and XDP runners run on the calling CPU, so for the real
kernel the calling thread is pinned (sched_setaffinity) and the emulated kernel is told
the same CPU through its configuration's default_cpu.
"""

from __future__ import annotations

import contextlib
import errno
import os

from harness.kernelapi import BpfError, TestRunAttr, TestRunResult
from harness.uapi import BPF_F_TEST_RUN_ON_CPU, ProgType

#: Features the project tests; an emulated kernel keeps them even where the running one lacks them.
MODEL_FEATURES = frozenset({"cpu_flags", "percpu_data"})
CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON = 12, 21, 39, 38
#: Program types whose runner takes the CPU from the request rather than the caller.
CPU_FLAG_PROG_TYPES = frozenset({ProgType.RAW_TRACEPOINT})


def effective_caps() -> int:
    """CapEff of this process (0 when unreadable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_privileged(caps: int | None = None) -> bool:
    """Does the verifier treat this process as privileged (bpf_capable + perfmon_capable)?"""
    caps = effective_caps() if caps is None else caps
    has = lambda cap: bool(caps >> cap & 1)          # noqa: E731
    return has(CAP_SYS_ADMIN) or (has(CAP_BPF) and has(CAP_PERFMON))


def emulated_like(real=None, *, features: str = "model", nr_cpus: int | None = None):
    """An EmulatedKernel configured like `real` (a RealKernel, or None for the running
    kernel's probe answers without a kernel object)."""
    from harness.kernel import EmulatedKernel, KernelConfig
    from harness.kernel.core import ALL_FEATURES
    from harness.realkernel import features as running_features
    from harness.realkernel import probe
    have = running_features() if probe().ok else frozenset()
    keep = MODEL_FEATURES if features == "model" else frozenset()
    feats = frozenset(f for f in ALL_FEATURES if f in have or f in keep)
    if nr_cpus is None:
        nr_cpus = real.nr_possible_cpus() if real is not None else _possible_cpus()
    return EmulatedKernel(KernelConfig(nr_cpus=nr_cpus, privileged=process_privileged(), features=feats))


def _possible_cpus() -> int:
    from harness.realkernel.kernel import POSSIBLE_CPUS_FILE, parse_cpu_list
    try:
        with open(POSSIBLE_CPUS_FILE) as f:
            return len(parse_cpu_list(f.read())) or 1
    except OSError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def pinned(cpu: int):
    """Run the calling thread on `cpu` only; yields False when that is not allowed."""
    try:
        old = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
    except (OSError, AttributeError, ValueError):
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, old)


def runnable_cpus(kernel) -> list[int]:
    """The CPUs a test can be pinned to: possible CPUs this process may run on."""
    n = kernel.nr_possible_cpus()
    try:
        allowed = os.sched_getaffinity(0)
    except (OSError, AttributeError):
        allowed = set(range(n))
    return [c for c in range(n) if c in allowed] or [0]


def run_on_cpu(kernel, fd: int, attr: TestRunAttr, cpu: int, prog_type: int) -> TestRunResult:
    """kernel.prog_test_run on `cpu` (see module docstring).  Raises BpfError."""
    if prog_type in CPU_FLAG_PROG_TYPES:
        attr = TestRunAttr(**{**attr.__dict__, "flags": attr.flags | BPF_F_TEST_RUN_ON_CPU, "cpu": cpu})
        return kernel.prog_test_run(fd, attr)
    config = getattr(kernel, "config", None)
    if config is not None and hasattr(config, "default_cpu"):
        old = config.default_cpu
        config.default_cpu = cpu
        try:
            return kernel.prog_test_run(fd, attr)
        finally:
            config.default_cpu = old
    with pinned(cpu) as ok:
        if not ok and cpu != 0:
            raise BpfError(errno.EPERM, f"cannot pin the test run to CPU {cpu}")
        return kernel.prog_test_run(fd, attr)
