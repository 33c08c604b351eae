"""Random well-formed BPF programs for differential fuzzing (harness.isa instructions only).

A program is generated from `random.Random(f"{seed}:{index}")`, so program `index` of a
seed is the same whatever else ran before it.  The generator keeps a little state so that
most programs are *safe* (what both verifiers should accept and both machines run alike):

- which registers hold initialised scalars (r6 keeps the context; helper calls clobber
  r0-r5), and which stack slots were written and with what size (never read otherwise:
  a privileged verifier accepts uninitialised stack reads, whose values are garbage);
- forward conditional jumps only, and the instructions a jump may skip never initialise
  anything used after the join (`frozen`);
- map operations on the ARRAY / HASH maps of MAPS (ld_imm64 BPF_PSEUDO_MAP_FD whose imm
  is the map's index here, patched to a real fd per kernel), with the null check;
- r0 is an initialised scalar at `exit`.

With probability RISKY_RATE one deliberate fault (RISKS) is planted so that rejections
are compared too.  Helpers are restricted to deterministic ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harness.differential.progedit import Unit, encode_units
from harness.isa import opcodes as o
from harness.isa.insn import Insn
from harness.kernelapi import MapCreateAttr
from harness.uapi import BPF_PSEUDO_MAP_FD, MapType, ProgType

#: The maps each fuzz program may use: index -> create attr (key u32, value u64).
MAPS = (MapCreateAttr(MapType.ARRAY, 4, 8, 4, map_name="fz_array"),
        MapCreateAttr(MapType.HASH, 4, 8, 8, map_name="fz_hash"))
PROG_TYPES = (ProgType.SOCKET_FILTER, ProgType.XDP)
#: Scalar context fields per program type: (offset, size) readable as plain numbers.
CTX_SCALARS = {ProgType.SOCKET_FILTER: ((0, 4), (8, 4), (32, 4)), ProgType.XDP: ((16, 4),)}
HELPER_MAP_LOOKUP, HELPER_MAP_UPDATE, HELPER_MAP_DELETE, HELPER_SMP_ID = 1, 2, 3, 8
HELPER_NAMES = {HELPER_MAP_LOOKUP: "bpf_map_lookup_elem", HELPER_MAP_UPDATE: "bpf_map_update_elem",
                HELPER_MAP_DELETE: "bpf_map_delete_elem", HELPER_SMP_ID: "bpf_get_smp_processor_id"}
SCALAR_REGS = (0, 2, 3, 4, 5, 7, 8, 9)
CTX_REG = 6
STACK_SLOTS = 8                    # slots r10-8 .. r10-64
RISKY_RATE = 0.2
RISKS = ("uninit_reg", "no_null_check", "stack_oob", "div_zero_imm", "write_r10", "bad_shift")

ALU_IMM_OPS = (o.BPF_ADD, o.BPF_SUB, o.BPF_MUL, o.BPF_DIV, o.BPF_MOD, o.BPF_OR, o.BPF_AND, o.BPF_XOR,
               o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH, o.BPF_MOV)
SHIFTS = (o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH)


@dataclass(frozen=True)
class FuzzProgram:
    index: int
    prog_type: int
    insns: tuple[Insn, ...]
    risk: str = ""                   # the planted fault, "" for a program meant to be safe

    def with_insns(self, insns) -> "FuzzProgram":
        return FuzzProgram(self.index, self.prog_type, tuple(insns), self.risk)


@dataclass
class _State:
    r: random.Random
    prog_type: int
    units: list[Unit] = field(default_factory=list)
    scalars: set[int] = field(default_factory=set)
    slots: dict[int, int] = field(default_factory=dict)     # slot offset (negative) -> bytes written
    frozen: int = 0                                         # ops left that a pending jump may skip
    pending: list[tuple[int, int]] = field(default_factory=list)   # (unit index, target op)
    op_starts: list[int] = field(default_factory=list)

    def emit(self, *insns: Insn, target: int | None = None) -> int:
        self.units.append(Unit(tuple(insns), target))
        return len(self.units) - 1

    def scalar(self) -> int:
        return self.r.choice(sorted(self.scalars))

    def dst(self) -> int:
        """A register to write: while frozen only already-initialised ones."""
        if self.frozen:
            return self.scalar()
        return self.r.choice(SCALAR_REGS)


def _alu(s: _State) -> None:
    r = s.r
    wide = r.random() < 0.6
    cl = o.BPF_ALU64 if wide else o.BPF_ALU
    opc = r.choice(ALU_IMM_OPS)
    dst = s.dst() if opc == o.BPF_MOV else s.scalar()
    use_reg = opc != o.BPF_MOV and r.random() < 0.4 or (opc == o.BPF_MOV and r.random() < 0.3)
    if opc in SHIFTS and not use_reg:
        s.emit(Insn(cl | opc, dst, imm=r.randrange(64 if wide else 32)))
    elif use_reg:
        src = s.scalar()
        off = 1 if opc in (o.BPF_DIV, o.BPF_MOD) and r.random() < 0.3 else 0     # sdiv / smod (v4)
        s.emit(Insn(cl | opc | o.BPF_X, dst, src, off=off))
    else:
        imm = r.choice((r.randrange(-16, 17), r.randrange(-2**31, 2**31), 1, -1, 0x7FFFFFFF))
        if opc in (o.BPF_DIV, o.BPF_MOD) and imm == 0:
            imm = 3
        s.emit(Insn(cl | opc, dst, imm=imm))
    s.scalars.add(dst)


def _wide_const(s: _State) -> None:
    dst, v = s.dst(), s.r.getrandbits(64)
    s.emit(Insn(o.LD_IMM64_CODE, dst, imm=_s32(v & 0xFFFFFFFF)), Insn(0, imm=_s32(v >> 32)))
    s.scalars.add(dst)


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _neg_or_end(s: _State) -> None:
    r, dst = s.r, s.scalar()
    kind = r.choice(("neg", "end", "bswap"))
    if kind == "neg":
        s.emit(Insn((o.BPF_ALU64 if r.random() < 0.5 else o.BPF_ALU) | o.BPF_NEG, dst))
    elif kind == "end":
        s.emit(Insn(o.BPF_ALU | o.BPF_END | r.choice((o.BPF_TO_LE, o.BPF_TO_BE)), dst, imm=r.choice((16, 32, 64))))
    else:
        s.emit(Insn(o.BPF_ALU64 | o.BPF_END, dst, imm=r.choice((16, 32, 64))))


def _store(s: _State) -> None:
    r = s.r
    writable = sorted(s.slots) if s.frozen else [-8 * (k + 1) for k in range(STACK_SLOTS)]
    if not writable:
        return _alu(s)
    off = r.choice(writable)
    size = s.slots.get(off) or r.choice((8, 8, 4))
    code_size = o.BPF_DW if size == 8 else o.BPF_W
    if r.random() < 0.5:
        s.emit(Insn(o.BPF_STX | o.BPF_MEM | code_size, 10, s.scalar(), off=off))
    else:
        s.emit(Insn(o.BPF_ST | o.BPF_MEM | code_size, 10, off=off, imm=r.randrange(-1000, 1000)))
    s.slots.setdefault(off, size)


def _load(s: _State) -> None:
    if not s.slots:
        return _store(s)
    off = s.r.choice(sorted(s.slots))
    size = s.slots[off]
    choices = (o.BPF_DW, o.BPF_W, o.BPF_H, o.BPF_B) if size == 8 else (o.BPF_W, o.BPF_H, o.BPF_B)
    dst = s.dst()
    s.emit(Insn(o.BPF_LDX | o.BPF_MEM | s.r.choice(choices), dst, 10, off=off))
    s.scalars.add(dst)


def _ctx(s: _State) -> None:
    off, size = s.r.choice(CTX_SCALARS[s.prog_type])
    dst = s.dst()
    s.emit(Insn(o.BPF_LDX | o.BPF_MEM | (o.BPF_W if size == 4 else o.BPF_DW), dst, CTX_REG, off=off))
    s.scalars.add(dst)


def _jump(s: _State, n_ops: int, op_index: int) -> None:
    if s.frozen:
        return _alu(s)
    r = s.r
    skip = r.randrange(1, 4)
    target = min(op_index + 1 + skip, n_ops)
    cl = o.BPF_JMP if r.random() < 0.7 else o.BPF_JMP32
    opc = r.choice(tuple(o.JMP_COND_OPS))
    dst = s.scalar()
    if r.random() < 0.5:
        unit = s.emit(Insn(cl | opc | o.BPF_X, dst, s.scalar()), target=-1)
    else:
        unit = s.emit(Insn(cl | opc, dst, imm=r.randrange(-8, 64)), target=-1)
    s.pending.append((unit, target))
    s.frozen = target - op_index - 1


def _key(s: _State, reg: int, m: int) -> int:
    """Write a key to a fresh slot; point `reg` at it.  Returns the slot offset."""
    off = -8 * STACK_SLOTS - 8                # a slot of its own below the scratch ones
    s.emit(Insn(o.BPF_ST | o.BPF_MEM | o.BPF_W, 10, off=off, imm=s.r.randrange(MAPS[m].max_entries + 1)))
    s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, reg, 10))
    s.emit(Insn(o.BPF_ALU64 | o.BPF_ADD, reg, imm=off))
    return off


def _ld_map(s: _State, reg: int, m: int) -> None:
    s.emit(Insn(o.LD_IMM64_CODE, reg, BPF_PSEUDO_MAP_FD, imm=m), Insn(0))


def _clobber(s: _State) -> None:
    s.scalars -= {0, 1, 2, 3, 4, 5}


def _map_op(s: _State, risk: str) -> None:
    if s.frozen:
        return _alu(s)
    r = s.r
    m = r.randrange(len(MAPS))
    kind = r.choice(("lookup", "lookup", "update", "delete"))
    _ld_map(s, 1, m)
    _key(s, 2, m)
    if kind == "update":
        val = -8 * STACK_SLOTS - 16
        values = sorted(s.scalars - {1, 2})     # r1, r2 now hold the map and key pointers
        if values:
            s.emit(Insn(o.BPF_STX | o.BPF_MEM | o.BPF_DW, 10, r.choice(values), off=val))
        else:
            s.emit(Insn(o.BPF_ST | o.BPF_MEM | o.BPF_DW, 10, off=val, imm=r.randrange(-64, 64)))
        s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, 3, 10))
        s.emit(Insn(o.BPF_ALU64 | o.BPF_ADD, 3, imm=val))
        s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV, 4, imm=r.choice((0, 0, 1, 2))))
        s.emit(Insn(o.BPF_JMP | o.BPF_CALL, imm=HELPER_MAP_UPDATE))
        _clobber(s)
        s.scalars.add(0)
        return
    if kind == "delete":
        s.emit(Insn(o.BPF_JMP | o.BPF_CALL, imm=HELPER_MAP_DELETE))
        _clobber(s)
        s.scalars.add(0)
        return
    s.emit(Insn(o.BPF_JMP | o.BPF_CALL, imm=HELPER_MAP_LOOKUP))
    _clobber(s)
    keep = sorted(s.scalars - {0}) or [7]
    body = []
    for _ in range(r.randrange(1, 3)):
        reg = r.choice(keep)
        body.append(r.choice((
            Insn(o.BPF_LDX | o.BPF_MEM | o.BPF_DW, reg, 0) if reg in s.scalars else Insn(o.BPF_ST | o.BPF_MEM | o.BPF_DW, 0, imm=5),
            Insn(o.BPF_STX | o.BPF_MEM | o.BPF_DW, 0, reg) if reg in s.scalars else Insn(o.BPF_ST | o.BPF_MEM | o.BPF_DW, 0, imm=7),
            Insn(o.BPF_STX | o.BPF_ATOMIC | o.BPF_DW, 0, reg, imm=o.BPF_ADD) if reg in s.scalars
            else Insn(o.BPF_ST | o.BPF_MEM | o.BPF_W, 0, off=4, imm=1))))
    if risk != "no_null_check":
        after = len(s.units) + 1 + len(body)
        s.emit(Insn(o.BPF_JMP | o.BPF_JEQ, 0, imm=0), target=after)
    for insn in body:
        s.emit(insn)
    # r0 is a pointer or NULL here: make it a scalar again
    s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV, 0, imm=r.randrange(100)))
    s.scalars.add(0)


def _smp_id(s: _State) -> None:
    if s.frozen:
        return _alu(s)
    s.emit(Insn(o.BPF_JMP | o.BPF_CALL, imm=HELPER_SMP_ID))
    _clobber(s)
    s.scalars.add(0)


OPS = ((_alu, 10), (_wide_const, 1), (_neg_or_end, 2), (_store, 3), (_load, 3), (_ctx, 2), (_jump, 3),
       (_map_op, 3), (_smp_id, 1))


def _plant(s: _State, risk: str) -> None:
    r = s.r
    if risk == "uninit_reg":
        unused = [x for x in SCALAR_REGS if x not in s.scalars] or [5]
        s.emit(Insn(o.BPF_ALU64 | o.BPF_ADD | o.BPF_X, s.scalar(), r.choice(unused)))
    elif risk == "stack_oob":
        s.emit(Insn(o.BPF_ST | o.BPF_MEM | o.BPF_DW, 10, off=-520, imm=1))
    elif risk == "div_zero_imm":
        s.emit(Insn(o.BPF_ALU64 | o.BPF_DIV, s.scalar(), imm=0))
    elif risk == "write_r10":
        s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV, 10, imm=0))
    elif risk == "bad_shift":
        s.emit(Insn(o.BPF_ALU64 | o.BPF_LSH, s.scalar(), imm=64))


def generate(seed: int | str, index: int) -> FuzzProgram:
    r = random.Random(f"{seed}:{index}")
    prog_type = r.choice(PROG_TYPES)
    risk = r.choice(RISKS) if r.random() < RISKY_RATE else ""
    s = _State(r, prog_type)
    s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, CTX_REG, 1))
    for reg in (0, 7):
        s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV, reg, imm=r.randrange(-50, 50)))
        s.scalars.add(reg)
    n_ops = r.randrange(4, 20)
    plant_at = r.randrange(n_ops) if risk and risk != "no_null_check" else -1
    ops, weights = zip(*OPS)
    if risk == "no_null_check":
        ops, weights = (_map_op,), (1,)
    for k in range(n_ops):
        s.op_starts.append(len(s.units))
        if k == plant_at:
            _plant(s, risk)
        fn = r.choices(ops, weights)[0]
        frozen_before = s.frozen
        if fn is _jump:
            fn(s, n_ops, k)
        elif fn is _map_op:
            fn(s, risk)
        else:
            fn(s)
        if frozen_before and s.frozen == frozen_before:
            s.frozen -= 1
    s.op_starts.append(len(s.units))
    if 0 not in s.scalars:
        s.emit(Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, 0, s.scalar()))
    s.emit(Insn(o.BPF_JMP | o.BPF_EXIT))
    jump_to = {unit: s.op_starts[op] for unit, op in s.pending}      # forward jumps: op -> its first unit
    units = [Unit(u.insns, jump_to[k]) if k in jump_to else u for k, u in enumerate(s.units)]
    return FuzzProgram(index, prog_type, tuple(encode_units(units)), risk)
