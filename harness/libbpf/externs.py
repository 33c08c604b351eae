"""Extern variables and functions: `.kconfig` values and `.ksyms` kernel symbols.

`.kconfig` externs live in one internal map (".kconfig", read-only to programs, frozen):
libbpf sorts them by alignment (largest first), then size, then name, lays them out
back to back, and fills each from the kconfig source the user gives (a dict or the text
of a .config file).  LINUX_KERNEL_VERSION comes from the kernel unless given.  A missing
strong extern is an error; a missing __weak one reads as zero.
`.ksyms` typed variables resolve to a BTF id of the target (vmlinux) BTF, kfuncs to
the id of their FUNC; without a target BTF they are unresolved (weak: poisoned/zero).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf
from harness.isa.insn import Insn
from harness.kernelapi import BpfError
from harness.uapi import BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_VALUE, POISON_CALL_KFUNC_BASE

if TYPE_CHECKING:
    from harness.libbpf.object import Object

EXT_KCFG, EXT_KSYM = 0, 1
_CONFIG_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")


def parse_kconfig(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a .config (comments and '# CONFIG_X is not set' ignored)."""
    out = {}
    for line in text.splitlines():
        m = _CONFIG_LINE.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


@dataclass
class Extern:
    name: str
    type: int                 # EXT_KCFG / EXT_KSYM
    btf_id: int               # VAR or FUNC in the object's BTF
    is_weak: bool
    is_func: bool = False
    size: int = 0
    align: int = 1
    data_off: int = 0
    kind: str = "int"         # kcfg value class: bool, tristate, char, int, char_array
    is_signed: bool = False
    resolved: bool = False
    target_btf_id: int = 0
    ext_idx: int = 0

    def apply(self, obj: "Object", insns: list[Insn], at: int) -> None:
        if self.type == EXT_KCFG:
            m = obj.kconfig_map
            insns[at] = insns[at].replace(src=BPF_PSEUDO_MAP_VALUE, imm=m.fd)
            insns[at + 1] = insns[at + 1].replace(imm=self.data_off)
        elif self.is_func:
            if self.resolved:
                insns[at] = insns[at].replace(src=BPF_PSEUDO_KFUNC_CALL, imm=self.target_btf_id, off=0)
            else:
                insns[at] = insns[at].replace(src=0, imm=POISON_CALL_KFUNC_BASE + self.ext_idx, off=0)
        else:
            if self.resolved:
                insns[at] = insns[at].replace(src=BPF_PSEUDO_BTF_ID, imm=self.target_btf_id)
                insns[at + 1] = insns[at + 1].replace(imm=0)
            else:      # weak and unresolved: a NULL pointer
                insns[at] = insns[at].replace(src=0, imm=0)
                insns[at + 1] = insns[at + 1].replace(imm=0)


def _kcfg_class(btf: Btf, type_id: int) -> tuple[str, int, int, bool]:
    """(class, size, align, signed) of a kconfig extern's type."""
    tid = btf.resolve(type_id)
    t = btf.type_by_id(tid)
    if t.kind == K.INT:
        enc = t.encoding
        if enc & K.BTF_INT_BOOL:
            return "bool", t.size, t.size, False
        if t.size == 1 and enc & K.BTF_INT_CHAR:
            return "char", 1, 1, False
        return "int", t.size, min(t.size, 8), bool(enc & K.BTF_INT_SIGNED)
    if t.kind == K.ENUM:
        return "tristate", t.size, t.size, False
    if t.kind == K.ARRAY:
        elem = btf.type_by_id(btf.resolve(t.single.type))
        if elem.kind == K.INT and elem.size == 1:
            return "char_array", t.single.nelems, 1, False
    raise BpfError(errno.ENOTSUP, f"extern (kcfg) '{btf.name_of(type_id)}': unsupported type")


