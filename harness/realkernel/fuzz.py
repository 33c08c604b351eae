"""Differential fuzzing: the same random inputs on the emulated and the running kernel.

Two generators, both seeded (a difference is reproducible from its seed alone):
- map cases: a random map spec and a random sequence of map commands with flags drawn
  from the interesting set (NOEXIST/EXIST, F_LOCK, BPF_F_CPU with in- and out-of-range
  CPUs, ALL_CPUS, stray high bits).  Every command's outcome (bytes or errno) is compared.
- programs: short loop-free programs (forward jumps only, so both kernels terminate):
  registers and stack initialised by a prologue, then random ALU/ALU32 ops, conditional
  jumps, stack loads/stores, and now and then a deliberately suspicious instruction
  (division by a zero immediate, a big shift, an uninitialised register, a store to r10,
  a stack access out of bounds).  Nothing reads uninitialised stack: the privileged
  verifier accepts that and the result is garbage, which no comparison can use; nor
  does anything return a pointer (also accepted for root: an address differs per run).  The verdict (errno and reason line) is compared, and
  for programs both accept, the test-run return value.

The emulated kernel is configured like the running one (possible CPUs and the optional
features the running kernel has), so every difference is a finding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harness.isa.insn import Insn, decode, encode
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr, TestRunAttr
from harness.realkernel.availability import FEATURES, feature
from harness.realkernel.verifier_log import reason_line
from harness.uapi import (BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_CPU, BPF_F_LOCK, BPF_NOEXIST, PERCPU_MAP_TYPES,
                          MapType, ProgType, round_up)


def emulated_like(real):
    """An EmulatedKernel with the running kernel's possible CPUs and optional features."""
    from harness.kernel import EmulatedKernel, KernelConfig
    default = KernelConfig().features
    missing = {name for name in FEATURES if name in default and not feature(name)}
    return EmulatedKernel(KernelConfig(nr_cpus=real.nr_possible_cpus(), features=default - missing))


@dataclass
class Difference:
    kind: str                 # "map", "verdict", "message", "retval"
    seed: int
    detail: str               # one line: what differed
    context: list[str] = field(default_factory=list)   # the ops or the program


def outcome(call, *args):
    """("ok", result) or (errno name, message) -- never raises for a BpfError."""
    try:
        return ("ok", call(*args))
    except BpfError as exc:
        return (exc.errno_name, exc.message)


# --- maps -----------------------------------------------------------------------------------

#: (map_type, key_size, value_size, max_entries, number of distinct keys used).  LRU maps
#: get room to spare: which element an LRU evicts is an implementation detail.
MAP_SPECS = [
    (MapType.ARRAY, 4, 8, 4, 6), (MapType.HASH, 4, 8, 3, 5), (MapType.LRU_HASH, 4, 8, 16, 4),
    (MapType.PERCPU_ARRAY, 4, 4, 2, 4), (MapType.PERCPU_ARRAY, 4, 12, 2, 4), (MapType.PERCPU_HASH, 4, 8, 3, 5),
    (MapType.LRU_PERCPU_HASH, 4, 8, 16, 4),
]

#: Hash-like maps: get_next_key's order is the bucket order, which depends on a per-map
#: random seed, so only "is there a first key" is compared.
UNORDERED_MAP_TYPES = frozenset({MapType.HASH, MapType.LRU_HASH, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH})

FLAG_CHOICES = [0, 0, 0, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_F_CPU, BPF_F_CPU | (1 << 32),
                BPF_F_CPU | (4096 << 32), BPF_F_ALL_CPUS, BPF_F_CPU | BPF_F_ALL_CPUS, 1 << 32,
                BPF_EXIST | BPF_F_ALL_CPUS, BPF_NOEXIST | BPF_F_CPU, 3, 32]

MAP_OPS = ["map_lookup_elem", "map_update_elem", "map_update_elem", "map_delete_elem",
           "map_get_next_key", "map_lookup_and_delete_elem"]


