"""Translation of a BPF program into Python source, compiled once and cached.

A decode-and-dispatch interpreter in Python spends most of its time decoding.  Instead,
each BPF function (the main program, every bpf-to-bpf call target and callback) becomes
one Python function whose BPF registers are Python locals.  Basic blocks are emitted as
straight-line code; a block whose only predecessor falls through (or jumps) to it follows
that predecessor directly (a superblock); other control flow goes through `pc` and a
binary if-tree, and a block that jumps back to itself becomes a Python `while` loop.  Every arithmetic
result is masked to 64 (or 32) bits; signed comparisons flip the sign bit so that they
become unsigned ones.

Memory accesses index `RB[addr >> 32]` / `WB[addr >> 32]` (harness.kernel.vm.memory):
a miss raises KeyError / IndexError / struct.error, which the function's single `except`
turns into a VmFault naming the instruction (`p` holds the index of the last instruction
that may fault).  Stack accesses through r10 with constant in-frame offsets skip the
lookup.  Instruction counting is per block (`n`), with the budget checked at loop heads
and passed down to callees, so a runaway program always stops.

The generated module defines `_bind()`, which returns {start insn: function}; a `Vm`
executes the code object in a namespace holding its memory and helper entry points
(harness/kernel/vm/machine.py) and calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from harness.isa import Insn, InsnValidationError, ld_imm64_value, validate
from harness.isa import opcodes as o
from harness.kernel.vm.errors import VmError
from harness.kernel.vm.memory import FUNC_SLOT

M64, M32, S64, S32 = (1 << 64) - 1, 0xFFFFFFFF, 1 << 63, 1 << 31
STACK_SIZE = 512           # MAX_BPF_STACK, per frame
MAX_CALL_FRAMES = 8
BPF_MAX_LOOPS = 8 * 1024 * 1024   # may_goto budget per frame
BPF_PSEUDO_FUNC = 4

UNPACK = {1: "U8", 2: "U16", 4: "U32", 8: "U64"}
SUNPACK = {1: "S8", 2: "S16", 4: "S32"}
PACK = {1: "P8", 2: "P16", 4: "P32", 8: "P64"}
SIZE_MASK = {1: 0xFF, 2: 0xFFFF, 4: M32, 8: M64}


@dataclass
class Program:
    """A translated program: the source, its code object and the function starts."""
    insns: tuple[Insn, ...]
    source: str
    code: object
    functions: list[int]
    loop_heads: set[int] = field(default_factory=set)


def _reg(r: int) -> str:
    return f"r{r}"


def _alu_lines(i: Insn) -> list[str]:
    cl, opc, x = o.cls(i.code), o.op(i.code), o.src_bit(i.code) == o.BPF_X
    d = _reg(i.dst)
    if opc == o.BPF_END:
        bits = i.imm
        swap = cl == o.BPF_ALU64 or o.src_bit(i.code) == o.BPF_TO_BE
        if not swap:
            return [f"{d} &= {SIZE_MASK[bits // 8]}"]
        if bits == 16:
            return [f"{d} = (({d} & 255) << 8) | (({d} >> 8) & 255)"]
        return [f"{d} = int.from_bytes(({d} & {SIZE_MASK[bits // 8]}).to_bytes({bits // 8}, 'little'), 'big')"]
    if opc == o.BPF_NEG:
        return [f"{d} = -{d} & {M64 if cl == o.BPF_ALU64 else M32}"]
    if opc == o.BPF_MOV and x and i.off == o.BPF_ADDR_PERCPU and cl == o.BPF_ALU64:
        return [f"p = {{pc}}", f"{d} = PCPU({_reg(i.src)})"]
    if opc == o.BPF_MOV and x and i.off == o.BPF_ADDR_SPACE_CAST and cl == o.BPF_ALU64:
        return [f"{d} = {_reg(i.src)}"]        # arena casts: addresses are kept as they are
    if opc == o.BPF_MOV and x and i.off in (8, 16, 32):
        m, sb = (1 << i.off) - 1, 1 << (i.off - 1)
        full = M64 if cl == o.BPF_ALU64 else M32
        return [f"{d} = ((({_reg(i.src)} & {m}) ^ {sb}) - {sb}) & {full}"]
    signed = i.off == 1
    if cl == o.BPF_ALU64:
        s = _reg(i.src) if x else str(i.imm & M64)
        return _alu64(opc, d, s, x, signed, i.imm & M64)
    s = _reg(i.src) if x else str(i.imm & M32)
    return _alu32(opc, d, s, x, signed, i.imm & M32)


def _alu64(opc: int, d: str, s: str, x: bool, signed: bool, k: int) -> list[str]:
    if opc == o.BPF_ADD:
        return [f"{d} = ({d} + {s}) & {M64}"]
    if opc == o.BPF_SUB:
        return [f"{d} = ({d} - {s}) & {M64}"]
    if opc == o.BPF_MUL:
        return [f"{d} = ({d} * {s}) & {M64}"]
    if opc == o.BPF_OR:
        return [f"{d} |= {s}"]
    if opc == o.BPF_AND:
        return [f"{d} &= {s}"]
    if opc == o.BPF_XOR:
        return [f"{d} ^= {s}"]
    if opc == o.BPF_MOV:
        return [f"{d} = {s}"]
    if opc == o.BPF_LSH:
        return [f"{d} = ({d} << {k & 63}) & {M64}" if not x else f"{d} = ({d} << ({s} & 63)) & {M64}"]
    if opc == o.BPF_RSH:
        return [f"{d} >>= {k & 63}" if not x else f"{d} >>= {s} & 63"]
    if opc == o.BPF_ARSH:
        sh = str(k & 63) if not x else f"({s} & 63)"
        return [f"{d} = ((({d} ^ {S64}) - {S64}) >> {sh}) & {M64}"]
    if opc == o.BPF_DIV:
        if signed:
            return [f"{d} = SDIV64({d}, {s})"]
        if not x:
            return [f"{d} //= {s}" if k else f"{d} = 0"]
        return [f"{d} = {d} // {s} if {s} else 0"]
    if opc == o.BPF_MOD:
        if signed:
            return [f"{d} = SMOD64({d}, {s})"]
        if not x:
            return [f"{d} %= {s}"] if k else []
        return [f"if {s}: {d} %= {s}"]
    raise AssertionError(opc)


def _alu32(opc: int, d: str, s: str, x: bool, signed: bool, k: int) -> list[str]:
    if opc in (o.BPF_ADD, o.BPF_SUB, o.BPF_MUL, o.BPF_OR, o.BPF_AND, o.BPF_XOR):
        sym = {o.BPF_ADD: "+", o.BPF_SUB: "-", o.BPF_MUL: "*", o.BPF_OR: "|",
               o.BPF_AND: "&", o.BPF_XOR: "^"}[opc]
        return [f"{d} = ({d} {sym} {s}) & {M32}"]
    if opc == o.BPF_MOV:
        return [f"{d} = {s} & {M32}" if x else f"{d} = {s}"]
    if opc == o.BPF_LSH:
        return [f"{d} = ({d} << {k & 31}) & {M32}" if not x else f"{d} = ({d} << ({s} & 31)) & {M32}"]
    if opc == o.BPF_RSH:
        return [f"{d} = ({d} & {M32}) >> {k & 31}" if not x else f"{d} = ({d} & {M32}) >> ({s} & 31)"]
    if opc == o.BPF_ARSH:
        sh = str(k & 31) if not x else f"({s} & 31)"
        return [f"{d} = (((({d} & {M32}) ^ {S32}) - {S32}) >> {sh}) & {M32}"]
    if opc == o.BPF_DIV:
        if signed:
            return [f"{d} = SDIV32({d}, {s})"]
        if not x:
            return [f"{d} = ({d} & {M32}) // {s}" if k else f"{d} = 0"]
        return [f"t = {s} & {M32}", f"{d} = ({d} & {M32}) // t if t else 0"]
    if opc == o.BPF_MOD:
        if signed:
            return [f"{d} = SMOD32({d}, {s})"]
        if not x:
            return [f"{d} = ({d} & {M32}) % {s}" if k else f"{d} &= {M32}"]
        return [f"t = {s} & {M32}", f"{d} = ({d} & {M32}) % t if t else {d} & {M32}"]
    raise AssertionError(opc)


def _cond(i: Insn) -> str:
    """The Python condition of a conditional jump."""
    spec = o.JMP_COND_OPS[o.op(i.code)]
    x = o.src_bit(i.code) == o.BPF_X
    d, wide = _reg(i.dst), o.cls(i.code) == o.BPF_JMP
    mask, sign = (M64, S64) if wide else (M32, S32)
    lhs = d if wide else f"({d} & {M32})"
    if x:
        rhs = _reg(i.src) if wide else f"({_reg(i.src)} & {M32})"
    else:
        rhs = str(i.imm & mask)
    if spec.pyop == "&":
        return f"{d} & {rhs}" if x or wide else f"{d} & {i.imm & M32}"
    if spec.signed:
        lhs = f"({lhs} ^ {sign})"
        rhs = f"({rhs} ^ {sign})" if x else str((i.imm & mask) ^ sign)
    return f"{lhs} {spec.pyop} {rhs}"


def _addr(reg: int, off: int) -> tuple[list[str], str]:
    if off == 0:
        return [], _reg(reg)
    return [f"a = {_reg(reg)} + {off}"], "a"


def _stack_off(reg: int, off: int, size: int) -> int | None:
    """Constant offset in the frame's buffer of [r10 + off], if inside the frame."""
    if reg != 10:
        return None
    pos = STACK_SIZE + off
    return pos if 0 <= pos and pos + size <= STACK_SIZE else None


