"""A loader program for light skeletons (libbpf's gen_loader, the parts we need).

A light skeleton does not link libbpf: it hands the kernel one BPF_PROG_TYPE_SYSCALL
program (the "loader") plus a data blob, and the loader issues the bpf() commands itself
through the bpf_sys_bpf helper.  What ours does, in order (upstream-spec §4.9):
  - per map: BPF_MAP_CREATE with the kernel name; the fd goes to ctx->maps[i].map_fd and
    to a blob fd_array slot; internal maps then take their image, overwritten first from
    the user's `initial_value` pointer when it is set (bpf_copy_from_user), and are
    written with BPF_MAP_UPDATE_ELEM, flags BPF_F_ALL_CPUS for per-CPU data;
    .rodata/.kconfig are frozen;
  - per program: BPF_PROG_LOAD of the relocated instructions, whose map references are
    BPF_PSEUDO_MAP_IDX(_VALUE) indices into the blob's fd_array; the fd goes to
    ctx->progs[j].prog_fd.
Any negative return ends the loader with that error.  Limits (unlike libbpf): no BTF,
func_info or line_info is loaded, attach BTF ids are resolved when the loader is built,
and fds already created are not closed on failure.

Context layout (skel_internal.h): struct bpf_loader_ctx (24 bytes), then one
struct bpf_map_desc (16 bytes) per map, then one struct bpf_prog_desc (4 bytes) per program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.elf.layout import record
from harness.isa.insn import Insn, encode
from harness.libbpf.naming import LibbpfMapType
from harness.libbpf.relocs import apply_data_relocs, link_program
from harness.uapi import (BPF_F_ALL_CPUS, BPF_F_SLEEPABLE, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
                          Cmd, MapType)

AttrMapCreate = record("bpf_attr_map_create",
                       "map_type:I key_size:I value_size:I max_entries:I map_flags:I inner_map_fd:I "
                       "numa_node:I map_name:16s map_ifindex:I btf_fd:I btf_key_type_id:I "
                       "btf_value_type_id:I btf_vmlinux_value_type_id:I map_extra:Q")
AttrMapElem = record("bpf_attr_map_elem", "map_fd:I pad:I key:Q value:Q flags:Q")
AttrProgLoad = record("bpf_attr_prog_load",
                      "prog_type:I insn_cnt:I insns:Q license:Q log_level:I log_size:I log_buf:Q "
                      "kern_version:I prog_flags:I prog_name:16s prog_ifindex:I expected_attach_type:I "
                      "prog_btf_fd:I func_info_rec_size:I func_info:Q func_info_cnt:I line_info_rec_size:I "
                      "line_info:Q line_info_cnt:I attach_btf_id:I attach_prog_fd:I core_relo_cnt:I "
                      "fd_array:Q core_relos:Q core_relo_rec_size:I log_true_size:I")
LOADER_CTX_SIZE = 24
MAP_DESC_SIZE = 16
PROG_DESC_SIZE = 4

BPF_FUNC_copy_from_user = 148
BPF_FUNC_sys_bpf = 166
_LD_IMM64, _MOV64_IMM, _MOV64_REG, _CALL, _EXIT = 0x18, 0xB7, 0xBF, 0x85, 0x95
_STX_W, _STX_DW, _LDX_DW, _JSGE_IMM, _JEQ_IMM = 0x63, 0x7B, 0x79, 0x75, 0x15


@dataclass
class Loader:
    insns: list[Insn]
    data: bytes
    map_names: list[str] = field(default_factory=list)
    prog_names: list[str] = field(default_factory=list)

    @property
    def ctx_size(self) -> int:
        return LOADER_CTX_SIZE + MAP_DESC_SIZE * len(self.map_names) + PROG_DESC_SIZE * len(self.prog_names)

    def map_desc_off(self, i: int) -> int:
        return LOADER_CTX_SIZE + MAP_DESC_SIZE * i

    def prog_desc_off(self, j: int) -> int:
        return LOADER_CTX_SIZE + MAP_DESC_SIZE * len(self.map_names) + PROG_DESC_SIZE * j


class _Builder:
    def __init__(self):
        self.blob = bytearray()
        self.insns: list[Insn] = []

    def add(self, data: bytes) -> int:
        self.blob += bytes(-len(self.blob) % 8)
        off = len(self.blob)
        self.blob += data
        return off

    def emit(self, *insns: Insn) -> None:
        self.insns.extend(insns)

    def blob_ptr(self, reg: int, off: int) -> None:
        """reg = &blob[off] (the loader map is fd_array[0] of the loader program)."""
        self.emit(Insn(_LD_IMM64, reg, BPF_PSEUDO_MAP_IDX_VALUE, 0, 0), Insn(0, 0, 0, 0, off))

    def store_ptr(self, attr_off: int, field_off: int, target_off: int) -> None:
        """*(u64 *)&blob[attr_off + field_off] = &blob[target_off]."""
        self.blob_ptr(7, attr_off)
        self.blob_ptr(8, target_off)
        self.emit(Insn(_STX_DW, 7, 8, field_off, 0))

    def sys_bpf(self, cmd: int, attr_off: int, size: int) -> None:
        self.emit(Insn(_MOV64_IMM, 1, 0, 0, cmd))
        self.blob_ptr(2, attr_off)
        self.emit(Insn(_MOV64_IMM, 3, 0, 0, size), Insn(_CALL, 0, 0, 0, BPF_FUNC_sys_bpf))
        self.bail_on_error()

    def bail_on_error(self) -> None:
        self.emit(Insn(_JSGE_IMM, 0, 0, 1, 0), Insn(_EXIT))


def build_loader(obj) -> Loader:
    """The loader for an opened (not loaded) Object.  Every map is created (a light
    skeleton's loader cannot probe features), every autoload program loaded."""
    from harness.libbpf.core_relo import apply_core_relos
    if obj.kconfig_map is not None:
        obj._resolve_externs()
    apply_core_relos(obj)
    b = _Builder()
    maps = [m for m in obj.maps]
    for m in maps:
        if m.inner is not None:
            from harness.kernelapi import BpfError
            raise BpfError(95, f"map '{m.name}': map-in-map is not supported by our light skeleton loader")
    progs = [p for p in obj.programs if p.autoload]
    fd_array_off = b.add(bytes(4 * max(1, len(maps))))
    b.emit(Insn(_MOV64_REG, 6, 1, 0, 0))                       # r6 = ctx
    ctx = Loader([], b"", [m.name for m in maps], [p.name for p in progs])
    zero_key = b.add(bytes(8))
    for i, m in enumerate(maps):
        d = m.def_
        attr = AttrMapCreate(d.type, d.key_size, d.value_size, d.max_entries, d.map_flags, 0, d.numa_node,
                             m.name.encode()[:15], 0, 0, 0, 0, 0, d.map_extra)
        off = b.add(attr.pack())
        b.sys_bpf(Cmd.MAP_CREATE, off, AttrMapCreate.SIZE)
        b.emit(Insn(_STX_W, 6, 0, ctx.map_desc_off(i), 0))       # ctx->maps[i].map_fd = r0
        b.blob_ptr(7, fd_array_off + 4 * i)
        b.emit(Insn(_STX_W, 7, 0, 0, 0), Insn(_MOV64_REG, 9, 0, 0, 0))   # r9 = map fd
        if m.image is None:
            continue
        value_off = b.add(m.image.read(0, d.value_size))
        # value <- *ctx->maps[i].initial_value when the user gave one (bpf_copy_from_user)
        b.emit(Insn(_LDX_DW, 3, 6, ctx.map_desc_off(i) + 8, 0), Insn(_JEQ_IMM, 3, 0, 6, 0))
        b.blob_ptr(1, value_off)
        b.emit(Insn(_MOV64_IMM, 2, 0, 0, d.value_size), Insn(_CALL, 0, 0, 0, BPF_FUNC_copy_from_user))
        b.bail_on_error()
        flags = BPF_F_ALL_CPUS if m.libbpf_type == LibbpfMapType.PERCPU else 0
        elem_off = b.add(AttrMapElem(0, 0, 0, 0, flags).pack())
        b.blob_ptr(7, elem_off)
        b.emit(Insn(_STX_W, 7, 9, 0, 0))
        b.store_ptr(elem_off, 8, zero_key)
        b.store_ptr(elem_off, 16, value_off)
        b.sys_bpf(Cmd.MAP_UPDATE_ELEM, elem_off, AttrMapElem.SIZE)
        if m.libbpf_type in (LibbpfMapType.RODATA, LibbpfMapType.KCONFIG):
            fr_off = b.add(AttrMapElem(0, 0, 0, 0, 0).pack())
            b.blob_ptr(7, fr_off)
            b.emit(Insn(_STX_W, 7, 9, 0, 0))
            b.sys_bpf(Cmd.MAP_FREEZE, fr_off, 8)
    license_off = b.add(obj.license.encode() + b"\0")
    for j, p in enumerate(progs):
        insns = _relocated_for_loader(obj, p, maps)
        code_off = b.add(encode(insns))
        attr = AttrProgLoad(p.prog_type, len(insns), 0, 0, 0, 0, 0, obj.kern_version, p.prog_flags,
                            p.name.encode()[:15], 0, p.expected_attach_type, 0, 0, 0, 0, 0, 0, 0,
                            p.attach_btf_id, 0, 0, 0, 0, 0, 0)
        off = b.add(attr.pack())
        b.store_ptr(off, 8, code_off)
        b.store_ptr(off, 16, license_off)
        b.store_ptr(off, 120, fd_array_off)
        b.sys_bpf(Cmd.PROG_LOAD, off, AttrProgLoad.SIZE)
        b.emit(Insn(_STX_W, 6, 0, ctx.prog_desc_off(j), 0))
    # statically initialised PROG_ARRAY slots, once the programs exist
    for i, m in enumerate(maps):
        if m.type != MapType.PROG_ARRAY:
            continue
        for slot, target in enumerate(m.init_slots):
            if target is None or target not in progs:
                continue
            key_off = b.add(slot.to_bytes(4, "little"))
            val_off = b.add(bytes(4))
            elem_off = b.add(AttrMapElem(0, 0, 0, 0, 0).pack())
            b.emit(Insn(0x61, 1, 6, ctx.prog_desc_off(progs.index(target)), 0))   # r1 = prog fd
            b.blob_ptr(7, val_off)
            b.emit(Insn(_STX_W, 7, 1, 0, 0))
            b.blob_ptr(8, fd_array_off + 4 * i)
            b.emit(Insn(0x61, 1, 8, 0, 0))                                          # r1 = map fd
            b.blob_ptr(7, elem_off)
            b.emit(Insn(_STX_W, 7, 1, 0, 0))
            b.store_ptr(elem_off, 8, key_off)
            b.store_ptr(elem_off, 16, val_off)
            b.sys_bpf(Cmd.MAP_UPDATE_ELEM, elem_off, AttrMapElem.SIZE)
    b.emit(Insn(_MOV64_IMM, 0, 0, 0, 0), Insn(_EXIT))
    ctx.insns, ctx.data = b.insns, bytes(b.blob)
    return ctx


def _relocated_for_loader(obj, p, maps) -> list[Insn]:
    """Link and relocate with map references as fd_array indices (MAP_IDX forms)."""
    for i, m in enumerate(maps):
        m.fd = i                    # the index stands in for the fd during relocation
    try:
        insns, order = link_program(obj, p)
        apply_data_relocs(obj, insns, order)
    finally:
        for m in maps:
            m.fd = -1
    out = list(insns)
    for r_p, base in order:
        for r in r_p.relos:
            at = base + r.insn_idx
            if r.kind == "ld64":
                out[at] = out[at].replace(src=BPF_PSEUDO_MAP_IDX)
            elif r.kind == "data":
                out[at] = out[at].replace(src=BPF_PSEUDO_MAP_IDX_VALUE)
    return out


def loader_prog_flags() -> int:
    return BPF_F_SLEEPABLE


def run_loader(kernel, loader: Loader, initial_values: dict[int, int] | None = None):
    """What skel_internal.h's bpf_load_and_run() does, through the Kernel protocol:
    a map holding the blob, the loader program (SYSCALL, sleepable) bound to it by
    fd_array, one test run with the context; returns (map fds, prog fds)."""
    from harness.kernelapi import MapCreateAttr, ProgLoadAttr, TestRunAttr
    from harness.uapi import ProgType
    map_fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, len(loader.data), 1, map_name="__loader.map"))
    try:
        kernel.map_update_elem(map_fd, bytes(4), loader.data, 0)
        prog = kernel.prog_load(ProgLoadAttr(ProgType.SYSCALL, encode(loader.insns), "Dual BSD/GPL",
                                             prog_flags=loader_prog_flags(), prog_name="__loader.prog",
                                             fd_array=[map_fd]))
        try:
            ctx = bytearray(loader.ctx_size)
            ctx[0:4] = loader.ctx_size.to_bytes(4, "little")
            for i, ptr in (initial_values or {}).items():
                ctx[loader.map_desc_off(i) + 8:loader.map_desc_off(i) + 16] = ptr.to_bytes(8, "little")
            res = kernel.prog_test_run(prog.fd, TestRunAttr(ctx_in=bytes(ctx)))
        finally:
            kernel.close(prog.fd)
    finally:
        kernel.close(map_fd)
    ret = res.retval - (1 << 32) if res.retval >= 1 << 31 else res.retval
    if ret:
        from harness.kernelapi import BpfError
        raise BpfError(-ret if ret < 0 else ret, f"loader program failed: {ret}")
    out = res.ctx_out
    maps = [int.from_bytes(out[loader.map_desc_off(i):loader.map_desc_off(i) + 4], "little", signed=True)
            for i in range(len(loader.map_names))]
    progs = [int.from_bytes(out[loader.prog_desc_off(j):loader.prog_desc_off(j) + 4], "little", signed=True)
             for j in range(len(loader.prog_names))]
    return maps, progs
