"""Check attrs.py's ctypes layouts against the running kernel's own BTF.

The layouts were written for x86_64 6.18 (running-kernel.md).  On another kernel a field
may sit elsewhere or not exist yet; a field at a different offset would make the kernel
read garbage or write past a Python buffer, so `probe()` refuses a kernel whose BTF
contradicts a layout.  A field the kernel does not know (an older kernel) is harmless as
long as we leave it zero: bpf(2) then zero-fills/ignores it, and a non-zero value gets
the kernel's own E2BIG/EINVAL.  Hence two kinds of findings:

- conflict: same name, different (offset, size)          -> unsafe
- missing:  our field is not in this kernel's type       -> informational

Every member is compared by its dotted kernel name, anonymous structs and unions
flattened on both sides (attrs.flat_fields does the same for ctypes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from harness.realkernel import attrs

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"

_STRUCT, _UNION = 4, 5        # BTF_KIND_STRUCT / BTF_KIND_UNION


@dataclass(frozen=True)
class LayoutMismatch:
    layout: str                       # our class name
    field: str                        # dotted kernel field name
    ours: tuple[int, int]             # (offset, size)
    kernel: tuple[int, int] | None    # None: the kernel's type has no such field

    @property
    def conflict(self) -> bool:
        return self.kernel is not None

    def __str__(self) -> str:
        where = f"kernel has {self.kernel}" if self.kernel else "not in this kernel"
        return f"{self.layout}.{self.field}: ours (offset, size) {self.ours}, {where}"


def kernel_fields(btf, type_id: int, base: int = 0, prefix: str = "") -> dict[str, tuple[int, int]]:
    """{dotted name: (offset, size)} of a BTF struct/union, anonymous members flattened.
    Bitfields report their byte offset and the size of their declared type."""
    t = btf.type_by_id(btf.resolve(type_id))
    out: dict[str, tuple[int, int]] = {}
    for m in t.members:
        bit_off = m.offset & 0xFFFFFF if t.kind_flag else m.offset
        off = base + bit_off // 8
        name = btf.string_at(m.name_off)
        inner = btf.type_by_id(btf.resolve(m.type))
        if inner.kind in (_STRUCT, _UNION):
            out.update(kernel_fields(btf, m.type, off, f"{prefix}{name}." if name else prefix))
        else:
            out[prefix + name] = (off, btf.size_of(m.type))
    return out


def _locate(btf, kind: str, type_name: str, member: str | None) -> int | None:
    """The BTF type id an attrs.LAYOUTS entry points at (None when this kernel lacks it)."""
    tid = btf.find(type_name, kind.upper())
    if tid is None or member is None:
        return tid
    for m in btf.type_by_id(tid).members:
        name = btf.string_at(m.name_off)
        if member.startswith("="):
            inner = btf.type_by_id(btf.resolve(m.type))
            if not name and inner.kind == _STRUCT and inner.members \
                    and btf.string_at(inner.members[0].name_off) == member[1:]:
                return m.type
        elif name == member:
            return m.type
    return None


def check_layouts(btf) -> list[LayoutMismatch]:
    """Compare every attrs.LAYOUTS class with the kernel type it mirrors in `btf` (a parsed
    harness.elf.btf.Btf).  Returns the mismatches, conflicts first."""
    found: list[LayoutMismatch] = []
    for cls, (kind, type_name, member) in attrs.LAYOUTS.items():
        tid = _locate(btf, kind, type_name, member)
        ours = attrs.flat_fields(cls)
        theirs = kernel_fields(btf, tid) if tid is not None else {}
        for name, spot in ours.items():
            if theirs.get(name) != spot:
                found.append(LayoutMismatch(cls.__name__, name, spot, theirs.get(name)))
    return sorted(found, key=lambda m: (not m.conflict, m.layout, m.field))


@functools.lru_cache(maxsize=1)
def vmlinux_btf():
    """(parsed /sys/kernel/btf/vmlinux, "") or (None, why not).  About a second to parse;
    cached per process.  Also what a test needs to find an attach_btf_id."""
    try:
        with open(VMLINUX_BTF, "rb") as f:
            data = f.read()
    except OSError as exc:
        return None, f"no kernel BTF ({VMLINUX_BTF}: {exc.strerror})"
    try:
        from harness.elf.btf import Btf
        return Btf.parse(data, where=VMLINUX_BTF), ""
    except Exception as exc:      # noqa: BLE001 - callers treat the BTF as optional
        return None, f"kernel BTF not usable: {type(exc).__name__}: {exc}"


@functools.lru_cache(maxsize=1)
def check_running_kernel() -> tuple[list[LayoutMismatch], str]:
    """check_layouts() against the running kernel's BTF: (mismatches, "") or ([], why the
    check could not run)."""
    btf, why = vmlinux_btf()
    if btf is None:
        return [], why
    try:
        return check_layouts(btf), ""
    except Exception as exc:      # noqa: BLE001 - the check is advisory when it cannot run
        return [], f"layout check failed: {type(exc).__name__}: {exc}"
