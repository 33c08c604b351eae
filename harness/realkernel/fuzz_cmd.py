"""`python -m harness fuzz-diff --seconds N --seed S [--count N] [--what GENERATORS]`.

Differential fuzzing of the emulated kernel (configured like the running one) against the
running kernel.  Generators (--what, comma list; default `programs`):

- programs: harness.differential.gen -- well-formed random SOCKET_FILTER / XDP programs
  (ALU, jumps, stack, map operations, helper calls), loaded into both kernels and, where
  both accept, run once per CPU; every disagreement is printed with a delta-debugged
  minimal reproducer and its disassembly, then the agreement counts.  Program i of a seed
  is always the same program; --seconds bounds how many are tried, --count fixes it.
  Disagreements that match a class of harness/differential/known_differences.toml
  (--known FILE; --no-known for none) are counted by class id; only the unexplained
  ones are minimised, printed and make the exit status 1.
- maps, progs: harness.realkernel.fuzz -- random map command sequences and short
  loop-free programs, --count cases each (default 200) from an integer seed, differences
  printed (the first --show in full).
- ctx: harness.differential.ctxfuzz -- one context load or store at a random offset,
  size and form for the __sk_buff / xdp_md program types; the verdicts must agree.
- loops: harness.differential.loopfuzz -- programs with one bounded loop (not minimised);
  verdict, processed count and return value must agree.

Exit status: 0 when the kernels agree (or differ only in known ways), 1 for unexplained disagreements, 2 for bad arguments or when
the running kernel cannot be used (the reason is printed, as a test's skip reason would be).
"""

from __future__ import annotations

from harness.errors import HarnessError

DEFAULT_LEGACY_COUNT = 200


def add_arguments(parser) -> None:
    parser.add_argument("--what", default="programs", help="comma list of: programs, maps, progs, ctx, loops (default: programs)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget for `programs` (default 10)")
    parser.add_argument("--seed", default="1", help="seed (default 1; `maps`/`progs` need an integer)")
    parser.add_argument("--count", type=int, default=None,
                        help=f"number of programs (overrides --seconds) / cases per generator (default {DEFAULT_LEGACY_COUNT})")
    parser.add_argument("--max-reproducers", type=int, default=20,
                        help="minimise at most this many disagreements (default 20)")
    parser.add_argument("--show", type=int, default=5, help="maps/progs differences printed in full (default 5)")
    parser.add_argument("--known", default=None, help="known-difference classes (default harness/differential/known_differences.toml)")
    parser.add_argument("--no-known", action="store_true", help="treat every disagreement as unexplained")
    parser.add_argument("--quiet", "-q", action="store_true", help="programs: print only the summary")


def _print(d, quiet: bool) -> None:
    if quiet:
        return
    from harness.uapi import ProgType
    p, r = d.program, d.reproducer
    print(f"\n#{p.index} {ProgType(p.prog_type).name}{' risk=' + p.risk if p.risk else ''}: "
          f"{d.differences[0].text()}")
    for extra in d.differences[1:]:
        print(f"    also {extra.text()}")
    print(f"  reproducer ({len(r.insns)} of {len(p.insns)} slots, {d.evaluations} evaluations):")
    for line in d.disassembly():
        print(f"    {line}")
    if d.reproducer_differences:
        print(f"  reproducer shows: {d.reproducer_differences[0].text()}")


def _programs(real, args) -> int:
    from harness.differential.fuzz import KernelPair, fuzz
    from harness.differential.kernels import emulated_like, runnable_cpus
    from harness.realkernel import RealKernel
    from harness.differential import known
    classes = () if args.no_known else known.load(args.known or known.DEFAULT_FILE)
    pair = KernelPair(lambda: emulated_like(real), RealKernel, runnable_cpus(real))
    report = fuzz(pair, args.seed, count=args.count, seconds=None if args.count else args.seconds,
                  max_reproducers=args.max_reproducers, progress=lambda d: _print(d, args.quiet), known=classes)
    print(("\n" if report.disagreements and not args.quiet else "") + report.summary())
    return report.unexplained


def _legacy(real, names: list[str], args) -> int:
    from harness.realkernel.fuzz import FUZZERS, emulated_like
    try:
        seed = int(args.seed)
    except ValueError:
        raise HarnessError(f"--seed must be an integer for {', '.join(names)}, not {args.seed!r}") from None
    count = DEFAULT_LEGACY_COUNT if args.count is None else args.count
    emulated = emulated_like(real)
    total = []
    for name in names:
        diffs = FUZZERS[name](real, emulated, count, seed)
        kinds: dict[str, int] = {}
        for d in diffs:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        print(f"{name}: {count} cases from seed {seed}, differences: {summary}")
        total.extend(diffs)
    for d in total[:args.show]:
        print(f"\n[{d.kind}] seed {d.seed}: {d.detail}")
        for line in d.context:
            print(f"    {line}")
    return len(total)


def run(args) -> int:
    from harness.realkernel.fuzz import FUZZERS
    wanted = [w.strip() for w in args.what.split(",") if w.strip()]
    known = ("programs", *FUZZERS)
    unknown = [w for w in wanted if w not in known]
    if unknown or not wanted:
        raise HarnessError(f"--what: unknown generator(s) {', '.join(unknown) or '(none given)'}; "
                           f"known: {', '.join(known)}")
    if args.seconds <= 0:
        raise HarnessError(f"--seconds must be positive, not {args.seconds}")
    if args.count is not None and args.count < 0:
        raise HarnessError(f"--count must not be negative, not {args.count}")
    from harness.realkernel import RealKernel, probe
    available = probe()
    if not available.ok:
        raise HarnessError(f"running kernel unavailable: {available.reason}")
    differing = 0
    with RealKernel() as real:
        if "programs" in wanted:
            differing += _programs(real, args)
        legacy = [w for w in wanted if w != "programs"]
        if legacy:
            differing += _legacy(real, legacy, args)
    return 1 if differing else 0
