"""Tristate numbers: the verifier's bit-level knowledge of a 64-bit value.

A tnum is (value, mask): bits set in `mask` are unknown, the other bits equal `value`'s
(value & mask == 0 always).  The operations follow the semantics of the kernel's
kernel/bpf/tnum.c so that our var_off prints (`var_off=(0x0; 0xff)`) and our
bounds agree with a real kernel's for the same program.  Tnums are plain tuples because the
verifier creates millions of them; functions take and return (value, mask).
"""

from __future__ import annotations

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

UNKNOWN = (0, U64)


def const(v: int) -> tuple[int, int]:
    return (v & U64, 0)


def trange(lo: int, hi: int) -> tuple[int, int]:
    """The smallest tnum containing every value in [lo, hi] (unsigned)."""
    chi = (lo ^ hi) & U64
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return (lo & ~delta & U64, delta)


def is_const(t) -> bool:
    return t[1] == 0


def is_unknown(t) -> bool:
    return t[1] == U64


def add(a, b):
    sm = (a[1] + b[1]) & U64
    sv = (a[0] + b[0]) & U64
    sigma = (sm + sv) & U64
    chi = sigma ^ sv
    mu = chi | a[1] | b[1]
    return (sv & ~mu & U64, mu)


def sub(a, b):
    dv = (a[0] - b[0]) & U64
    alpha = (dv + a[1]) & U64
    beta = (dv - b[1]) & U64
    chi = alpha ^ beta
    mu = chi | a[1] | b[1]
    return (dv & ~mu & U64, mu)


def neg(a):
    return sub((0, 0), a)


def and_(a, b):
    alpha = a[0] | a[1]
    beta = b[0] | b[1]
    v = a[0] & b[0]
    return (v, alpha & beta & ~v & U64)


def or_(a, b):
    v = a[0] | b[0]
    mu = a[1] | b[1]
    return (v, mu & ~v & U64)


def xor(a, b):
    v = a[0] ^ b[0]
    mu = a[1] | b[1]
    return (v & ~mu & U64, mu)


def lshift(a, s: int):
    return ((a[0] << s) & U64, (a[1] << s) & U64)


def rshift(a, s: int):
    return (a[0] >> s, a[1] >> s)


def _sext(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def arshift(a, s: int, bits: int):
    """Arithmetic shift within a `bits`-wide (32 or 64) value, like tnum_arshift."""
    m = (1 << bits) - 1
    return ((_sext(a[0], bits) >> s) & m, (_sext(a[1], bits) >> s) & m)


def union(a, b):
    """Every value of a or of b (and the fewest others)."""
    v = a[0] & b[0]
    mu = (a[0] ^ b[0]) | a[1] | b[1]
    return (v & ~mu & U64, mu & U64)


def mul(a, b):
    """Long multiplication over the bits of a (6.18's tnum_mul): a known 1 adds b, an
    unknown bit takes the union of adding and not adding it."""
    acc = (0, 0)
    while a[0] or a[1]:
        if a[0] & 1:
            acc = add(acc, b)
        elif a[1] & 1:
            acc = union(acc, add(acc, b))
        a = rshift(a, 1)
        b = lshift(b, 1)
    return acc


def intersect(a, b):
    v = a[0] | b[0]
    mu = a[1] & b[1]
    return (v & ~mu & U64, mu)


def cast(a, size: int):
    """Truncate to the low `size` bytes (zero-extending)."""
    m = (1 << (size * 8)) - 1
    return (a[0] & m, a[1] & m)


def subreg(a):
    return (a[0] & U32, a[1] & U32)


def clear_subreg(a):
    return (a[0] & ~U32 & U64, a[1] & ~U32 & U64)


def with_subreg(a, sub32):
    """Replace the low 32 bits of `a` with `sub32`."""
    return or_(clear_subreg(a), subreg(sub32))


def contains(a, b) -> bool:
    """tnum_in(a, b): every value b can take is a value a can take."""
    if b[1] & ~a[1]:
        return False
    return (b[0] & ~a[1]) == a[0]


def to_str(t) -> str:
    """The kernel's tnum_strn format: (0x0; 0xff)."""
    return f"({t[0]:#x}; {t[1]:#x})".replace("(0;", "(0x0;").replace("; 0)", "; 0x0)")
