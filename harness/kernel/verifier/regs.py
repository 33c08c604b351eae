"""Register state: the type of what a register holds plus, for scalars and variable
pointer offsets, signed/unsigned 64- and 32-bit bounds and a tnum (struct bpf_reg_state).

Types use the kernel's names (reg_type_str) so log lines read like a real kernel's:
`R1=ctx()`, `R10=fp0`, `R0=map_value_or_null(id=1,map=m,ks=4,vs=8)`, `R2=scalar(smin=...)`.
"""

from __future__ import annotations

from harness.kernel.verifier import tnum

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1

# base types (enum bpf_reg_type, the ones we model)
NOT_INIT = 0
SCALAR = 1
PTR_TO_CTX = 2
CONST_PTR_TO_MAP = 3
PTR_TO_MAP_VALUE = 4
PTR_TO_MAP_KEY = 5
PTR_TO_STACK = 6
PTR_TO_PACKET_META = 7
PTR_TO_PACKET = 8
PTR_TO_PACKET_END = 9
PTR_TO_MEM = 10
PTR_TO_FUNC = 11
PTR_TO_SOCK_COMMON = 12
PTR_TO_FLOW_KEYS = 13
PTR_TO_ARENA = 14
PTR_TO_BTF_ID = 15

# type flags
MAYBE_NULL = 1
MEM_RDONLY = 2
MEM_RINGBUF = 4

TYPE_STR = {
    NOT_INIT: "?", SCALAR: "scalar", PTR_TO_CTX: "ctx", CONST_PTR_TO_MAP: "map_ptr",
    PTR_TO_MAP_VALUE: "map_value", PTR_TO_MAP_KEY: "map_key", PTR_TO_STACK: "fp",
    PTR_TO_PACKET_META: "pkt_meta", PTR_TO_PACKET: "pkt", PTR_TO_PACKET_END: "pkt_end",
    PTR_TO_MEM: "mem", PTR_TO_FUNC: "func", PTR_TO_SOCK_COMMON: "sock_common",
    PTR_TO_FLOW_KEYS: "flow_keys", PTR_TO_ARENA: "arena", PTR_TO_BTF_ID: "ptr_",
}
PKT_TYPES = frozenset({PTR_TO_PACKET, PTR_TO_PACKET_META})
MAP_PTR_TYPES = frozenset({CONST_PTR_TO_MAP, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY})


def _tnum_step(v: int, m: int, z: int) -> int:
    """The smallest value of tnum (v; m) above z, or 2**64 when there is none."""
    if z < v:
        return v
    k = z - v                       # v | s > z  <=>  s > k, for s a submask of m
    bad = k & ~m
    cand = m & ~k & ~((1 << bad.bit_length()) - 1)
    if not cand:
        return 1 << 64
    low = cand & -cand
    return v | (k & ~(2 * low - 1)) | low


def _deduce_signs(smin: int, smax: int, umin: int, umax: int, mask: int, signed):
    """__reg64_deduce_bounds (or the 32-bit part of __reg32_deduce_bounds, with `mask` and
    `signed` of that width): signed and unsigned bounds inform each other; a signed range
    across the sign boundary is two unsigned ranges, of which the unsigned bounds may rule
    one out (6.17+)."""
    if signed(umin) <= signed(umax):
        smin = max(smin, signed(umin))
        smax = min(smax, signed(umax))
    if (smin & mask) <= (smax & mask):
        umin = max(umin, smin & mask)
        umax = min(umax, smax & mask)
    elif umax < (smin & mask):
        smin = signed(umin)
        umax = min(umax, smax & mask)
    elif (smax & mask) < umin:
        smax = signed(umax)
        umin = max(umin, smin & mask)
    return smin, smax, umin, umax


def s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


#: reg_bounds_sync is a pure function of (tnum, 8 bounds); the same inputs recur on every
#: path through a loop or a chain of branches, so its results are remembered.
_SYNC_MEMO: dict = {}
_SYNC_MEMO_MAX = 1 << 16