def _load(i: Insn) -> list[str]:
    size = o.SIZE_BYTES[o.size(i.code)]
    sx = o.mode(i.code) == o.BPF_MEMSX
    d = _reg(i.dst)
    fn = SUNPACK[size] if sx else UNPACK[size]
    tail = f" & {M64}" if sx else ""
    pos = _stack_off(i.src, i.off, size)
    if pos is not None:
        if size == 1 and not sx:
            return [f"{d} = stk[{pos}]"]
        return [f"{d} = {fn}(stk, {pos})[0]{tail}"]
    pre, a = _addr(i.src, i.off)
    if size == 1 and not sx:
        return ["p = {pc}", *pre, f"{d} = RB[{a} >> 32][{a} & {M32}]"]
    return ["p = {pc}", *pre, f"{d} = {fn}(RB[{a} >> 32], {a} & {M32})[0]{tail}"]


def _store(i: Insn, value: str) -> list[str]:
    size = o.SIZE_BYTES[o.size(i.code)]
    pos = _stack_off(i.dst, i.off, size)
    if pos is not None:
        if size == 1:
            return [f"stk[{pos}] = {value}"]
        return [f"{PACK[size]}(stk, {pos}, {value})"]
    pre, a = _addr(i.dst, i.off)
    if size == 1:
        return ["p = {pc}", *pre, f"WB[{a} >> 32][{a} & {M32}] = {value}"]
    return ["p = {pc}", *pre, f"{PACK[size]}(WB[{a} >> 32], {a} & {M32}, {value})"]


