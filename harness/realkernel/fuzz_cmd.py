"""`python -m harness fuzz-diff --seconds N --seed S [--count N]`: differential fuzzing.

Generates well-formed random programs (harness.differential.gen: ALU, jumps, stack, map
operations, helper calls) as SOCKET_FILTER or XDP, loads each into the emulated kernel
(configured like the running one) and the running kernel, runs both where both accept
(once per CPU), and prints the agreement counts and each disagreement with a
delta-debugged minimal reproducer and its disassembly.  Program i of a seed is always the
same program; --seconds bounds how many are tried, --count fixes it.

Exit status: 0 when every program agreed, 1 when some disagreed, 2 for bad arguments or
when bpf(2) is not usable here (the reason is printed).
"""

from __future__ import annotations

from harness.errors import HarnessError


def add_arguments(parser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget for generating programs (default 10)")
    parser.add_argument("--seed", default="0", help="seed (any string; default 0)")
    parser.add_argument("--count", type=int, default=None, help="exact number of programs (overrides --seconds)")
    parser.add_argument("--max-reproducers", type=int, default=20,
                        help="minimise at most this many disagreements (default 20)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the summary")


def _print(d, quiet: bool) -> None:
    if quiet:
        return
    p, r = d.program, d.reproducer
    from harness.uapi import ProgType
    print(f"\n#{p.index} {ProgType(p.prog_type).name}{' risk=' + p.risk if p.risk else ''}: "
          f"{d.differences[0].text()}")
    for extra in d.differences[1:]:
        print(f"    also {extra.text()}")
    print(f"  reproducer ({len(r.insns)} of {len(p.insns)} slots, {d.evaluations} evaluations):")
    for line in d.disassembly():
        print(f"    {line}")
    if d.reproducer_differences:
        print(f"  reproducer shows: {d.reproducer_differences[0].text()}")


def run(args) -> int:
    if args.seconds <= 0:
        raise HarnessError(f"--seconds must be positive, not {args.seconds}")
    if args.count is not None and args.count <= 0:
        raise HarnessError(f"--count must be positive, not {args.count}")
    from harness.realkernel import RealKernel, probe
    available = probe()
    if not available.ok:
        raise HarnessError(f"kernel BPF oracle unavailable: {available.reason}")
    from harness.differential.fuzz import KernelPair, fuzz
    from harness.differential.kernels import emulated_like, runnable_cpus
    with RealKernel() as real:
        pair = KernelPair(lambda: emulated_like(real), RealKernel, runnable_cpus(real))
    report = fuzz(pair, args.seed, count=args.count, seconds=None if args.count else args.seconds,
                  max_reproducers=args.max_reproducers, progress=lambda d: _print(d, args.quiet))
    print(("\n" if report.disagreements and not args.quiet else "") + report.summary())
    return 0 if report.disagree == 0 else 1