class Reg:
    """One register (or a spilled register on the stack)."""
    __slots__ = ("type", "flags", "off", "var", "smin", "smax", "umin", "umax",
                 "s32min", "s32max", "u32min", "u32max", "id", "ref_obj_id", "map",
                 "range", "mem_size", "frameno", "subprog", "precise", "link", "delta")

    def __init__(self, type_: int = NOT_INIT):
        self.type = type_
        self.flags = 0
        self.off = 0
        self.id = 0
        self.ref_obj_id = 0
        self.map = None
        self.range = 0
        self.mem_size = 0
        self.frameno = 0
        self.subprog = 0
        self.precise = False
        self.link = 0                  # linked scalar with an offset: 64 or 32 (BPF_ADD_CONST)
        self.delta = 0                 # ... this register = the linked value + delta
        self.set_unbounded()
        if type_ != SCALAR:
            self.set_const_bounds(0)

    # --- construction --------------------------------------------------------------------
    @staticmethod
    def const(v: int) -> "Reg":
        """A known scalar (the kernel's fake_reg for an immediate operand)."""
        r = Reg.__new__(Reg)
        r.frameno = r.subprog = 0
        r.mark_const(v)
        return r

    def copy(self) -> "Reg":
        r = Reg.__new__(Reg)
        r.type = self.type; r.flags = self.flags; r.off = self.off; r.var = self.var
        r.smin = self.smin; r.smax = self.smax; r.umin = self.umin; r.umax = self.umax
        r.s32min = self.s32min; r.s32max = self.s32max; r.u32min = self.u32min
        r.u32max = self.u32max; r.id = self.id; r.ref_obj_id = self.ref_obj_id
        r.map = self.map; r.range = self.range; r.mem_size = self.mem_size
        r.frameno = self.frameno; r.subprog = self.subprog; r.precise = self.precise
        r.link = self.link; r.delta = self.delta
        return r

    def assign(self, o: "Reg") -> None:
        for k in Reg.__slots__:
            setattr(self, k, getattr(o, k))

    def set_unbounded(self) -> None:
        self.var = tnum.UNKNOWN
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64
        self.s32min, self.s32max, self.u32min, self.u32max = S32_MIN, S32_MAX, 0, U32

    def set_unbounded_keep_tnum(self) -> None:
        """__mark_reg_unbounded: every range forgotten, the known bits kept."""
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64
        self.s32min, self.s32max, self.u32min, self.u32max = S32_MIN, S32_MAX, 0, U32

    def set_const_bounds(self, v: int) -> None:
        v &= U64
        self.var = (v, 0)
        self.smin = self.smax = s64(v)
        self.umin = self.umax = v
        self.s32min = self.s32max = s32(v)
        self.u32min = self.u32max = v & U32

    def mark_unknown(self) -> None:
        """__mark_reg_unknown: a scalar about which nothing is known."""
        self.type = SCALAR
        self.flags = 0
        self.off = 0
        self.id = 0
        self.ref_obj_id = 0
        self.map = None
        self.range = 0
        self.mem_size = 0
        self.precise = False
        self.link = self.delta = 0
        self.var = tnum.UNKNOWN
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64
        self.s32min, self.s32max, self.u32min, self.u32max = S32_MIN, S32_MAX, 0, U32

    def mark_const(self, v: int) -> None:
        """mark_unknown + set_const_bounds, written out (one of the hottest paths)."""
        self.type = SCALAR
        self.flags = self.off = self.id = self.ref_obj_id = self.range = self.mem_size = 0
        self.map = None
        self.precise = False
        self.link = self.delta = 0
        v &= U64
        self.var = (v, 0)
        self.smin = self.smax = v - (1 << 64) if v >> 63 else v
        self.umin = self.umax = v
        v &= U32
        self.s32min = self.s32max = v - (1 << 32) if v >> 31 else v
        self.u32min = self.u32max = v

    def mark_known32(self, v: int) -> None:
        """__mark_reg32_known: the low half becomes the constant v (bounds not synced)."""
        v &= U32
        self.var = tnum.with_subreg(self.var, (v, 0))
        self.s32min = self.s32max = s32(v)
        self.u32min = self.u32max = v

    def mark_not_init(self) -> None:
        self.mark_unknown()
        self.type = NOT_INIT

    def mark_ptr(self, type_: int, flags: int = 0, off: int = 0) -> None:
        self.mark_unknown()
        self.type = type_
        self.flags = flags
        self.off = off
        self.set_const_bounds(0)

    # --- predicates ----------------------------------------------------------------------
    @property
    def is_scalar(self) -> bool:
        return self.type == SCALAR

    @property
    def is_ptr(self) -> bool:
        return self.type not in (SCALAR, NOT_INIT)

    def is_const(self) -> bool:
        return self.var[1] == 0

    def is_const32(self) -> bool:
        return (self.var[1] & U32) == 0

    def const_value(self) -> int:
        return self.var[0]

    def type_str(self) -> str:
        base = TYPE_STR.get(self.type, "?")
        if self.flags & MEM_RINGBUF:
            base = "ringbuf_" + base
        if self.flags & MEM_RDONLY:
            base = "rdonly_" + base
        if self.flags & MAYBE_NULL:
            base += "_or_null"
        return base

    # --- bounds maintenance (reg_bounds_sync) ---------------------------------------------
    def sync(self) -> None:
        v, m = self.var
        if m == 0:
            # constant tnum inside every bound: reg_bounds_sync collapses all bounds onto it
            v32 = v & U32
            sv = v - (1 << 64) if v >> 63 else v
            sv32 = v32 - (1 << 32) if v32 >> 31 else v32
            if (self.umin <= v <= self.umax and self.smin <= sv <= self.smax
                    and self.u32min <= v32 <= self.u32max and self.s32min <= sv32 <= self.s32max):
                self.smin = self.smax = sv
                self.umin = self.umax = v
                self.s32min = self.s32max = sv32
                self.u32min = self.u32max = v32
                return
        elif (m == U64 and self.umin == 0 and self.umax == U64 and self.smin == S64_MIN
              and self.smax == S64_MAX and self.u32min == 0 and self.u32max == U32
              and self.s32min == S32_MIN and self.s32max == S32_MAX):
            return          # fully unknown: nothing to tighten
        key = (self.var, self.smin, self.smax, self.umin, self.umax,
               self.s32min, self.s32max, self.u32min, self.u32max)
        out = _SYNC_MEMO.get(key)
        if out is None:
            self._update_bounds()
            self._deduce_bounds()
            self._deduce_bounds()       # twice, as 6.18: a 64-bit deduction can inform 32 bits
            self._bound_offset()
            self._update_bounds()
            if len(_SYNC_MEMO) >= _SYNC_MEMO_MAX:
                _SYNC_MEMO.clear()
            _SYNC_MEMO[key] = (self.var, self.smin, self.smax, self.umin, self.umax,
                               self.s32min, self.s32max, self.u32min, self.u32max)
            return
        (self.var, self.smin, self.smax, self.umin, self.umax,
         self.s32min, self.s32max, self.u32min, self.u32max) = out

    def _update_bounds(self) -> None:
        v, m = self.var
        x = v | (m & (1 << 63))
        x = x - (1 << 64) if x >> 63 else x
        if x > self.smin:
            self.smin = x
        x = v | (m & S64_MAX)
        x = x - (1 << 64) if x >> 63 else x
        if x < self.smax:
            self.smax = x
        if v > self.umin:
            self.umin = v
        x = v | m
        if x < self.umax:
            self.umax = x
        v32, m32 = v & U32, m & U32
        x = v32 | (m32 & 0x80000000)
        x = x - (1 << 32) if x >> 31 else x
        if x > self.s32min:
            self.s32min = x
        x = v32 | (m32 & 0x7FFFFFFF)
        x = x - (1 << 32) if x >> 31 else x
        if x < self.s32max:
            self.s32max = x
        if v32 > self.u32min:
            self.u32min = v32
        x = v32 | m32
        if x < self.u32max:
            self.u32max = x
        if m:
            self._single_value()

    def _single_value(self) -> None:
        """6.18's __update_reg64_bounds: when the u64 range and the tnum share one value
        only, the register is that constant (so e.g. `r &= 4; if r > 1` gives 4)."""
        v, m = self.var
        u, top = self.umin, self.umax
        tmax = v | m
        u_in = (u & ~m) == v
        nxt = _tnum_step(v, m, u)
        if u_in and nxt > top:
            k = u
        elif not u_in and nxt == tmax:
            k = tmax
        elif not u_in and nxt <= top and _tnum_step(v, m, nxt) > top:
            k = nxt
        else:
            return
        self.var = (k, 0)
        self.umin = self.umax = k
        self.smin = self.smax = s64(k)
        self.u32min = self.u32max = k & U32
        self.s32min = self.s32max = s32(k)

    def _deduce_bounds(self) -> None:
        umin, umax, smin, smax = self.umin, self.umax, self.smin, self.smax
        u32min, u32max, s32min, s32max = self.u32min, self.u32max, self.s32min, self.s32max
        # 64 -> 32 when the upper halves agree
        if (umin >> 32) == (umax >> 32):
            u32min = max(u32min, umin & U32)
            u32max = min(u32max, umax & U32)
            if s32(umin) <= s32(umax):
                s32min = max(s32min, s32(umin))
                s32max = min(s32max, s32(umax))
        if (smin >> 32) == (smax >> 32):
            if (smin & U32) <= (smax & U32):
                u32min = max(u32min, smin & U32)
                u32max = min(u32max, smax & U32)
            if s32(smin) <= s32(smax):
                s32min = max(s32min, s32(smin))
                s32max = min(s32max, s32(smax))
        # upper halves two consecutive values (0xffffffff -> 0 included) while the low
        # halves run from negative to non-negative: still one s32 range, e.g. s64 [-1, 0]
        if ((umin >> 32) + 1) & U32 == (umax >> 32) & U32 and s32(umin) < 0 <= s32(umax):
            s32min = max(s32min, s32(umin))
            s32max = min(s32max, s32(umax))
        if ((smin >> 32) + 1) & U32 == (smax >> 32) & U32 and s32(smin) < 0 <= s32(smax):
            s32min = max(s32min, s32(smin))
            s32max = min(s32max, s32(smax))
        # signed <-> unsigned, 32 then 64 bits
        s32min, s32max, u32min, u32max = _deduce_signs(s32min, s32max, u32min, u32max, U32, s32)
        smin, smax, umin, umax = _deduce_signs(smin, smax, umin, umax, U64, s64)
        # 32 -> 64: the low half of the 64-bit bounds lies within the 32-bit bounds
        new_umin = (umin & ~U32) | u32min
        new_umax = (umax & ~U32) | u32max
        if new_umin <= new_umax:
            umin = max(umin, new_umin)
            umax = min(umax, new_umax)
        new_smin = (smin & ~U32) | u32min
        new_smax = (smax & ~U32) | u32max
        if new_smin <= new_smax:
            smin = max(smin, new_smin)
            smax = min(smax, new_smax)
        smin, smax, umin, umax = _deduce_signs(smin, smax, umin, umax, U64, s64)
        self.umin, self.umax, self.smin, self.smax = umin, umax, smin, smax
        self.u32min, self.u32max, self.s32min, self.s32max = u32min, u32max, s32min, s32max

    def _bound_offset(self) -> None:
        var64 = tnum.intersect(self.var, tnum.trange(self.umin, self.umax))
        var32 = tnum.intersect(tnum.subreg(self.var), tnum.trange(self.u32min, self.u32max))
        self.var = tnum.or_(tnum.clear_subreg(var64), var32)

    def bounds_sane(self) -> bool:
        return (self.smin <= self.smax and self.umin <= self.umax and self.s32min <= self.s32max
                and self.u32min <= self.u32max)

    # --- views for one ALU width ---------------------------------------------------------
    def view(self, bits: int):
        """(tnum, umin, umax, smin, smax) of the 64-bit value or of its low 32 bits."""
        if bits == 64:
            return self.var, self.umin, self.umax, self.smin, self.smax
        return tnum.subreg(self.var), self.u32min, self.u32max, self.s32min, self.s32max

    def set_view64(self, t, umin, umax, smin, smax) -> None:
        self.var = t
        self.umin, self.umax, self.smin, self.smax = umin, umax, smin, smax
        self.s32min, self.s32max, self.u32min, self.u32max = S32_MIN, S32_MAX, 0, U32
        self.sync()

    def set_view32(self, t, umin, umax, smin, smax) -> None:
        """A 32-bit result: the subregister gets these bounds, the upper half is zero."""
        self.var = tnum.subreg(t)
        self.u32min, self.u32max, self.s32min, self.s32max = umin, umax, smin, smax
        self.umin, self.umax = 0, U32
        self.smin, self.smax = 0, U32
        self.sync()
        # zero extension: the 64-bit value equals the u32 value
        self.umin, self.umax = self.u32min, self.u32max
        self.smin, self.smax = self.u32min, self.u32max
        self.sync()

    # --- printing (print_reg_state) ------------------------------------------------------
    def fmt(self, frameno: int | None = None) -> str:
        """print_reg_state; `frameno` is the frame being printed (a pointer into another
        frame's stack shows that frame: fp[0]-8)."""
        t = self.type
        other = f"[{self.frameno}]" if t == PTR_TO_STACK and frameno is not None \
            and frameno != self.frameno else ""
        if t in (SCALAR, PTR_TO_STACK) and self.var[1] == 0:
            prefix = ("P" if self.precise else "") if t == SCALAR else "fp" + other
            return prefix + snum(s64(self.var[0] + self.off))
        parts = []
        if self.id:
            parts.append(f"id={self.id}{self.delta:+d}" if self.link else f"id={self.id}")
        if self.ref_obj_id:
            parts.append(f"ref_obj_id={self.ref_obj_id}")
        if t in MAP_PTR_TYPES and self.map is not None:
            name = getattr(self.map, "name", "")
            if name:
                parts.append(f"map={name}")
            parts.append(f"ks={self.map.key_size},vs={self.map.value_size}")
        if t != SCALAR and self.off:
            parts.append("off=" + snum(self.off))
        if t in PKT_TYPES:
            parts.append("r=" + unum(self.range & U64))
        if t == PTR_TO_MEM:
            parts.append("sz=" + unum(self.mem_size))
        if self.var[1] == 0:
            if self.var[0]:
                parts.append("imm=" + snum(s64(self.var[0])))
        else:
            parts.extend(scalar_ranges(self))
            if self.var[1] != U64:
                parts.append("var_off=" + tnum.to_str(self.var))
        p = "P" if self.precise and t == SCALAR else ""
        return f"{p}{self.type_str()}{other}({','.join(parts)})"


