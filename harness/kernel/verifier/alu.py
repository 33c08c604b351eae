"""Scalar arithmetic and comparisons on abstract values (adjust_scalar_min_max_vals,
is_branch_taken, reg_set_min_max).

Every operation works on a *view* of a register at one width (64 bits, or the low 32 bits
for ALU32/JMP32): (tnum, umin, umax, smin, smax).  Results are written back with
Reg.set_view64 / set_view32, which re-derive the other width (reg_bounds_sync).
"""

from __future__ import annotations

from harness.isa import opcodes as o
from harness.kernel.verifier import tnum
from harness.kernel.verifier.regs import Reg, SCALAR

_M = {64: (1 << 64) - 1, 32: (1 << 32) - 1}
_SMIN = {64: -(1 << 63), 32: -(1 << 31)}
_SMAX = {64: (1 << 63) - 1, 32: (1 << 31) - 1}


def _sx(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def concrete(opc: int, bits: int, a: int, b: int, signed: bool) -> int:
    """The VM's result for constant operands (unsigned `bits`-wide inputs)."""
    m = _M[bits]
    a &= m
    b &= m
    if opc == o.BPF_ADD:
        return (a + b) & m
    if opc == o.BPF_SUB:
        return (a - b) & m
    if opc == o.BPF_MUL:
        return (a * b) & m
    if opc == o.BPF_OR:
        return a | b
    if opc == o.BPF_AND:
        return a & b
    if opc == o.BPF_XOR:
        return a ^ b
    if opc == o.BPF_LSH:
        return (a << (b & (bits - 1))) & m
    if opc == o.BPF_RSH:
        return a >> (b & (bits - 1))
    if opc == o.BPF_ARSH:
        return (_sx(a, bits) >> (b & (bits - 1))) & m
    if opc == o.BPF_NEG:
        return (-a) & m
    raise ValueError(opc)


def _unbounded(bits):
    return 0, _M[bits], _SMIN[bits], _SMAX[bits]


def scalar_op(opc: int, bits: int, d: Reg, s: Reg) -> None:
    """dst = dst <op> src for two scalars; updates d in place."""
    dt, du, dU, ds, dS = d.view(bits)
    st, su, sU, ss, sS = s.view(bits)
    if opc == o.BPF_MUL and bits == 64:
        dv32, sv32 = d.view(32), s.view(32)
    M, SMIN, SMAX = _M[bits], _SMIN[bits], _SMAX[bits]
    setv = d.set_view64 if bits == 64 else d.set_view32
    d.id = 0
    if opc in (o.BPF_DIV, o.BPF_MOD, o.BPF_END):
        # 6.18's is_safe_to_compute_dst_reg_range refuses these (even for constants): the
        # whole 64-bit register becomes unknown, before any ALU32 zero extension
        d.mark_unknown()
        return
    if opc in (o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH) and (st[1] or s.umax >= bits):
        d.mark_unknown()        # shift by a non-constant or out-of-range amount: same rule
        return
    if dt[1] == 0 and st[1] == 0 and opc != o.BPF_NEG or (opc == o.BPF_NEG and dt[1] == 0):
        d.set_const_bounds(concrete(opc, bits, dt[0], st[0], False))
        return
    umin, umax, smin, smax = _unbounded(bits)
    if opc == o.BPF_NEG:
        st, su, sU, ss, sS = dt, du, dU, ds, dS
        dt, du, dU, ds, dS = (0, 0), 0, 0, 0, 0
        opc = o.BPF_SUB
    if opc == o.BPF_ADD:
        t = tnum.add(dt, st) if bits == 64 else tnum.cast(tnum.add(dt, st), 4)
        # unsigned: fine when all sums wrap or none does (6.17+), else unbounded
        if not (du + su <= M < dU + sU):
            umin, umax = (du + su) & M, (dU + sU) & M
        if SMIN <= ds + ss and dS + sS <= SMAX:
            smin, smax = ds + ss, dS + sS
    elif opc == o.BPF_SUB:
        t = tnum.sub(dt, st) if bits == 64 else tnum.cast(tnum.sub(dt, st), 4)
        if not (du < sU and dU >= su):
            umin, umax = (du - sU) & M, (dU - su) & M
        if SMIN <= ds - sS and dS - ss <= SMAX:
            smin, smax = ds - sS, dS - ss
    elif opc == o.BPF_MUL:
        t = tnum.mul(dt, st) if bits == 64 else tnum.cast(tnum.mul(dt, st), 4)
        if dU * sU <= M:
            umin, umax = du * su, dU * sU
        prods = [ds * ss, ds * sS, dS * ss, dS * sS]
        if SMIN <= min(prods) and max(prods) <= SMAX:
            smin, smax = min(prods), max(prods)
    elif opc == o.BPF_AND:
        t = tnum.and_(dt, st)
        umin, umax = t[0], min(dU, sU)
        if ds >= 0 and ss >= 0:
            smin, smax = umin, umax
    elif opc == o.BPF_OR:
        t = tnum.or_(dt, st)
        umin, umax = max(du, su), t[0] | t[1]
        if ds >= 0 and ss >= 0:
            smin, smax = umin, umax
    elif opc == o.BPF_XOR:
        t = tnum.xor(dt, st)
        umin, umax = t[0], t[0] | t[1]
        if ds >= 0 and ss >= 0:
            smin, smax = umin, umax
    elif opc in (o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH):
        k = st[0]
        if opc == o.BPF_LSH:
            t = tnum.cast(tnum.lshift(dt, k), bits // 8)
            if (dU << k) <= M:
                umin, umax = du << k, dU << k
        elif opc == o.BPF_RSH:
            t = tnum.rshift(dt, k)
            umin, umax = du >> k, dU >> k
        else:
            t = tnum.arshift(dt, k, bits)
            smin, smax = ds >> k, dS >> k
    else:
        raise ValueError(opc)
    setv(t, umin, umax, smin, smax)
    if opc == o.BPF_MUL and bits == 64:
        _mul32_bounds(d, dv32, sv32)


def _mul32_bounds(d: Reg, dv, sv) -> None:
    """A 64-bit multiplication also bounds the low halves (scalar32_min_max_mul), from
    the operands' 32-bit bounds, when no product overflows."""
    _, du, dU, ds, dS = dv
    _, su, sU, ss, sS = sv
    changed = False
    if dU * sU <= _M[32]:
        d.u32min, d.u32max = max(d.u32min, du * su), min(d.u32max, dU * sU)
        changed = True
    prods = [ds * ss, ds * sS, dS * ss, dS * sS]
    if _SMIN[32] <= min(prods) and max(prods) <= _SMAX[32]:
        d.s32min, d.s32max = max(d.s32min, min(prods)), min(d.s32max, max(prods))
        changed = True
    if changed:
        d.sync()


def movsx(d: Reg, s: Reg, size_bits: int, bits: int) -> None:
    """dst = (s8/s16/s32) src, in a `bits`-wide destination."""
    st, su, sU, ss, sS = s.view(64)
    lo, hi = -(1 << (size_bits - 1)), (1 << (size_bits - 1)) - 1
    setv = d.set_view64 if bits == 64 else d.set_view32
    if st[1] == 0:
        v = _sx(st[0], size_bits) & _M[bits]
        d.mark_const(v)
        return
    d.mark_unknown()
    if lo <= ss and sS <= hi:
        smin, smax = ss, sS
    else:
        smin, smax = lo, hi
    if smin >= 0:
        setv(tnum.trange(smin, smax), smin, smax, smin, smax)
    else:
        setv(tnum.UNKNOWN if bits == 64 else (0, _M[32]), 0, _M[bits], smin, smax)


# --- comparisons ----------------------------------------------------------------------------

NEGATE = {o.BPF_JEQ: o.BPF_JNE, o.BPF_JNE: o.BPF_JEQ, o.BPF_JGT: o.BPF_JLE, o.BPF_JLE: o.BPF_JGT,
          o.BPF_JGE: o.BPF_JLT, o.BPF_JLT: o.BPF_JGE, o.BPF_JSGT: o.BPF_JSLE,
          o.BPF_JSLE: o.BPF_JSGT, o.BPF_JSGE: o.BPF_JSLT, o.BPF_JSLT: o.BPF_JSGE}
FLIP = {o.BPF_JEQ: o.BPF_JEQ, o.BPF_JNE: o.BPF_JNE, o.BPF_JGT: o.BPF_JLT, o.BPF_JLT: o.BPF_JGT,
        o.BPF_JGE: o.BPF_JLE, o.BPF_JLE: o.BPF_JGE, o.BPF_JSGT: o.BPF_JSLT,
        o.BPF_JSLT: o.BPF_JSGT, o.BPF_JSGE: o.BPF_JSLE, o.BPF_JSLE: o.BPF_JSGE}


def branch_taken(opc: int, bits: int, d: Reg, s: Reg) -> int:
    """1 always taken, 0 never, -1 unknown (scalars only)."""
    dt, du, dU, ds, dS = d.view(bits)
    st, su, sU, ss, sS = s.view(bits)
    if opc == o.BPF_JEQ or opc == o.BPF_JNE:
        eq = -1
        if dt[1] == 0 and st[1] == 0:
            eq = 1 if dt[0] == st[0] else 0
        elif du > sU or dU < su or ds > sS or dS < ss or (dt[0] ^ st[0]) & ~(dt[1] | st[1]):
            eq = 0
        elif bits == 64 and (d.u32min > s.u32max or d.u32max < s.u32min
                             or d.s32min > s.s32max or d.s32max < s.s32min):
            eq = 0                  # the 64-bit values differ where their low halves do
        if eq < 0:
            return -1
        return eq if opc == o.BPF_JEQ else 1 - eq
    if opc == o.BPF_JSET:
        # decided only against a constant (either side), as is_scalar_branch_taken
        if st[1]:
            dt, st = st, dt
        if st[1]:
            return -1
        if dt[0] & st[0]:
            return 1
        if not ((dt[0] | dt[1]) & st[0]):
            return 0
        return -1
    if opc == o.BPF_JGT:
        return 1 if du > sU else 0 if dU <= su else -1
    if opc == o.BPF_JGE:
        return 1 if du >= sU else 0 if dU < su else -1
    if opc == o.BPF_JLT:
        return 1 if dU < su else 0 if du >= sU else -1
    if opc == o.BPF_JLE:
        return 1 if dU <= su else 0 if du > sU else -1
    if opc == o.BPF_JSGT:
        return 1 if ds > sS else 0 if dS <= ss else -1
    if opc == o.BPF_JSGE:
        return 1 if ds >= sS else 0 if dS < ss else -1
    if opc == o.BPF_JSLT:
        return 1 if dS < ss else 0 if ds >= sS else -1
    if opc == o.BPF_JSLE:
        return 1 if dS <= ss else 0 if ds > sS else -1
    return -1


def _apply(r: Reg, bits: int, t, umin, umax, smin, smax, sync: bool = True) -> None:
    if bits == 64:
        r.var = tnum.intersect(r.var, t)
        r.umin, r.umax = max(r.umin, umin), min(r.umax, umax)
        r.smin, r.smax = max(r.smin, smin), min(r.smax, smax)
    else:
        r.var = tnum.with_subreg(r.var, tnum.intersect(tnum.subreg(r.var), t))
        r.u32min, r.u32max = max(r.u32min, umin), min(r.u32max, umax)
        r.s32min, r.s32max = max(r.s32min, smin), min(r.s32max, smax)
    if sync:
        r.sync()


def _refine_jset(bits: int, d: Reg, s: Reg, taken: bool) -> bool:
    """regs_refine_cond_op for JSET: only against a constant (either operand).  Taken, a
    single-bit constant sets that bit; not taken, the constant's bits are clear, and the
    ranges are forgotten first (they follow from the narrowed tnum)."""
    if d.view(bits)[0][1] == 0 and s.view(bits)[0][1] != 0:
        d, s = s, d
    st = s.view(bits)[0]
    if st[1] != 0:
        return True
    val = st[0]
    dt = d.view(bits)[0]
    if taken:
        if not val or val & (val - 1):
            return True
        t = tnum.or_(dt, (val, 0))
    else:
        d.set_unbounded_keep_tnum()
        t = (dt[0] & ~val, dt[1] & ~val)
    d.var = t if bits == 64 else tnum.with_subreg(d.var, t)
    d.sync()
    return d.bounds_sane()


def _exclude(bounds: list, v: int, bits: int, umin: int, umax: int, smin: int, smax: int) -> None:
    """`x != v` for a constant v: a bound equal to v moves one step inward."""
    if umin == v:
        bounds[1] = umin + 1
    if umax == v:
        bounds[2] = umax - 1
    sv = _sx(v, bits)
    if smin == sv:
        bounds[3] = smin + 1
    if smax == sv:
        bounds[4] = smax - 1


def refine(opc: int, bits: int, d: Reg, s: Reg, taken: bool) -> bool:
    """Narrow d and s (scalars) to the outcome; False when the outcome is impossible."""
    if opc == o.BPF_JSET:
        return _refine_jset(bits, d, s, taken)
    if not taken:
        opc = NEGATE[opc]
    dt, du, dU, ds, dS = d.view(bits)
    st, su, sU, ss, sS = s.view(bits)
    M, SMIN, SMAX = _M[bits], _SMIN[bits], _SMAX[bits]
    nd = [tnum.UNKNOWN if bits == 64 else (0, M), 0, M, SMIN, SMAX]
    ns = list(nd)
    if opc == o.BPF_JEQ:
        t = tnum.intersect(dt, st)
        nd = ns = [t, max(du, su), min(dU, sU), max(ds, ss), min(dS, sS)]
    elif opc == o.BPF_JNE:
        if st[1] == 0:
            _exclude(nd, st[0], bits, du, dU, ds, dS)
        if dt[1] == 0:
            _exclude(ns, dt[0], bits, su, sU, ss, sS)
    elif opc == o.BPF_JGT:
        nd[1], ns[2] = su + 1, dU - 1
    elif opc == o.BPF_JGE:
        nd[1], ns[2] = su, dU
    elif opc == o.BPF_JLT:
        nd[2], ns[1] = sU - 1, du + 1
    elif opc == o.BPF_JLE:
        nd[2], ns[1] = sU, du
    elif opc == o.BPF_JSGT:
        nd[3], ns[4] = ss + 1, dS - 1
    elif opc == o.BPF_JSGE:
        nd[3], ns[4] = ss, dS
    elif opc == o.BPF_JSLT:
        nd[4], ns[3] = sS - 1, ds + 1
    elif opc == o.BPF_JSLE:
        nd[4], ns[3] = sS, ds
    if d.type == SCALAR:
        # `if r0 < r0`: both narrowings land on one register before reg_bounds_sync
        _apply(d, bits, *nd, sync=s is not d)
    if s.type == SCALAR:
        _apply(s, bits, *ns)
    return d.bounds_sane() and s.bounds_sane()
