"""struct bpf_object: open an ELF object, then load it into a kernel.

    obj = Object.open("prog.o", kernel=EmulatedKernel())      # bpf_object__open
    obj.maps / obj.programs / obj.find_map_by_name(".percpu")
    obj.load()                                                  # bpf_object__load
    obj.destroy()                                               # bpf_object__close

Open follows libbpf's collection order: programs by section (secdefs.py), BTF-defined
maps of `.maps`, then internal maps for data sections in section order (.data*, .rodata*,
.percpu* classified in that order, .bss*), then the `.kconfig` map.  Load runs: feature
probes -> BTF fix-ups and sanitising -> BTF load -> map creation and population (.rodata
frozen, .percpu written once with BPF_F_ALL_CPUS) -> CO-RE -> linking and relocations
(maps that were not created are poisoned) -> prog_load per program -> slot initialisation.
Failures are BpfError with libbpf's message; nothing else escapes for bad input.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import struct

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf, Type
from harness.elf.object import BpfObject, object_name
from harness.errors import FormatError, HarnessError
from harness.kernelapi import BpfError, Kernel, MapCreateAttr, ProgLoadAttr
from harness.libbpf import externs as X
from harness.libbpf import relocs as R
from harness.libbpf.btfmaps import parse_maps_section
from harness.libbpf.features import kernel_supports
from harness.libbpf.image import BufferImage
from harness.libbpf.maps import Map, MapDef
from harness.libbpf.naming import (BSS_SEC, KCONFIG_SEC, LibbpfMapType, internal_map_name, section_kind)
from harness.libbpf.programs import Program
from harness.libbpf.secdefs import autoload_default, find_sec_def
from harness.uapi import (BPF_ANY, BPF_F_ALL_CPUS, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, POISON_LDIMM64_MAP_BASE,
                          MapType, ProgType)

_POISON_RE = re.compile(r"(?:(\d+): \(85\) call unknown#(2001\d{6})\n)?invalid func unknown#(2001\d{6})")


class Object:
    def __init__(self, elf: BpfObject, kernel: Kernel | None, kconfig: dict | str | None = None,
                 obj_name: str | None = None, target_btf: Btf | None = None):
        if kernel is None:
            from harness.kernel import EmulatedKernel
            kernel = EmulatedKernel()
        self.elf = elf
        self.kernel = kernel
        self.name = object_name(obj_name) if obj_name else elf.name
        self.closed = False
        self.path = elf.path
        self.btf: Btf | None = elf.btf.copy() if elf.btf is not None else None
        self.btf_fd = -1
        self.btf_func_ok = True             # FEAT_BTF_FUNC: func_info/line_info may be passed
        self.loaded = False
        self.log: list[str] = []            # libbpf's pr_warn/pr_debug lines, for reports
        self.kconfig = X.parse_kconfig(kconfig) if isinstance(kconfig, str) else dict(kconfig or {})
        self.target_btf = target_btf
        self.maps: list[Map] = []
        self.all_programs: list[Program] = []
        self.externs: dict[str, X.Extern] = {}
        self.kconfig_map: Map | None = None
        self.license = elf.license or ""
        self.kern_version = elf.kversion or 0
        self._open()

    # ================================================================== open
    @classmethod
    def open(cls, path: str, kernel: Kernel | None = None, *, kconfig: dict | str | None = None,
             obj_name: str | None = None, target_btf: Btf | str | None = None) -> "Object":
        """bpf_object__open_file(); `target_btf` is the BTF CO-RE and ksyms resolve against
        (a Btf or a path to a raw BTF file such as /sys/kernel/btf/vmlinux)."""
        elf = BpfObject.open(str(path))
        if isinstance(target_btf, str):
            target_btf = load_btf_file(target_btf)
        with _malformed_guard(str(path)):
            return cls(elf, kernel, kconfig, obj_name, target_btf)

    @property
    def programs(self) -> list[Program]:
        """Main programs (subprograms of .text are not listed, as in libbpf's iteration)."""
        return [p for p in self.all_programs if not p.is_subprog]

    def _open(self) -> None:
        if self.elf.section("maps") is not None:
            raise BpfError(errno.ENOTSUP, "elf: legacy map definitions in 'maps' section are not supported by "
                                          "libbpf v1.0+")
        self._finalize_btf()
        self._init_programs()
        self.externs = X.collect_externs(self)
        self._init_user_btf_maps()
        self._init_global_data_maps()
        self._init_kconfig_map()
        relocs = self.elf.relocations
        for p in self.all_programs:
            p.relos = R.record_relocations(self, p, [r for r in relocs.get(p.sec_idx, ())
                                                     if p.sec_insn_off * 8 <= r.offset
                                                     < (p.sec_insn_off + len(p.insns)) * 8])
        self._init_prog_slots()

    def _init_programs(self) -> None:
        text = self.elf.section(".text")
        for ep in self.elf.programs():
            if ep.section != ".text" and ep.bind == "STB_LOCAL":
                raise BpfError(errno.ENOTSUP, f"sec '{ep.section}': program '{ep.name}' is static and not supported")
            is_sub = text is not None and ep.sec_index == text.index
            p = Program(self, ep.name, ep.section, ep.sec_index, ep.insn_offset, list(ep.insns), is_sub,
                        global_func=ep.bind != "STB_LOCAL")
            p.codes = list(p.insns)
            if not is_sub:
                sd = find_sec_def(ep.section)
                p.sec_def = sd
                p.autoload = autoload_default(ep.section)
                if sd is not None:
                    p.prog_type, p.expected_attach_type, p.prog_flags = sd.prog_type, sd.attach_type, sd.prog_flags
            self.all_programs.append(p)

    # ------------------------------------------------------------ BTF fix-ups
    def _finalize_btf(self) -> None:
        """btf_finalize_data(): DATASEC sizes from the ELF section, variable offsets from
        the symbols (hidden globals become static), entries sorted by offset."""
        if self.btf is None:
            return
        syms = {s.name: s for s in self.elf.symbols if s.type == "STT_OBJECT" and s.shndx}
        for tid, t in enumerate(self.btf.types):
            if t.kind != K.DATASEC:
                continue
            sec_name = self.btf.name_of(t)
            if not t.size_type and sec_name not in (".kconfig", ".ksyms"):
                sec = self.elf.section(sec_name)
                if sec is None:
                    raise BpfError(errno.ENOENT, f"sec '{sec_name}': failed to determine size from ELF")
                t.size_type = sec.size
                for i, v in enumerate(t.members):
                    var = self.btf.type_by_id(v.type)
                    vname = self.btf.name_of(var)
                    sym = syms.get(vname)
                    if sym is None:
                        raise BpfError(errno.ENOENT, f"sec '{sec_name}': failed to find ELF symbol for VAR '{vname}'")
                    t.members[i] = v._replace(offset=sym.value)
            for v in t.members:
                var = self.btf.type_by_id(v.type)
                if var.kind != K.VAR:
                    continue
                sym = syms.get(self.btf.name_of(var))
                if sym is not None and sym.visibility in ("STV_HIDDEN", "STV_INTERNAL"):
                    var.single = var.single._replace(linkage=K.BTF_VAR_STATIC)
            t.members.sort(key=lambda v: v.offset)

    def _resize_datasec(self, m: Map, new_size: int) -> None:
        """map_btf_datasec_resize(): the last variable must be an array whose element size
        divides the growth; the DATASEC and that variable's array grow to new_size."""
        btf = self.btf
        ds = btf.type_by_id(m.btf_value_type_id)
        if ds.kind != K.DATASEC or not ds.members:
            raise BpfError(errno.ENOENT, "")
        last = ds.members[-1]
        var = btf.type_by_id(last.type)
        arr_id = btf.resolve(var.type)
        arr = btf.type_by_id(arr_id)
        if arr.kind != K.ARRAY:
            raise BpfError(errno.EINVAL, f"map '{m.name}': cannot be resized, last var must be an array")
        elem_sz = btf.size_of(arr.single.type)
        if elem_sz == 0 or (new_size - last.offset) % elem_sz:
            raise BpfError(errno.EINVAL, f"map '{m.name}': cannot be resized, element size ({elem_sz}) doesn't "
                                         f"align with new total size ({new_size})")
        nelems = (new_size - last.offset) // elem_sz
        new_arr = btf.add_type(Type(K.ARRAY, 0, 0, single=arr.single._replace(nelems=nelems)))
        new_var = btf.add_type(Type(K.VAR, var.name_off, new_arr, single=var.single))
        ds.members[-1] = last._replace(type=new_var, size=nelems * elem_sz)
        ds.size_type = new_size

    # ------------------------------------------------------------------- maps
    def _init_user_btf_maps(self) -> None:
        sec = self.elf.section(".maps")
        if sec is None:
            return
        if self.btf is None:
            raise BpfError(errno.EINVAL, "failed to parse BTF-defined maps: no BTF")
        for d in parse_maps_section(self.btf, sec.size):
            m = Map(self, d.name, d.name, d.def_, sec_idx=sec.index, sec_offset=d.offset,
                    btf_key_type_id=d.key_type_id, btf_value_type_id=d.value_type_id)
            if d.inner is not None and d.def_.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                i = d.inner
                m.inner = Map(self, f"{d.name}.inner", f"{d.name}.inner", i.def_,
                              btf_key_type_id=i.key_type_id, btf_value_type_id=i.value_type_id)
            m.values_member_off = d.values_member_off
            self.maps.append(m)

    def _add_internal_map(self, kind: LibbpfMapType, real_name: str, sec_idx: int, data: bytes, size: int) -> Map:
        name = internal_map_name(self.name, real_name, kind)
        percpu = kind == LibbpfMapType.PERCPU
        flags = BPF_F_RDONLY_PROG if kind in (LibbpfMapType.RODATA, LibbpfMapType.KCONFIG) else 0
        d = MapDef(MapType.PERCPU_ARRAY if percpu else MapType.ARRAY, 4, size, 1, flags)
        m = Map(self, name, real_name, d, libbpf_type=kind, sec_idx=sec_idx)
        if self.btf is not None:
            ds = self.btf.find(real_name, K.DATASEC)
            if ds is not None:
                m.btf_value_type_id = ds
        if not percpu and self._datasec_has_global(m.btf_value_type_id):
            d.map_flags |= BPF_F_MMAPABLE
        m.image = BufferImage(data, size, name)
        self.log.append(f"map '{name}' (global {'percpu ' if percpu else ''}data): at sec_idx {sec_idx}, "
                        f"offset 0, flags {d.map_flags:x}.")
        self.maps.append(m)
        return m

    def _datasec_has_global(self, tid: int) -> bool:
        """map_is_mmapable(): a DATASEC with at least one non-static variable."""
        if not tid or self.btf is None:
            return False
        for v in self.btf.type_by_id(tid).members:
            var = self.btf.type_by_id(v.type)
            if var.kind == K.VAR and var.single.linkage != K.BTF_VAR_STATIC:
                return True
        return False

    def _init_global_data_maps(self) -> None:
        for sec in self.elf.sections:
            if sec.is_exec or not sec.size:
                continue
            if sec.sh_type == "SHT_PROGBITS":
                kind = section_kind(sec.name)
                if kind is None:
                    if sec.sh_flags & 0x2 and sec.name not in ("license", "version", ".maps"):
                        self.log.append(f"elf: skipping unrecognized data section({sec.index}) {sec.name}")
                    continue
                self._add_internal_map(kind, sec.name, sec.index, sec.data, sec.size)
            elif sec.sh_type == "SHT_NOBITS" and (sec.name == BSS_SEC or sec.name.startswith(BSS_SEC + ".")):
                self._add_internal_map(LibbpfMapType.BSS, sec.name, sec.index, b"", sec.size)

    def _init_kconfig_map(self) -> None:
        size = X.kconfig_size(self.externs)
        if size:
            self.kconfig_map = self._add_internal_map(LibbpfMapType.KCONFIG, KCONFIG_SEC, -2, b"", size)
            if self.btf is not None:
                ds = self.btf.find(".kconfig", K.DATASEC)
                if ds is not None:
                    t = self.btf.type_by_id(ds)
                    t.size_type = size
                    t.members[:] = sorted((v._replace(offset=self.externs[self.btf.name_of(v.type)].data_off)
                                           for v in t.members if self.btf.name_of(v.type) in self.externs),
                                          key=lambda v: v.offset)

    def _init_prog_slots(self) -> None:
        """Static initialisation of PROG_ARRAY / map-in-map `values` from .rel.maps."""
        sec = self.elf.section(".maps")
        if sec is None:
            return
        for r in self.elf.relocations.get(sec.index, ()):
            cands = [m for m in self.maps if not m.internal and m.values_member_off >= 0
                     and m.sec_offset + m.values_member_off <= r.offset]
            if not cands:
                raise BpfError(errno.EINVAL, f".maps relo #{r.offset}: cannot find map definition")
            m = max(cands, key=lambda c: c.sec_offset)
            slot = (r.offset - m.sec_offset - m.values_member_off) // 8
            sym = r.symbol
            if sym is None:
                raise BpfError(errno.EINVAL, f"map '{m.name}': .maps relo #{r.offset} has no symbol")
            if m.type == MapType.PROG_ARRAY:
                target = next((p for p in self.programs if p.name == sym.name), None)
                if target is None:
                    raise BpfError(errno.EINVAL, f"map '{m.name}': can't find program '{sym.name}' for slot {slot}")
            else:
                target = next((t for t in self.maps if not t.internal and t.real_name == sym.name), None)
                if target is None:
                    raise BpfError(errno.ESRCH, f"map '{m.name}': can't find map '{sym.name}' for inner map slot")
            if len(m.init_slots) <= slot:
                m.init_slots.extend([None] * (slot + 1 - len(m.init_slots)))
            m.init_slots[slot] = target

    # ---------------------------------------------------------------- queries
    def find_map_by_name(self, name: str) -> Map | None:
        """bpf_object__find_map_by_name(): names starting with '.' match the real name only."""
        for m in self.maps:
            if name.startswith("."):
                if m.real_name == name:
                    return m
            elif m.user_name == name:
                return m
        return None

    def find_program_by_name(self, name: str) -> Program | None:
        return next((p for p in self.programs if p.name == name), None)

    # ================================================================== load
    def supports(self, feature: str) -> bool:
        return kernel_supports(self.kernel, feature)

    def load(self, *, keep_going: bool = False, log_level: int = 0) -> None:
        """bpf_object__load().  With keep_going, a program that fails to load keeps its
        error in `prog.load_error` and the others still load (the matrix wants all)."""
        if self.loaded or self.closed:
            raise BpfError(errno.EINVAL, "object is already loaded")
        try:
            with _malformed_guard(self.path):
                self._load_inner(keep_going, log_level)
        except (BpfError, HarnessError):
            self._unload()
            raise
        for m in self.maps:
            m.attach_live_image()

    def _load_inner(self, keep_going: bool, log_level: int) -> None:
        self._load_btf()
        self._sanitize_maps()
        self._resolve_externs()
        self._create_maps()
        self._relocate()
        self._resolve_attach_btf_ids()
        self.loaded = True
        self._load_programs(keep_going, log_level)
        self._init_slots_after_load()

    def _load_btf(self) -> None:
        if self.btf is None or not self.supports("btf"):
            return
        feats = {"func": self.supports("btf_func"), "datasec": self.supports("btf_datasec"),
                 "func_global": self.supports("btf_global_func"), "float": self.supports("btf_float"),
                 "decl_tag": self.supports("btf_decl_tag"), "type_tag": self.supports("btf_type_tag"),
                 "enum64": self.supports("btf_enum64"), "qmark_datasec": self.supports("btf_qmark_datasec")}
        btf = self.btf.sanitize(**feats) if not all(feats.values()) else self.btf
        self.btf_func_ok = feats["func"]
        try:
            self.btf_fd = self.kernel.btf_load(btf.encode())
        except BpfError as exc:
            self.log.append(f"Error loading .BTF into kernel: -{exc.errno}. BTF is optional, ignoring.")
            self.btf_fd = -1

    def _sanitize_maps(self) -> None:
        if not self.supports("array_mmap"):
            for m in self.maps:
                if m.internal:
                    m.def_.map_flags &= ~BPF_F_MMAPABLE

    def _resolve_externs(self) -> None:
        if self.kconfig_map is not None:
            img = X.kconfig_image(self.externs, self.kconfig, kernel_version(self.kernel))
            self.kconfig_map.image.write(0, img)
        target = self.target_btf
        if target is None and any(e.type == X.EXT_KSYM for e in self.externs.values()):
            target = default_target_btf()
        X.resolve_ksyms(self.externs, self.btf, target)

    def _create_one(self, m: Map, inner_fd: int = 0) -> int:
        d = m.def_
        use_btf = self.btf_fd >= 0 and m.btf_value_type_id and d.type not in (MapType.PROG_ARRAY,
                                                                             MapType.ARRAY_OF_MAPS,
                                                                             MapType.HASH_OF_MAPS)
        attr = MapCreateAttr(d.type, d.key_size, d.value_size, d.max_entries, d.map_flags,
                             inner_map_fd=inner_fd, numa_node=d.numa_node, map_name=m.name,
                             btf_fd=self.btf_fd if use_btf else 0,
                             btf_key_type_id=m.btf_key_type_id if use_btf else 0,
                             btf_value_type_id=m.btf_value_type_id if use_btf else 0, map_extra=d.map_extra)
        try:
            return self.kernel.map_create(attr)
        except BpfError as exc:
            if not use_btf:
                raise
            self.log.append(f"Error in bpf_create_map_xattr({m.name}): {exc}. Retrying without BTF.")
            attr.btf_fd = attr.btf_key_type_id = attr.btf_value_type_id = 0
            return self.kernel.map_create(attr)

    def _create_maps(self) -> None:
        for m in self.maps:
            if m.internal:
                feat = "percpu_data" if m.libbpf_type == LibbpfMapType.PERCPU else "global_data"
                if not self.supports(feat):
                    m.autocreate = False
                    m.skipped_reason = f"kernel lacks {feat}"
            if not m.autocreate:
                self.log.append(f"map '{m.name}': skipped auto-creating...")
                continue
            inner_fd = 0
            try:
                if m.inner is not None:
                    inner_fd = self._create_one(m.inner)
                m.fd = self._create_one(m, inner_fd)
            except BpfError as exc:
                raise BpfError(exc.errno, f"map '{m.name}': failed to create: {exc}", exc.log) from None
            finally:
                if inner_fd:
                    self.kernel.close(inner_fd)
            if m.internal:
                self._populate_internal_map(m)
            elif m.init_slots and m.type != MapType.PROG_ARRAY:
                for i, target in enumerate(m.init_slots):
                    if target is not None:
                        if target.fd < 0:
                            raise BpfError(errno.EINVAL, f"map '{m.name}': inner map '{target.name}' not created")
                        self.kernel.map_update_elem(m.fd, i.to_bytes(4, "little"),
                                                    target.fd.to_bytes(4, "little"), 0)

    def _populate_internal_map(self, m: Map) -> None:
        flags = BPF_F_ALL_CPUS if m.libbpf_type == LibbpfMapType.PERCPU else BPF_ANY
        try:
            self.kernel.map_update_elem(m.fd, bytes(4), m.image.read(0, m.def_.value_size), flags)
        except BpfError as exc:
            raise BpfError(exc.errno, f"map '{m.name}': failed to set initial contents: {exc}") from None
        if m.libbpf_type in (LibbpfMapType.RODATA, LibbpfMapType.KCONFIG):
            try:
                self.kernel.map_freeze(m.fd)
            except BpfError as exc:
                raise BpfError(exc.errno, f"map '{m.name}': failed to freeze as read-only: {exc}") from None

    # Prefix of the vmlinux BTF name an attach target resolves to (libbpf's
    # find_attach_btf_id / btf_get_kernel_prefix_kind).
    _ATTACH_PREFIX = {"iter": ("bpf_iter_", K.FUNC), "tp_btf": ("btf_trace_", K.TYPEDEF),
                      "lsm": ("bpf_lsm_", K.FUNC)}

    def _resolve_attach_btf_ids(self) -> None:
        """SEC_ATTACH_BTF programs need attach_btf_id from the kernel's BTF.  The real
        kernel's comes from /sys/kernel/btf/vmlinux (or the target BTF the user gave);
        the emulated kernel has none, so its programs keep 0 unless a target is given."""
        from harness.libbpf.secdefs import SEC_ATTACH_BTF
        progs = [p for p in self.programs if p.autoload and p.sec_def and p.sec_def.flags & SEC_ATTACH_BTF
                 and p.attach_target]
        if not progs:
            return
        target = self.target_btf
        if target is None and getattr(self.kernel, "name", "") == "real":
            target = self.target_btf = default_target_btf()
        if target is None:
            return
        for p in progs:
            base = p.sec_def.pattern.rstrip("+").split(".")[0]
            prefix, kind = self._ATTACH_PREFIX.get(base, ("", K.FUNC))
            tid = target.find(prefix + p.attach_target, kind)
            if tid is None:
                p.load_error = BpfError(errno.ESRCH, f"prog '{p.name}': failed to find kernel BTF type ID of "
                                                     f"'{p.attach_target}': -3")
                continue
            p.attach_btf_id = tid

    def _relocate(self) -> None:
        from harness.libbpf.core_relo import apply_core_relos
        apply_core_relos(self)
        for p in self.programs:
            if not p.autoload:
                continue
            insns, order = R.link_program(self, p)
            p.poisoned = R.apply_data_relocs(self, insns, order)
            p.final_insns = insns
            p.func_info, p.line_info = self._ext_infos(order)
            p.placed = order

    def _ext_infos(self, order) -> tuple[list, list]:
        ext = self.elf.btf_ext
        if ext is None or self.btf_fd < 0 or not self.btf_func_ok:
            return [], []
        fi_by_sec, li_by_sec = ext.func_info.by_section(), ext.line_info.by_section()
        fis, lis = [], []
        for p, base in order:
            lo, hi = p.sec_insn_off, p.sec_insn_off + len(p.insns)
            for rec in fi_by_sec.get(p.sec_name, ()):
                if lo <= rec.insn_off // 8 < hi:
                    fis.append((base + rec.insn_off // 8 - lo, rec.type_id))
            for rec in li_by_sec.get(p.sec_name, ()):
                if lo <= rec.insn_off // 8 < hi:
                    lis.append((base + rec.insn_off // 8 - lo, rec.file_name_off, rec.line_off, rec.line_col))
        return sorted(fis), sorted(lis)

    def _prog_attr(self, p: Program, log_level: int) -> ProgLoadAttr:
        from harness.isa.insn import encode
        return ProgLoadAttr(prog_type=p.prog_type, insns=encode(p.final_insns), license=self.license,
                            log_level=log_level, kern_version=self.kern_version, prog_flags=p.prog_flags,
                            prog_name=p.name[:15] if self.supports("prog_name") else "",
                            expected_attach_type=p.expected_attach_type,
                            prog_btf_fd=self.btf_fd if self.btf_fd >= 0 and p.func_info else 0,
                            func_info=p.func_info, line_info=p.line_info, attach_btf_id=p.attach_btf_id)

    def _load_programs(self, keep_going: bool, log_level: int) -> None:
        for p in self.programs:
            if not p.autoload:
                continue
            try:
                if p.load_error is not None:
                    raise p.load_error
                if p.sec_def is None and p.prog_type == ProgType.UNSPEC:
                    raise BpfError(errno.EINVAL, f"prog '{p.name}': missing BPF prog type, check ELF section "
                                                 f"name '{p.sec_name}'")
                res = self._prog_load_with_log(p, log_level)
                p.fd, p.log, p.verified_insns = res.fd, res.log, res.verified_insns
            except BpfError as exc:
                p.load_error = self._fixup_error(p, exc)
                if not keep_going:
                    raise p.load_error from None

    def _prog_load_with_log(self, p: Program, log_level: int):
        """Like libbpf: load quietly first; on failure without a log, load again with
        log_level 1 so the error carries the verifier log."""
        try:
            return self.kernel.prog_load(self._prog_attr(p, log_level))
        except BpfError as exc:
            if log_level or exc.log:
                raise
        return self.kernel.prog_load(self._prog_attr(p, 1))

    def _fixup_error(self, p: Program, exc: BpfError) -> BpfError:
        """libbpf's fixup_verifier_log(): a poisoned map reference becomes
        `<idx>: <invalid BPF map reference>` + `BPF map '%s' is referenced but wasn't created`."""
        text = (exc.log or "") + "\n" + (exc.message or "")
        m = _POISON_RE.search(text)
        if m is None:
            return BpfError(exc.errno, exc.message or f"prog '{p.name}': BPF program load failed", exc.log)
        map_idx = int(m.group(3)) - POISON_LDIMM64_MAP_BASE
        map_name = self.maps[map_idx].name if 0 <= map_idx < len(self.maps) else "?"
        idx = m.group(1)
        if idx is None:
            idx = str(p.poisoned[0]) if p.poisoned else "?"
        patch = f"{idx}: <invalid BPF map reference>\nBPF map '{map_name}' is referenced but wasn't created"
        log = (exc.log or "")
        log = _POISON_RE.sub(patch, log, count=1) if _POISON_RE.search(log) else (log + patch + "\n")
        return BpfError(exc.errno, f"BPF map '{map_name}' is referenced but wasn't created", log)

    def _init_slots_after_load(self) -> None:
        for m in self.maps:
            if m.type != MapType.PROG_ARRAY or m.fd < 0:
                continue
            for i, target in enumerate(m.init_slots):
                if target is not None and target.fd >= 0:
                    try:
                        self.kernel.map_update_elem(m.fd, i.to_bytes(4, "little"), target.fd.to_bytes(4, "little"), 0)
                    except BpfError as exc:
                        raise BpfError(exc.errno, f"map '{m.name}': failed to initialize slot [{i}] to prog "
                                                  f"'{target.name}' fd={target.fd}: {exc}") from None

    # ============================================================ teardown
    def _unload(self) -> None:
        for p in self.programs:
            if p.fd >= 0:
                self._close(p.fd)
                p.fd = -1
        for m in self.maps:
            if m.fd >= 0:
                self._close(m.fd)
                m.fd = -1
        if self.btf_fd >= 0:
            self._close(self.btf_fd)
            self.btf_fd = -1
        self.loaded = False

    def _close(self, fd: int) -> None:
        try:
            self.kernel.close(fd)
        except BpfError:
            pass

    def destroy(self) -> None:
        """bpf_object__close(): release every fd."""
        self._unload()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


@contextlib.contextmanager
def _malformed_guard(path: str):
    """Inconsistent objects (symbols pointing past sections, BTF values that do not fit
    their fields) surface deep in the loader as Python errors; report them like any
    other malformed input: one line naming the file."""
    try:
        yield
    except (struct.error, IndexError, KeyError, ValueError, OverflowError, TypeError) as exc:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise FormatError(f"malformed object ({type(exc).__name__}: {text})", path=path) from None


def kernel_version(kernel) -> int:
    """LINUX_KERNEL_VERSION: the kernel's own answer when it has one, else uname's release
    as libbpf's get_kernel_version() reads it (KERNEL_VERSION(a, b, min(c, 255)))."""
    ver = getattr(kernel, "kernel_version", None)
    if ver is not None:
        return int(ver() if callable(ver) else ver)
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", os.uname().release)
    if not m:
        return 0
    a, b, c = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return (a << 16) + (b << 8) + min(c, 255)


def open_object(path: str, kernel: Kernel | None = None, **kw) -> Object:
    return Object.open(path, kernel, **kw)


def load_btf_file(path: str) -> Btf:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise HarnessError(f"cannot read BTF: {exc.strerror or exc}", path=path) from None
    return Btf.parse(data, where=path)


@functools.lru_cache(maxsize=1)
def default_target_btf() -> Btf | None:
    """The running kernel's BTF when readable (CO-RE's default target), else None.
    Parsed once per process (it is megabytes); callers only read it."""
    try:
        return load_btf_file("/sys/kernel/btf/vmlinux")
    except HarnessError:
        return None
