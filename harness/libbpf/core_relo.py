"""CO-RE relocations (BTF.ext core_relo) resolved against a target BTF.

For each record: the local type and access string ("0:1:2": pointer index, then member
or array indices) give a local spec; candidates are target types of the same kind whose
name matches without the `___flavor` suffix; the first candidate where the same member
names can be followed gives the target value.  Supported kinds: field byte offset, byte
size, existence, signedness, bitfield shifts; local/target type id, type existence and size; enum value
existence and value.  A relocation that cannot be satisfied "poisons" the instruction
into a call of 0xbad2310, as libbpf does, so only reachable uses fail to load.
Patched fields: imm of ALU/ld_imm64, off of LDX/ST/STX.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf
from harness.isa.insn import Insn
from harness.kernelapi import BpfError

if TYPE_CHECKING:
    from harness.libbpf.object import Object

BPF_CORE_POISON = 0xBAD2310
(FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT_U64, FIELD_RSHIFT_U64,
 TYPE_ID_LOCAL, TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE, ENUMVAL_EXISTS, ENUMVAL_VALUE, TYPE_MATCHES) = range(13)
_FIELD_KINDS = {FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT_U64,
                FIELD_RSHIFT_U64}


def essential_name(name: str) -> str:
    pos = name.find("___")
    return name[:pos] if pos > 0 else name


def _members(btf: Btf, tid: int):
    return btf.type_by_id(tid).members


@dataclass(frozen=True)
class FieldLoc:
    """Where a field sits: bit offset, bit size (bitfield size or 8 * byte size), whether it
    is a bitfield, the byte size of its (resolved) type and whether that is signed."""
    bit_off: int
    bit_sz: int
    bitfield: bool
    type_sz: int
    signed: bool

    def calc(self, kind: int) -> int:
        """libbpf's bpf_core_calc_field_relo() for one field kind (little endian)."""
        byte_sz = self.type_sz
        if not self.bitfield:
            byte_off = self.bit_off // 8
        else:
            byte_off = self.bit_off // 8 // byte_sz * byte_sz
            while self.bit_off + self.bit_sz - byte_off * 8 > byte_sz * 8:
                if byte_sz >= 8:
                    raise BpfError(errno.E2BIG, "CO-RE: bitfield can't be read with a single load")
                byte_sz *= 2
                byte_off = self.bit_off // 8 // byte_sz * byte_sz
        return {FIELD_BYTE_OFFSET: byte_off, FIELD_BYTE_SIZE: byte_sz, FIELD_EXISTS: 1,
                FIELD_SIGNED: int(self.signed),
                FIELD_LSHIFT_U64: 64 - (self.bit_off + self.bit_sz - byte_off * 8),
                FIELD_RSHIFT_U64: 64 - self.bit_sz}[kind]


def _loc(btf: Btf, tid: int, bit_off: int, bitfield_sz: int) -> FieldLoc:
    t = btf.type_by_id(tid)
    signed = (t.kind == K.INT and bool(t.encoding & K.BTF_INT_SIGNED)) or \
        (t.kind in (K.ENUM, K.ENUM64) and bool(t.kind_flag))
    size = btf.size_of(tid)
    return FieldLoc(bit_off, bitfield_sz or size * 8, bool(bitfield_sz), size, signed)


def _field_spec(btf: Btf, tid: int, access: list[int]) -> tuple[list[str], FieldLoc] | None:
    """(names along the path, location) in `btf` following the access indices."""
    tid = btf.resolve(tid)
    elem_sz = btf.size_of(tid)
    off = access[0] * elem_sz * 8
    names: list[str] = []
    bf = 0
    for idx in access[1:]:
        t = btf.type_by_id(tid)
        if t.kind in (K.STRUCT, K.UNION):
            if idx >= len(t.members):
                return None
            m = t.members[idx]
            names.append(btf.string_at(m.name_off))
            off += m.bit_offset(t.kind_flag)
            bf = m.bitfield_size(t.kind_flag)
            tid = btf.resolve(m.type)
        elif t.kind == K.ARRAY:
            names.append(f"[{idx}]")
            tid = btf.resolve(t.single.type)
            off += idx * btf.size_of(tid) * 8
            bf = 0
        else:
            return None
    return names, _loc(btf, tid, off, bf)


def _follow(btf: Btf, tid: int, name: str, bit_off: int) -> tuple[int, int, int] | None:
    """Find member `name` in struct/union `tid`, looking through anonymous members;
    returns (type id, bit offset, bitfield size)."""
    t = btf.type_by_id(tid)
    for m in t.members:
        mname = btf.string_at(m.name_off)
        mtid = btf.resolve(m.type)
        moff = bit_off + m.bit_offset(t.kind_flag)
        if mname == name:
            return mtid, moff, m.bitfield_size(t.kind_flag)
        if not mname and btf.type_by_id(mtid).kind in (K.STRUCT, K.UNION):
            found = _follow(btf, mtid, name, moff)
            if found:
                return found
    return None