def random_map_case(rng: random.Random, ncpus: int):
    map_type, ks, vs, n, nkeys = rng.choice(MAP_SPECS)
    spec = (map_type, ks, vs, n)
    ops = []
    for _ in range(rng.randint(1, 12)):
        name = rng.choice(MAP_OPS)
        key = rng.randrange(nkeys).to_bytes(ks, "little")
        flags = rng.choice(FLAG_CHOICES)
        if name == "map_update_elem":
            if flags & (BPF_F_CPU | BPF_F_ALL_CPUS) or map_type not in PERCPU_MAP_TYPES:
                value = rng.randbytes(vs)
            else:      # padding zero: the padding copy is a known, separately tested difference
                value = b"".join(rng.randbytes(vs).ljust(round_up(vs, 8), b"\0") for _ in range(ncpus))
            ops.append((name, key, value, flags))
        elif name == "map_lookup_elem":
            ops.append((name, key, flags))
        elif name == "map_get_next_key":
            ops.append((name, None if rng.random() < 0.3 else key))
        else:
            ops.append((name, key))
    if rng.random() < 0.1:
        ops.insert(rng.randrange(len(ops) + 1), ("map_freeze",))
    return spec, ops


def run_map_case(kernel, spec, ops) -> list:
    map_type, ks, vs, n = spec
    created = outcome(kernel.map_create, MapCreateAttr(map_type, ks, vs, n, map_name="fuzz"))
    if created[0] != "ok":
        return [("map_create",) + created]
    fd = created[1]
    try:
        return [_normalise(map_type, op, outcome(getattr(kernel, op[0]), fd, *op[1:])) for op in ops]
    finally:
        kernel.close(fd)


def _normalise(map_type, op, result) -> tuple:
    if op[0] == "map_get_next_key" and map_type in UNORDERED_MAP_TYPES:
        if op[1] is not None:
            return (op[0], "unordered", None)
        return (op[0], result[0], None)       # first key exists or ENOENT; which one is arbitrary
    return (op[0],) + result


def _op_text(op) -> str:
    args = ", ".join(a.hex() if isinstance(a, bytes) else repr(a) for a in op[1:])
    return f"{op[0]}({args})"


def fuzz_maps(real, emulated, count: int, seed: int) -> list[Difference]:
    diffs = []
    for i in range(count):
        case_seed = seed + i
        spec, ops = random_map_case(random.Random(case_seed), real.nr_possible_cpus())
        want, got = run_map_case(real, spec, ops), run_map_case(emulated, spec, ops)
        for idx, (w, g) in enumerate(zip(want, got)):
            if w[:2] != g[:2] or (w[1] == "ok" and w[2] != g[2]):
                context = [f"map {MapType(spec[0]).name} key {spec[1]} value {spec[2]} max {spec[3]}"]
                context += [_op_text(op) for op in ops[:idx + 1]]
                diffs.append(Difference("map", case_seed, f"{w[0]}: real {w[1:]} emulated {g[1:]}", context))
                break
    return diffs


# --- programs ---------------------------------------------------------------------------------

ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0]
JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]
IMMS = [0, 1, -1, 2, 7, 31, 32, 63, 0x7FFFFFFF, -0x80000000]
SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}      # BPF_B, BPF_H, BPF_W, BPF_DW
STACK_SLOTS = 4


def _imm(rng):
    return rng.choice(IMMS) if rng.random() < 0.6 else rng.randrange(-(1 << 31), 1 << 31)


def _suspicious(rng) -> Insn:
    """One instruction that a verifier is likely to refuse, each for a different reason."""
    return rng.choice([
        Insn(0x37, dst=rng.randrange(6), imm=0),                     # div by zero (K)
        Insn(0x67, dst=rng.randrange(6), imm=rng.choice([64, 65])),   # shift too big
        Insn(0x64, dst=rng.randrange(6), imm=32),                     # 32-bit shift too big
        Insn(0xBF, dst=0, src=rng.randrange(6, 10)),                  # read of an uninit reg
        Insn(0xB7, dst=10, imm=0),                                    # frame pointer is read only
        Insn(0x7A, dst=10, off=-8 * rng.choice([65, 0]), imm=1),      # stack out of bounds
        Insn(rng.choice([0x0C, 0x2F, 0xAF]), dst=0, src=10),          # w0 += w10, *=, ^= a pointer
    ])