def snum(v: int) -> str:
    """verbose_snum: numbers that fit an s16 in decimal, others as (unsigned) hex
    (checked against 6.18's level-2 log: 32767 and -32768 decimal, 32768 hex)."""
    return str(v) if -32768 <= v <= 32767 else f"{v & U64:#x}"


def unum(v: int) -> str:
    return str(v) if v <= 32767 else f"{v:#x}"


def scalar_ranges(r: Reg) -> list[str]:
    """print_scalar_ranges: omit default bounds, merge equal ones (`smin=smin32=0`).
    Values compare as u64, the 32-bit signed bounds as themselves when they print in
    decimal and as their u32 image otherwise (so smin32=umin32=0xe77290d6 can merge)."""
    def s32val(v: int) -> int:
        return v & U64 if -32768 <= v <= 32767 else v & U32
    rows = [["smin", r.smin & U64, r.smin == S64_MIN], ["smax", r.smax & U64, r.smax == S64_MAX],
            ["umin", r.umin, r.umin == 0], ["umax", r.umax, r.umax == U64],
            ["smin32", s32val(r.s32min), r.s32min == S32_MIN],
            ["smax32", s32val(r.s32max), r.s32max == S32_MAX],
            ["umin32", r.u32min, r.u32min == 0], ["umax32", r.u32max, r.u32max == U32]]
    out = []
    for i, m1 in enumerate(rows):
        if m1[2]:
            continue
        neg1 = m1[0][0] == "s" and m1[1] >> 63
        names = [m1[0]]
        for m2 in rows[i + 2::2]:
            if m2[2] or m2[1] != m1[1]:
                continue
            if (m2[0][0] == "s" and m2[1] >> 63) != neg1:
                continue
            m2[2] = True
            names.append(m2[0])
        val = snum(s64(m1[1])) if m1[0][0] == "s" else unum(m1[1])
        out.append("=".join(names) + "=" + val)
    return out