def _atomic(i: Insn) -> list[str]:
    size = o.SIZE_BYTES[o.size(i.code)]
    mask = SIZE_MASK[size]
    s = _reg(i.src)
    if i.imm == o.BPF_LOAD_ACQ:
        return _load(Insn(o.BPF_LDX | o.BPF_MEM | o.size(i.code), i.src, i.dst, i.off))
    if i.imm == o.BPF_STORE_REL:
        return _store(Insn(o.BPF_STX | o.BPF_MEM | o.size(i.code), i.dst, i.src, i.off),
                      s if size == 8 else f"{s} & {mask}")
    spec = o.ATOMIC_OPS[i.imm]
    pre, a = _addr(i.dst, i.off)
    lines = ["p = {pc}", *pre, f"b = WB[{a} >> 32]", f"c = {a} & {M32}",
             f"t = {UNPACK[size]}(b, c)[0]"]
    put = PACK[size]
    if spec.name == "cmpxchg":
        lines += [f"if t == r0 & {mask}: {put}(b, c, {s} & {mask})", "r0 = t"]
        return lines
    if spec.name == "xchg":
        return lines + [f"{put}(b, c, {s} & {mask})", f"{s} = t"]
    expr = {o.BPF_ADD: f"(t + {s}) & {mask}", o.BPF_AND: f"t & {s}",
            o.BPF_OR: f"(t | {s}) & {mask}", o.BPF_XOR: f"(t ^ {s}) & {mask}"}[spec.alu]
    lines.append(f"{put}(b, c, {expr})")
    if spec.fetch:
        lines.append(f"{s} = t")
    return lines


