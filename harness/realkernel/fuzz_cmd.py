"""`python -m harness fuzz-diff [--what maps,progs] [--count N] [--seed S] [--show K]`.

Runs the generators of harness.realkernel.fuzz on the emulated and the running kernel
and prints every difference (first --show in full).  Exit status: 0 when the kernels
agree, 1 when they differ, 2 when the running kernel cannot be used (the reason is
printed, as the tests' skip reason would be).
"""

from __future__ import annotations

from harness.errors import HarnessError


def add_arguments(parser) -> None:
    parser.add_argument("--what", default="maps,progs", help="comma list of: maps, progs (default: both)")
    parser.add_argument("--count", type=int, default=200, help="cases per generator (default: 200)")
    parser.add_argument("--seed", type=int, default=1, help="first seed; case i uses seed+i (default: 1)")
    parser.add_argument("--show", type=int, default=5, help="differences printed in full (default: 5)")


def run(args) -> int:
    from harness.realkernel import RealKernel, probe
    from harness.realkernel.fuzz import FUZZERS, emulated_like

    wanted = [w.strip() for w in args.what.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in FUZZERS]
    if unknown:
        raise HarnessError(f"--what: unknown generator(s) {', '.join(unknown)}; known: {', '.join(FUZZERS)}")
    if args.count < 0:
        raise HarnessError(f"--count must not be negative, not {args.count}")
    available = probe()
    if not available.ok:
        raise HarnessError(f"running kernel unavailable: {available.reason}")
    total = []
    with RealKernel() as real:
        emulated = emulated_like(real)
        for name in wanted:
            diffs = FUZZERS[name](real, emulated, args.count, args.seed)
            kinds = {}
            for d in diffs:
                kinds[d.kind] = kinds.get(d.kind, 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
            print(f"{name}: {args.count} cases from seed {args.seed}, differences: {summary}")
            total.extend(diffs)
    for d in total[:args.show]:
        print(f"\n[{d.kind}] seed {d.seed}: {d.detail}")
        for line in d.context:
            print(f"    {line}")
    return 1 if total else 0