def collect_externs(obj: "Object") -> dict[str, Extern]:
    btf, elf = obj.btf, obj.elf
    out: dict[str, Extern] = {}
    if btf is None:
        return out
    undef = {s.name: s for s in elf.symbols if s.shndx == 0 and s.name and s.type != "STT_FILE"}
    for sec_name, ext_type in ((".kconfig", EXT_KCFG), (".ksyms", EXT_KSYM)):
        ds = btf.find(sec_name, K.DATASEC)
        if ds is None:
            continue
        for vsi in btf.type_by_id(ds).members:
            t = btf.type_by_id(vsi.type)
            name = btf.name_of(t)
            sym = undef.get(name)
            weak = sym is not None and sym.bind == "STB_WEAK"
            if t.kind == K.FUNC:
                out[name] = Extern(name, EXT_KSYM, vsi.type, weak, is_func=True)
                continue
            ext = Extern(name, ext_type, vsi.type, weak)
            if ext_type == EXT_KCFG:
                ext.kind, ext.size, ext.align, ext.is_signed = _kcfg_class(btf, t.type)
            out[name] = ext
    kcfg = sorted((e for e in out.values() if e.type == EXT_KCFG), key=lambda e: (-e.align, e.size, e.name))
    off = 0
    for e in kcfg:
        off = (off + e.align - 1) // e.align * e.align
        e.data_off = off
        off += e.size
    for i, e in enumerate(sorted(out.values(), key=lambda e: e.name)):
        e.ext_idx = i
    return out


def kconfig_size(externs: dict[str, Extern]) -> int:
    kc = [e for e in externs.values() if e.type == EXT_KCFG]
    return max((e.data_off + e.size for e in kc), default=0)


def _encode_value(e: Extern, raw: str) -> bytes:
    raw = raw.strip()
    if e.kind == "char_array":
        s = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
        data = s.encode()[:e.size - 1]
        return data + bytes(e.size - len(data))
    if e.kind in ("bool", "tristate"):
        val = {"y": 1, "m": 2, "n": 0}.get(raw.lower())
        if val is None:
            raise BpfError(errno.EINVAL, f"extern (kcfg) '{e.name}': value '{raw}' isn't a valid {e.kind}")
        if e.kind == "bool" and val == 2:
            raise BpfError(errno.EINVAL, f"extern (kcfg) '{e.name}': value '{raw}' isn't a valid bool")
        return val.to_bytes(e.size, "little")
    if e.kind == "char":
        return raw.encode()[:1].ljust(1, b"\0")
    try:
        val = int(raw.strip('"'), 0)
    except ValueError:
        raise BpfError(errno.EINVAL, f"extern (kcfg) '{e.name}': value '{raw}' isn't a valid integer") from None
    return (val & ((1 << (8 * e.size)) - 1)).to_bytes(e.size, "little")


def kconfig_image(externs: dict[str, Extern], values: dict[str, str], kernel_version: int) -> bytes:
    """The .kconfig map value; raises like libbpf for a strong extern without a value."""
    img = bytearray(kconfig_size(externs))
    for e in sorted((e for e in externs.values() if e.type == EXT_KCFG), key=lambda e: e.data_off):
        if e.name == "LINUX_KERNEL_VERSION" and e.name not in values:
            raw = str(kernel_version)
        elif e.name in values:
            raw = str(values[e.name])
        elif e.name.startswith("CONFIG_") and e.is_weak:
            continue
        elif e.is_weak:
            continue
        else:
            raise BpfError(errno.ESRCH, f"extern (kcfg) '{e.name}': value not found")
        img[e.data_off:e.data_off + e.size] = _encode_value(e, raw)
        e.resolved = True
    return bytes(img)


def resolve_ksyms(externs: dict[str, Extern], obj_btf: Btf, target: Btf | None) -> None:
    for e in externs.values():
        if e.type != EXT_KSYM:
            continue
        tid = None
        if target is not None:
            tid = target.find(e.name, K.FUNC if e.is_func else K.VAR)
        if tid is not None:
            e.resolved, e.target_btf_id = True, tid
        elif not e.is_weak:
            what = "func ksym" if e.is_func else "var ksym"
            where = "kernel or module BTFs" if e.is_func else "kernel BTF"
            raise BpfError(errno.ESRCH, f"extern ({what}) '{e.name}': not found in {where}")