def _writes_r10(i: Insn) -> bool:
    cl = o.cls(i.code)
    if cl in (o.BPF_ALU, o.BPF_ALU64, o.BPF_LDX) or o.is_ld_imm64(i):
        return i.dst == 10
    return o.is_atomic(i) and i.src == 10 and (i.imm & o.BPF_FETCH or i.imm == o.BPF_LOAD_ACQ)


class _Builder:
    def __init__(self, insns: list[Insn]):
        self.insns = insns
        self.n = len(insns)
        self.second = set()
        for idx, i in enumerate(insns):
            if o.is_ld_imm64(i) and idx not in self.second:
                self.second.add(idx + 1)

    def err(self, idx: int, msg: str) -> VmError:
        return VmError(f"insn {idx}: {msg}")

    def target(self, idx: int, rel: int, what: str = "jump") -> int:
        t = idx + rel + 1
        if not 0 <= t < self.n:
            raise self.err(idx, f"{what} out of range from insn {idx} to {t}")
        if t in self.second:
            raise self.err(idx, f"{what} into the middle of ldimm64 insn {t - 1}")
        return t

    def succs(self, idx: int) -> list[int]:
        i = self.insns[idx]
        if o.is_exit(i):
            return []
        if o.is_ja(i):
            return [self.target(idx, o.jump_offset(i))]
        step = 2 if o.is_ld_imm64(i) else 1
        nxt = idx + step
        if nxt >= self.n:
            raise self.err(idx, "falls off the end of the program")
        if o.is_cond_jump(i) or o.is_may_goto(i):
            return [self.target(idx, i.off), nxt]
        return [nxt]

    def function_starts(self, entries) -> list[int]:
        starts = {0, *entries}
        for idx, i in enumerate(self.insns):
            if idx in self.second:
                continue
            if o.is_pseudo_call(i):
                starts.add(self.target(idx, i.imm, "call"))
            elif o.is_ld_imm64(i) and i.src == BPF_PSEUDO_FUNC:
                starts.add(self.target(idx, i.imm, "callback"))
        for s in starts:
            if not 0 <= s < self.n or s in self.second:
                raise VmError(f"entry point {s} is not an instruction")
        return sorted(starts)

    def blocks_of(self, start: int) -> tuple[dict[int, list[int]], set[int]]:
        """Reachable blocks {leader: [insn indices]} and loop heads of one function."""
        reach, work = set(), [start]
        leaders = {start}
        while work:
            idx = work.pop()
            if idx in reach:
                continue
            reach.add(idx)
            ss = self.succs(idx)
            i = self.insns[idx]
            if o.is_jump(i):
                leaders.update(ss)
            work.extend(ss)
        loops = set()
        for idx in reach:
            i = self.insns[idx]
            if o.is_jump(i):
                t = self.succs(idx)[0]
                if t <= idx:
                    loops.add(t)
        blocks = {}
        for lead in sorted(leaders):
            body, idx = [], lead
            while True:
                body.append(idx)
                i = self.insns[idx]
                if o.ends_block(i):
                    break
                nxt = self.succs(idx)[0]
                if nxt in leaders:
                    break
                idx = nxt
            blocks[lead] = body
        return blocks, loops

    # --- emission --------------------------------------------------------------------------
    def insn_lines(self, idx: int) -> list[str]:
        i = self.insns[idx]
        cl = o.cls(i.code)
        if cl in (o.BPF_ALU, o.BPF_ALU64):
            lines = _alu_lines(i)
        elif cl == o.BPF_LDX:
            lines = _load(i)
        elif cl == o.BPF_ST:
            lines = _store(i, str(i.imm & SIZE_MASK[o.SIZE_BYTES[o.size(i.code)]]))
        elif cl == o.BPF_STX and o.mode(i.code) == o.BPF_ATOMIC:
            lines = _atomic(i)
        elif cl == o.BPF_STX:
            size = o.SIZE_BYTES[o.size(i.code)]
            s = _reg(i.src)
            lines = _store(i, s if size == 8 else f"{s} & {SIZE_MASK[size]}")
        elif o.is_ld_imm64(i):
            if i.src == BPF_PSEUDO_FUNC:
                value = (FUNC_SLOT << 32) | self.target(idx, i.imm, "callback")
            else:
                value = ld_imm64_value(i, self.insns[idx + 1])
            lines = [f"{_reg(i.dst)} = {value}"]
        elif cl == o.BPF_LD:
            lines = ["p = {pc}", "raise UNSUPPORTED('legacy packet access (BPF_LD_ABS/IND)')"]
        elif o.is_pseudo_call(i):
            t = self.target(idx, i.imm, "call")
            lines = ["p = {pc}", f"if depth >= {MAX_CALL_FRAMES - 1}: raise TOODEEP(depth + 2)",
                     f"r0, u = F{t}(r1, r2, r3, r4, r5, depth + 1, L - n)", "n += u"]
        elif o.is_callx(i):
            reg = _reg(i.dst or i.imm)
            lines = ["p = {pc}", f"r0, u = CALLX({reg}, depth, L - n, r1, r2, r3, r4, r5)", "n += u"]
        elif o.is_kfunc_call(i):
            lines = ["p = {pc}", f"r0, u = KFUNC({i.imm}, {i.off}, depth, L - n, r1, r2, r3, r4, r5)",
                     "n += u"]
        elif o.is_helper_call(i):
            lines = ["p = {pc}", f"r0, u = HELP({i.imm}, depth, L - n, r1, r2, r3, r4, r5)", "n += u"]
        else:
            lines = []      # jumps and exit: terminators, emitted by block()
        return [ln.replace("{pc}", str(idx)) for ln in lines]

    def edges(self, blocks) -> list[tuple[int, int, bool]]:
        """(block, successor block, is_next) where is_next marks the not-taken side of a
        conditional jump, a goto or a plain fallthrough: edges that can be emitted as
        straight-line code."""
        out = []
        for lead, body in blocks.items():
            last = body[-1]
            i = self.insns[last]
            if o.is_exit(i):
                continue
            ss = self.succs(last)
            if o.is_cond_jump(i):
                out += [(lead, ss[0], False), (lead, ss[1], True)]
            elif o.is_may_goto(i):
                out += [(lead, s, False) for s in ss]
            else:
                out.append((lead, ss[0], True))
        return out

    def inlinable(self, start: int, blocks, loops) -> set[int]:
        """Blocks emitted right after their only predecessor instead of being dispatched
        (superblocks): they skip the if-tree, which is most of the cost of a branch."""
        edges = self.edges(blocks)
        preds: dict[int, int] = {}
        for _, s, _ in edges:
            preds[s] = preds.get(s, 0) + 1
        return {s for p, s, nxt in edges
                if nxt and preds[s] == 1 and s not in loops and s not in (start, p)}

    def block(self, lead: int, body: list[int], loops: set[int],
              inl: set[int]) -> tuple[list[str], int | None]:
        """One block's lines and the block to emit right after it (or None)."""
        out = [f"n += {len(body)}"]
        if lead in loops:
            out.append(f"if n > L: raise BUDGET({lead})")
        for idx in body:
            out += self.insn_lines(idx)
        last = body[-1]
        i = self.insns[last]
        if o.is_exit(i):
            out.append("return r0, n")
            return out, None
        if o.is_may_goto(i):
            t, f = self.succs(last)
            out += ["if mg:", "    mg -= 1", f"    pc = {f}", "else:", f"    pc = {t}"]
            return out, None
        if o.is_cond_jump(i):
            t, f = self.succs(last)
            if t == lead:       # a self-loop: stay in a Python while loop
                out = ["while True:"] + ["    " + ln for ln in out]
                out.append(f"    if not ({_cond(i)}): break")
            elif f in inl:
                out += [f"if {_cond(i)}:", f"    pc = {t}", "    continue"]
            else:
                out.append(f"pc = {t} if {_cond(i)} else {f}")
                return out, None
            nxt = f
        else:
            nxt = self.succs(last)[0]
        if nxt in inl:
            return out, nxt
        out.append(f"pc = {nxt}")
        return out, None

    def chain(self, lead: int, blocks, loops, inl) -> list[str]:
        out: list[str] = []
        while lead is not None:
            lines, lead = self.block(lead, blocks[lead], loops, inl)
            out += lines
        return out

    def tree(self, leads: list[int], blocks, loops, inl, ind: str) -> list[str]:
        if len(leads) == 1:
            return [ind + ln for ln in self.chain(leads[0], blocks, loops, inl)]
        mid = len(leads) // 2
        return ([f"{ind}if pc < {leads[mid]}:"] + self.tree(leads[:mid], blocks, loops, inl, ind + "    ")
                + [f"{ind}else:"] + self.tree(leads[mid:], blocks, loops, inl, ind + "    "))

    def function(self, start: int) -> tuple[list[str], set[int]]:
        blocks, loops = self.blocks_of(start)
        inl = self.inlinable(start, blocks, loops)
        leads = sorted(b for b in blocks if b not in inl)
        uses_mg = any(o.is_may_goto(self.insns[b[-1]]) for b in blocks.values())
        lines = [f"def F{start}(r1, r2, r3, r4, r5, depth, L):",
                 "    r0 = r6 = r7 = r8 = r9 = n = 0",
                 "    stk, r10 = FRAME(depth)",
                 f"    p = pc = {start}"]
        if uses_mg:
            lines.append(f"    mg = {BPF_MAX_LOOPS}")
        lines += ["    try:", "        while True:"]
        lines += self.tree(leads, blocks, loops, inl, " " * 12)
        lines += ["    except MEMERR:",
                  "        raise MEMFAULT(p, (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10)) from None",
                  "    except VmFault as e:",
                  "        raise e.at(p) from None",
                  "    except STOP as e:",
                  "        e.n += n",
                  "        raise"]
        return lines, loops


