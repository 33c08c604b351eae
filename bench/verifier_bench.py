"""Verifier throughput: processed instructions per second on a set of programs.

    python bench/verifier_bench.py [--min-rate N]

Each program is verified through the emulated kernel's prog_load at log_level 0 (the
path the matrix uses most); the script prints insns/s per program and overall, and exits
1 when the overall rate is below --min-rate (first target: 100k insns/s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.isa import encode  # noqa: E402
from harness.isa.asm import assemble  # noqa: E402
from harness.kernel import EmulatedKernel, KernelConfig  # noqa: E402
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr  # noqa: E402
from harness.uapi import MapType, ProgType  # noqa: E402

PROGRAMS = {
    # constant-bounded loop: the verifier unrolls it (3 insns per iteration)
    "bounded_loop_30k": "mov %r0, 0\nmov %r1, 0\nl: add %r0, %r1\nadd %r1, 1\njlt %r1, 30000, l\nexit",
    # nested loops over the stack
    "nested_loops": """
        mov %r0, 0
        mov %r1, 0
        o: mov %r2, 0
        i: add %r0, %r2
        stxdw [%r10-8], %r0
        ldxdw %r0, [%r10-8]
        add %r2, 1
        jlt %r2, 100, i
        add %r1, 1
        jlt %r1, 100, o
        exit""",
    # many unknown branches: pruning keeps this small
    "branchy_2000": "\n".join(["mov %r0, 0"] +
                              [f"ldxw %r2, [%r1+0]\njeq %r2, {k}, +1\nadd %r0, 1" for k in range(2000)]
                              + ["exit"]),
    # map lookups in a loop, with a null check and bounded indexing
    "map_loop": """
        mov %r6, 0
        l: stxw [%r10-4], %r6
        mov %r2, %r10
        add %r2, -4
        lddw %r1, 0x7eadbeef00000000
        call 1
        jeq %r0, 0, n
        ldxdw %r3, [%r0+0]
        and %r3, 7
        add %r0, %r3
        ldxb %r3, [%r0+0]
        n: add %r6, 1
        jlt %r6, 2000, l
        mov %r0, 0
        exit""",
}


def run_one(name: str, text: str) -> tuple[int, float]:
    k = EmulatedKernel(KernelConfig())
    fd = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 16, 4096, map_name="m"))
    insns = assemble(text)
    for i, ins in enumerate(insns):
        if ins.code == 0x18 and insns[i + 1].imm == 0x7EADBEEF:
            insns[i] = ins.replace(src=1, imm=fd)
            insns[i + 1] = insns[i + 1].replace(imm=0)
    attr = ProgLoadAttr(ProgType.SOCKET_FILTER, encode(insns), "GPL")
    t0 = time.perf_counter()
    try:
        res = k.prog_load(attr)
    except BpfError as e:
        raise SystemExit(f"{name}: rejected: {e}")
    return res.verified_insns, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-rate", type=float, default=100_000.0)
    args = ap.parse_args(argv)
    total_n, total_t = 0, 0.0
    for name, text in PROGRAMS.items():
        n, t = run_one(name, text)
        total_n += n
        total_t += t
        print(f"{name:20s} {n:9d} insns {t:7.2f} s {n / t:10.0f} insns/s")
    rate = total_n / total_t
    print(f"{'overall':20s} {total_n:9d} insns {total_t:7.2f} s {rate:10.0f} insns/s (target {args.min_rate:.0f})")
    return 0 if rate >= args.min_rate else 1


if __name__ == "__main__":
    sys.exit(main())