def random_program(rng: random.Random) -> list[Insn]:
    prologue = [Insn(0xB7, dst=r, imm=_imm(rng)) for r in (0, 2, 3, 4, 5)]
    prologue += [Insn(0x7A, dst=10, off=-8 * k, imm=_imm(rng)) for k in range(1, STACK_SLOTS + 1)]
    body: list[Insn] = []
    n = rng.randint(1, 20)
    for pos in range(n):
        roll = rng.random()
        if roll < 0.55:
            cls = rng.choice([0x07, 0x04])
            opc = rng.choice(ALU_OPS)
            if rng.random() < 0.5:
                imm = _imm(rng)
                if opc in (0x30, 0x90) and imm == 0:
                    imm = 3
                if opc in (0x60, 0x70, 0xC0):
                    imm = imm % (64 if cls == 0x07 else 32)
                body.append(Insn(cls | opc, dst=rng.choice([0, 2, 3, 4, 5]), imm=imm))
            else:
                body.append(Insn(cls | opc | 0x08, dst=rng.choice([0, 2, 3, 4, 5]), src=rng.choice([0, 2, 3, 4, 5])))
        elif roll < 0.72:
            cls = rng.choice([0x05, 0x06])
            off = rng.randint(0, n - pos - 1)
            if rng.random() < 0.5:
                body.append(Insn(cls | rng.choice(JMP_OPS), dst=rng.choice([0, 2, 3]), imm=_imm(rng), off=off))
            else:
                body.append(Insn(cls | rng.choice(JMP_OPS) | 0x08, dst=rng.choice([0, 2, 3]),
                                 src=rng.choice([2, 3, 4]), off=off))
        elif roll < 0.83:
            size = rng.choice(list(SIZES))
            off = -8 * rng.randint(1, STACK_SLOTS) + rng.randrange(0, 8, size)
            body.append(Insn(0x63 | SIZES[size], dst=10,
                             src=rng.choice([0, 2, 3, 4, 5]), off=off))
        elif roll < 0.95:
            size = rng.choice(list(SIZES))
            off = -8 * rng.randint(1, STACK_SLOTS) + rng.randrange(0, 8, size)
            body.append(Insn(0x61 | SIZES[size], dst=rng.choice([0, 2, 3, 4, 5]), src=10, off=off))
        else:
            body.append(_suspicious(rng))
    return prologue + body + [Insn(0x95)]


PACKET = bytes(range(64))


def run_program(kernel, code: bytes) -> tuple:
    """("load", errno name, reason) for a refused program, ("run", errno name) for a failed
    test run, ("retval", value) otherwise."""
    try:
        res = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, code))
    except BpfError as exc:
        return ("load", exc.errno_name, exc.message)
    try:
        return ("retval", kernel.prog_test_run(res.fd, TestRunAttr(data_in=PACKET)).retval)
    except BpfError as exc:
        return ("run", exc.errno_name)
    finally:
        kernel.close(res.fd)


def _listing(code: bytes) -> list[str]:
    try:
        from harness.isa.disasm import disasm
        return disasm(decode(code))
    except Exception:             # noqa: BLE001 - a listing is a convenience
        return [str(i) for i in decode(code)]


def fuzz_programs(real, emulated, count: int, seed: int) -> list[Difference]:
    diffs = []
    for i in range(count):
        case_seed = seed + i
        code = encode(random_program(random.Random(case_seed)))
        want, got = run_program(real, code), run_program(emulated, code)
        if want == got:
            continue
        if want[0] == got[0] == "load" and want[1] == got[1]:
            kind = "message"
        elif "load" in (want[0], got[0]):
            kind = "verdict"
        else:
            kind = "retval"
        diffs.append(Difference(kind, case_seed, f"real {want} emulated {got}", _listing(code)))
    return diffs


def fuzz_ctx(real, emulated, count: int, seed: int) -> list[Difference]:
    """Context loads and stores (harness/differential/ctxfuzz.py)."""
    from harness.differential.ctxfuzz import fuzz_ctx as run
    return run(real, emulated, count, seed)


def fuzz_loops(real, emulated, count: int, seed: int) -> list[Difference]:
    """Programs with one bounded loop (harness/differential/loopfuzz.py)."""
    from harness.differential.loopfuzz import fuzz_loops as run
    return run(real, emulated, count, seed)


FUZZERS = {"maps": fuzz_maps, "progs": fuzz_programs, "ctx": fuzz_ctx, "loops": fuzz_loops}