def _translate(insns: tuple[Insn, ...], entries: tuple[int, ...]) -> Program:
    prog = list(insns)
    try:
        validate(prog, callx=True, internal=True)
    except InsnValidationError as exc:
        raise VmError(f"insn {exc.index}: {exc.reason}") from None
    for idx, i in enumerate(prog):
        if _writes_r10(i):
            raise VmError(f"insn {idx}: frame pointer is read only")
    b = _Builder(prog)
    starts = b.function_starts(entries)
    src = ["def _bind():"]
    all_loops: set[int] = set()
    for s in starts:
        lines, loops = b.function(s)
        all_loops |= loops
        src += ["    " + ln for ln in lines]
    src.append("    return {" + ", ".join(f"{s}: F{s}" for s in starts) + "}")
    text = "\n".join(src) + "\n"
    try:
        code = compile(text, "<bpf program>", "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:   # pathological sizes
        raise VmError(f"program too large to translate: {exc}") from None
    return Program(insns, text, code, starts, all_loops)


@lru_cache(maxsize=256)
def _cached(insns: tuple[Insn, ...], entries: tuple[int, ...]) -> Program:
    return _translate(insns, entries)


_RECENT: dict[tuple[int, tuple[int, ...]], tuple[object, object, Program]] = {}
_RECENT_MAX = 64


def translate(insns, entries=()) -> Program:
    """Translate (or fetch from the cache) a program; `entries` are extra function starts
    (e.g. a test_run entry other than 0).  Raises VmError for malformed programs.

    Hashing every slot on each run would cost more than running a short program, so the
    same list object (unchanged since last time: compared slot by slot, which is an
    identity check per slot) is looked up by identity first."""
    ents = tuple(sorted(set(entries)))
    key = (id(insns), ents)
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is insns and hit[1] == insns:
        return hit[2]
    prog = _cached(tuple(insns), ents)
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[key] = (insns, list(insns) if isinstance(insns, list) else tuple(insns), prog)
    return prog