def _match_target(target: Btf, cand: int, names: list[str], first_idx: int) -> FieldLoc | None:
    tid = target.resolve(cand)
    off = first_idx * target.size_of(tid) * 8
    bf = 0
    for name in names:
        t = target.type_by_id(tid)
        if name.startswith("["):
            if t.kind != K.ARRAY:
                return None
            idx = int(name[1:-1])
            if idx >= t.single.nelems and t.single.nelems:
                return None
            tid = target.resolve(t.single.type)
            off += idx * target.size_of(tid) * 8
            bf = 0
            continue
        if t.kind not in (K.STRUCT, K.UNION):
            return None
        found = _follow(target, tid, name, off)
        if found is None:
            return None
        tid, off, bf = found
    return _loc(target, tid, off, bf)


def _candidates(local: Btf, target: Btf, local_id: int) -> list[int]:
    lt = local.type_by_id(local.resolve(local_id))
    lname = essential_name(local.name_of(lt))
    return [tid for tid in range(1, target.nr_types)
            if target.types[tid].kind == lt.kind and essential_name(target.name_of(tid)) == lname]


def calc_relo(local: Btf, target: Btf, type_id: int, access_str: str, kind: int,
               sizes: list | None = None) -> int | None:
    """The value the instruction should get, or None when the relocation fails.  For a
    non-bitfield byte offset, `sizes` receives [local field size, target field size]."""
    access = [int(x) for x in access_str.split(":")] if access_str else [0]
    if kind == TYPE_ID_LOCAL:
        return type_id
    cands = _candidates(local, target, type_id)
    if kind in _FIELD_KINDS:
        spec = _field_spec(local, type_id, access)
        if spec is None:
            raise BpfError(errno.EINVAL, f"CO-RE: bad access string '{access_str}' for type [{type_id}]")
        for cand in cands:
            loc = _match_target(target, cand, spec[0], access[0])
            if loc is not None:
                if sizes is not None and kind == FIELD_BYTE_OFFSET and not loc.bitfield:
                    sizes[:] = [spec[1].type_sz, loc.type_sz]
                return loc.calc(kind)
        return 0 if kind == FIELD_EXISTS else None
    if kind in (TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE, TYPE_MATCHES):
        if not cands:
            return 0 if kind in (TYPE_EXISTS, TYPE_MATCHES) else None
        return {TYPE_ID_TARGET: cands[0], TYPE_EXISTS: 1, TYPE_MATCHES: 1,
                TYPE_SIZE: target.size_of(cands[0])}[kind]
    if kind in (ENUMVAL_EXISTS, ENUMVAL_VALUE):
        lt = local.type_by_id(local.resolve(type_id))
        ename = local.string_at(lt.members[access[0]].name_off)
        for cand in cands:
            for e in target.type_by_id(cand).members:
                if target.string_at(e.name_off) == ename:
                    return 1 if kind == ENUMVAL_EXISTS else e.value(False)
        return 0 if kind == ENUMVAL_EXISTS else None
    raise BpfError(errno.EOPNOTSUPP, f"CO-RE relocation kind {kind} is not supported")


_SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}     # BPF_B, BPF_H, BPF_W, BPF_DW


def patch_insn(insns: list[Insn], idx: int, value: int | None, sizes: list | None = None) -> None:
    insn = insns[idx]
    cls = insn.code & 0x07
    if value is not None and sizes and sizes[0] != sizes[1] and cls in (0x01, 0x02, 0x03):
        # the field changed size: libbpf adjusts the load/store width to the target's
        mem_sz = {v: k for k, v in _SIZE_BITS.items()}[insn.code & 0x18]
        if mem_sz != sizes[0] or sizes[1] not in _SIZE_BITS:
            raise BpfError(errno.EINVAL, f"CO-RE: insn #{idx}: unexpected mem size {mem_sz} "
                                         f"(field {sizes[0]} -> {sizes[1]} bytes)")
        insn = insn.replace(code=(insn.code & ~0x18) | _SIZE_BITS[sizes[1]])
    if value is None:
        insns[idx] = Insn(0x85, 0, 0, 0, BPF_CORE_POISON)
        return
    if insn.code == 0x18:
        insns[idx] = insn.replace(imm=value & 0xFFFFFFFF if value < 1 << 31 else value - (1 << 32))
        insns[idx + 1] = insns[idx + 1].replace(imm=0)
    elif cls in (0x04, 0x07):                  # ALU / ALU64 with immediate
        insns[idx] = insn.replace(imm=value)
    elif cls in (0x01, 0x02, 0x03):            # LDX / ST / STX
        insns[idx] = insn.replace(off=value)
    else:
        raise BpfError(errno.EINVAL, f"CO-RE: cannot patch insn #{idx} (code 0x{insn.code:x})")


def apply_core_relos(obj: "Object") -> None:
    ext = obj.elf.btf_ext
    for p in obj.all_programs:
        p.codes = list(p.insns)
    if ext is None or not ext.core_relo.count():
        return
    target = obj.target_btf
    if target is None:
        from harness.libbpf.object import default_target_btf
        target = obj.target_btf = default_target_btf()
    if target is None:
        raise BpfError(errno.ESRCH, "failed to find valid kernel BTF")
    local = obj.elf.btf
    by_sec = ext.core_relo.by_section()
    for p in obj.all_programs:
        for rec in by_sec.get(p.sec_name, ()):
            idx = rec.insn_off // 8 - p.sec_insn_off
            if 0 <= idx < len(p.insns):
                sizes: list = []
                value = calc_relo(local, target, rec.type_id, local.string_at(rec.access_str_off), rec.kind,
                                  sizes)
                patch_insn(p.codes, idx, value, sizes)
