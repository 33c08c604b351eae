"""Context-access fuzzing: one load or store at a random context offset, size and form, on
both kernels; the verdicts (errno and message) must agree.

Each program type has its own rules for which `__sk_buff` / `xdp_md` bytes a program may
read or write, with which sizes (the kernel's *_is_valid_access;
harness/kernel/verifier/ctxaccess.py models them).  Random programs rarely touch them, so
this generator does nothing else: `r2 = 7; <access through r1 or a copy of it>; r0 = 0;
exit`.  Used by `python -m harness fuzz-diff --what ctx`; case i of a seed is always the same.
"""

from __future__ import annotations

import random

from harness.isa import Insn, encode
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.uapi import ProgType

#: program type -> context size (struct __sk_buff is 192 bytes, struct xdp_md 24)
CTX_SIZE = {ProgType.SOCKET_FILTER: 192, ProgType.SCHED_CLS: 192, ProgType.SCHED_ACT: 192,
            ProgType.CGROUP_SKB: 192, ProgType.LWT_IN: 192, ProgType.LWT_OUT: 192,
            ProgType.LWT_XMIT: 192, ProgType.LWT_SEG6LOCAL: 192, ProgType.SK_SKB: 192,
            ProgType.FLOW_DISSECTOR: 192, ProgType.XDP: 24}
SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}


def random_case(rng: random.Random):
    pt = rng.choice(sorted(CTX_SIZE))
    off = rng.randrange(-8, CTX_SIZE[pt] + 8)
    size = rng.choice((1, 2, 4, 8))
    form = rng.choice(("ldx", "ldx", "stx", "st"))
    base = rng.choice((1, 3))                        # the context register or a copy of it
    return pt, off, size, form, base


def program(off: int, size: int, form: str, base: int) -> list[Insn]:
    if form == "ldx":
        access = Insn(0x61 | SIZE_BITS[size], 2, base, off, 0)
    elif form == "stx":
        access = Insn(0x63 | SIZE_BITS[size], base, 2, off, 0)
    else:
        access = Insn(0x62 | SIZE_BITS[size], base, 0, off, 7)
    return [Insn(0xBF, 3, 1, 0, 0), Insn(0xB7, 2, 0, 0, 7), access, Insn(0xB7, 0, 0, 0, 0),
            Insn(0x95, 0, 0, 0, 0)]


def verdict(kernel, prog_type: int, insns: list[Insn]) -> str:
    try:
        fd = kernel.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL", log_level=1)).fd
    except BpfError as exc:
        return f"{exc.errno_name}: {exc.message}"
    kernel.close(fd)
    return "loaded"


def fuzz_ctx(real, emulated, count: int, seed: int) -> list:
    from harness.realkernel.fuzz import Difference
    from harness.isa.disasm import disasm
    diffs = []
    for i in range(count):
        case_seed = seed + i
        pt, off, size, form, base = random_case(random.Random(f"ctx:{case_seed}"))
        insns = program(off, size, form, base)
        want, got = verdict(real, pt, insns), verdict(emulated, pt, insns)
        if want != got:
            kind = "message" if "loaded" not in (want, got) else "verdict"
            diffs.append(Difference(kind, case_seed, f"{pt.name}: real {want!r} emulated {got!r}",
                                    disasm(insns)))
    return diffs
