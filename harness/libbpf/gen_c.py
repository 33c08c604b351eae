"""C skeleton headers in bpftool's layout (`bpftool gen skeleton`, upstream-spec §5.2).

The header declares `struct <obj>` with `maps`, `progs`, `links`, one typed pointer per
skeleton data section (`struct <obj>__percpu {...} *percpu;`, is_skel_data), the
open/load/attach/destroy wrappers around libbpf's bpf_object_skeleton, the descriptor
table (map name = bpf_map__name(), `mmaped` wired for every data section including
per-CPU ones), the embedded ELF bytes and the `_Static_assert` size checks.
Types of the variables are printed from BTF: anonymous structs inline, named ones
by reference with their definitions emitted once above the skeleton struct.
Padding follows bpftool: an explicit `char __padN[M]` only where natural alignment would
not already put the next variable at its offset.
"""

from __future__ import annotations

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf
from harness.isa.insn import encode
from harness.libbpf.object import Object
from harness.libbpf.skeleton import is_skel_data
from harness.uapi import MapType


class CTypes:
    """Prints BTF types as C declarations."""

    def __init__(self, btf: Btf):
        self.btf = btf
        self.named: dict[int, str] = {}      # tid -> definition, for named aggregates
        self.order: list[int] = []

    def align_of(self, tid: int) -> int:
        btf = self.btf
        tid = btf.resolve(tid)
        t = btf.type_by_id(tid)
        if t.kind in (K.INT, K.ENUM, K.ENUM64, K.FLOAT):
            return min(t.size, 8) or 1
        if t.kind == K.PTR:
            return 8
        if t.kind == K.ARRAY:
            return self.align_of(t.single.type)
        if t.kind in (K.STRUCT, K.UNION):
            return max((self.align_of(m.type) for m in t.members), default=1)
        return 1

    def decl(self, tid: int, name: str, indent: int) -> str:
        """`<type> name` with array suffixes and inline anonymous aggregates."""
        btf = self.btf
        t = btf.type_by_id(tid)
        if tid == 0:
            return f"void {name}".rstrip()
        if t.kind == K.ARRAY:
            return self.decl(t.single.type, f"{name}[{t.single.nelems}]", indent)
        if t.kind == K.PTR:
            inner = btf.type_by_id(t.type) if t.type else None
            if inner is not None and inner.kind in (K.FUNC_PROTO,):
                return f"void *{name}"
            return self.decl(t.type, f"*{name}", indent)
        if t.kind in (K.CONST, K.VOLATILE, K.RESTRICT):
            # bpftool strips modifiers of .rodata vars only; keeping volatile/const is valid C too
            return self.decl(t.type, name, indent)
        if t.kind == K.TYPE_TAG:
            return self.decl(t.type, name, indent)
        if t.kind in (K.INT, K.FLOAT):
            return f"{btf.name_of(t)} {name}"
        if t.kind == K.TYPEDEF:
            self._define(tid)
            return f"{btf.name_of(t)} {name}"
        if t.kind in (K.STRUCT, K.UNION, K.ENUM, K.ENUM64, K.FWD):
            kw = "union" if t.kind == K.UNION or (t.kind == K.FWD and t.kind_flag) else \
                ("enum" if t.kind in (K.ENUM, K.ENUM64) else "struct")
            tname = btf.name_of(t)
            if tname:
                self._define(tid)
                return f"{kw} {tname} {name}"
            return f"{self.body(tid, indent)} {name}"
        raise ValueError(f"cannot print BTF kind {t.kind_name}")

    def body(self, tid: int, indent: int) -> str:
        btf = self.btf
        t = btf.type_by_id(tid)
        tabs = "\t" * (indent + 1)
        if t.kind in (K.ENUM, K.ENUM64):
            vals = ",\n".join(f"{tabs}{btf.string_at(e.name_off)} = {e.value(bool(t.kind_flag))}"
                              for e in t.members)
            return f"enum {btf.name_of(t)} {{\n{vals},\n{chr(9) * indent}}}".replace("enum  {", "enum {")
        kw = "union" if t.kind == K.UNION else "struct"
        lines = []
        for m in t.members:
            mname = btf.string_at(m.name_off)
            bits = m.bitfield_size(t.kind_flag)
            d = self.decl(m.type, mname, indent + 1)
            lines.append(f"{tabs}{d}{f': {bits}' if bits else ''};")
        name = btf.name_of(t)
        head = f"{kw} {name} {{" if name else f"{kw} {{"
        return head + "\n" + "\n".join(lines) + ("\n" if lines else "") + "\t" * indent + "}"

    def _define(self, tid: int) -> None:
        if tid in self.named:
            return
        self.named[tid] = ""
        t = self.btf.type_by_id(tid)
        if t.kind == K.TYPEDEF:
            text = f"typedef {self.decl(t.type, self.btf.name_of(t), 0)};"
        elif t.kind == K.FWD:
            text = f"{'union' if t.kind_flag else 'struct'} {self.btf.name_of(t)};"
        else:
            text = self.body(tid, 0) + ";"
        self.named[tid] = text
        self.order.append(tid)

    def definitions(self) -> str:
        return "\n\n".join(self.named[t] for t in self.order)


def _sanitize_upper(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def _datasec_struct(obj: Object, ct: CTypes, m, obj_name: str) -> tuple[str, list[tuple[str, int]]]:
    """The `struct <obj>__<ident> {...}` body and its (var, size) list for asserts."""
    btf = obj.btf
    ds = btf.type_by_id(m.btf_value_type_id)
    lines, asserts, off, pad = [], [], 0, 0
    for v in sorted(ds.members, key=lambda v: v.offset):
        var = btf.type_by_id(v.type)
        if var.kind != K.VAR or var.single.linkage == K.BTF_VAR_STATIC:
            continue
        name = btf.name_of(var)
        align = ct.align_of(var.type)
        aligned = (off + align - 1) // align * align
        if v.offset > off and aligned != v.offset:
            lines.append(f"\t\tchar __pad{pad}[{v.offset - off}];")
            pad += 1
        lines.append(f"\t\t{ct.decl(var.type, name, 2)};")
        size = btf.size_of(var.type)
        asserts.append((name, size))
        off = v.offset + size
    body = f"\tstruct {obj_name}__{m.ident} {{\n" + "\n".join(lines) + ("\n" if lines else "") + \
        f"\t}} *{m.ident};"
    return body, asserts


def _elf_bytes_literal(data: bytes) -> str:
    out, line = [], ""
    for b in data:
        line += f"\\x{b:02x}"
        if len(line) >= 78 * 4 // 4 * 4:
            out.append(line)
            line = ""
    if line:
        out.append(line)
    return "\\\n".join(out)


def gen_skeleton(obj: Object, elf_bytes: bytes, obj_name: str | None = None) -> str:
    name = obj_name or obj.name
    guard = f"__{_sanitize_upper(name)}_SKEL_H__"
    maps = [m for m in obj.maps if m.ident is not None]
    progs = obj.programs
    ct = CTypes(obj.btf) if obj.btf is not None else None
    sections, asserts = [], []
    for m in maps:
        if ct is not None and is_skel_data(m) and obj.btf.type_by_id(m.btf_value_type_id).kind == K.DATASEC:
            body, a = _datasec_struct(obj, ct, m, name)
            sections.append(body)
            asserts += [(m.ident, var, size) for var, size in a]
    o = []
    w = o.append
    w("/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */")
    w("/* THIS FILE IS AUTOGENERATED BY python -m harness gen skeleton (bpftool's layout)! */")
    w(f"#ifndef {guard}\n#define {guard}\n")
    w("#include <errno.h>\n#include <stdlib.h>\n#include <bpf/libbpf.h>\n")
    w("#define BPF_SKEL_SUPPORTS_MAP_AUTO_ATTACH 1\n")
    if ct is not None and ct.order:
        w(ct.definitions() + "\n")
    w(f"struct {name} {{")
    w("\tstruct bpf_object_skeleton *skeleton;\n\tstruct bpf_object *obj;")
    if maps:
        w("\tstruct {")
        for m in maps:
            w(f"\t\tstruct bpf_map *{m.ident};")
        w("\t} maps;")
    if progs:
        w("\tstruct {")
        for p in progs:
            w(f"\t\tstruct bpf_program *{p.name};")
        w("\t} progs;\n\tstruct {")
        for p in progs:
            w(f"\t\tstruct bpf_link *{p.name};")
        w("\t} links;")
    for s in sections:
        w(s)
    w("};\n")
    w(f"static void\n{name}__destroy(struct {name} *obj)\n{{\n\tif (!obj)\n\t\treturn;\n"
      f"\tif (obj->skeleton)\n\t\tbpf_object__destroy_skeleton(obj->skeleton);\n\tfree(obj);\n}}\n")
    w(f"static inline int\n{name}__create_skeleton(struct {name} *obj);\n")
    w(f"static inline struct {name} *\n{name}__open_opts(const struct bpf_object_open_opts *opts)\n{{\n"
      f"\tstruct {name} *obj;\n\tint err;\n\n\tobj = (struct {name} *)calloc(1, sizeof(*obj));\n"
      f"\tif (!obj) {{\n\t\terrno = ENOMEM;\n\t\treturn NULL;\n\t}}\n\n"
      f"\terr = {name}__create_skeleton(obj);\n\tif (err)\n\t\tgoto err_out;\n\n"
      f"\terr = bpf_object__open_skeleton(obj->skeleton, opts);\n\tif (err)\n\t\tgoto err_out;\n\n"
      f"\treturn obj;\nerr_out:\n\t{name}__destroy(obj);\n\terrno = -err;\n\treturn NULL;\n}}\n")
    w(f"static inline struct {name} *\n{name}__open(void)\n{{\n\treturn {name}__open_opts(NULL);\n}}\n")
    w(f"static inline int\n{name}__load(struct {name} *obj)\n{{\n"
      f"\treturn bpf_object__load_skeleton(obj->skeleton);\n}}\n")
    w(f"static inline struct {name} *\n{name}__open_and_load(void)\n{{\n\tstruct {name} *obj;\n\tint err;\n\n"
      f"\tobj = {name}__open();\n\tif (!obj)\n\t\treturn NULL;\n\terr = {name}__load(obj);\n\tif (err) {{\n"
      f"\t\t{name}__destroy(obj);\n\t\terrno = -err;\n\t\treturn NULL;\n\t}}\n\treturn obj;\n}}\n")
    w(f"static inline int\n{name}__attach(struct {name} *obj)\n{{\n"
      f"\treturn bpf_object__attach_skeleton(obj->skeleton);\n}}\n")
    w(f"static inline void\n{name}__detach(struct {name} *obj)\n{{\n"
      f"\tbpf_object__detach_skeleton(obj->skeleton);\n}}\n")
    w(f"static inline const void *{name}__elf_bytes(size_t *sz);\n")
    w(f"static inline int\n{name}__create_skeleton(struct {name} *obj)\n{{\n"
      "\tstruct bpf_object_skeleton *s;\n\tstruct bpf_map_skeleton *map __attribute__((unused));\n\tint err;\n\n"
      "\ts = (struct bpf_object_skeleton *)calloc(1, sizeof(*s));\n\tif (!s)\t{\n\t\terr = -ENOMEM;\n"
      "\t\tgoto err;\n\t}\n\n\ts->sz = sizeof(*s);\n"
      f"\ts->name = \"{name}\";\n\ts->obj = &obj->obj;\n")
    if maps:
        w(f"\t/* maps */\n\ts->map_cnt = {len(maps)};\n\ts->map_skel_sz = 24;\n"
          "\ts->maps = (struct bpf_map_skeleton *)calloc(s->map_cnt,\n"
          "\t\t\tsizeof(*s->maps) > 24 ? sizeof(*s->maps) : 24);\n"
          "\tif (!s->maps) {\n\t\terr = -ENOMEM;\n\t\tgoto err;\n\t}\n")
        for i, m in enumerate(maps):
            w(f"\tmap = (struct bpf_map_skeleton *)((char *)s->maps + {i} * s->map_skel_sz);")
            w(f"\tmap->name = \"{m.user_name}\";\n\tmap->map = &obj->maps.{m.ident};")
            if is_skel_data(m) and any(s.endswith(f"*{m.ident};") for s in sections):
                w(f"\tmap->mmaped = (void **)&obj->{m.ident};")
            w("")
    if progs:
        w(f"\t/* programs */\n\ts->prog_cnt = {len(progs)};\n\ts->prog_skel_sz = sizeof(*s->progs);\n"
          "\ts->progs = (struct bpf_prog_skeleton *)calloc(s->prog_cnt, s->prog_skel_sz);\n"
          "\tif (!s->progs) {\n\t\terr = -ENOMEM;\n\t\tgoto err;\n\t}\n")
        for i, p in enumerate(progs):
            w(f"\ts->progs[{i}].name = \"{p.name}\";\n\ts->progs[{i}].prog = &obj->progs.{p.name};\n"
              f"\ts->progs[{i}].link = &obj->links.{p.name};\n")
    w(f"\ts->data = {name}__elf_bytes(&s->data_sz);\n\n\tobj->skeleton = s;\n\treturn 0;\nerr:\n"
      "\tbpf_object__destroy_skeleton(s);\n\treturn err;\n}\n")
    w(f"static inline const void *{name}__elf_bytes(size_t *sz)\n{{\n"
      "\tstatic const char data[] __attribute__((__aligned__(8))) = \"\\\n"
      f"{_elf_bytes_literal(elf_bytes)}\";\n\n\t*sz = sizeof(data) - 1;\n\treturn (const void *)data;\n}}\n")
    w(f"__attribute__((unused)) static void\n{name}__assert(struct {name} *s __attribute__((unused)))\n{{")
    w("#ifdef __cplusplus\n#define _Static_assert static_assert\n#endif")
    for ident, var, size in asserts:
        w(f"\t_Static_assert(sizeof(s->{ident}->{var}) == {size}, \"unexpected size of '{var}'\");")
    w("#ifdef __cplusplus\n#undef _Static_assert\n#endif\n}\n")
    w(f"#endif /* {guard} */")
    return "\n".join(o) + "\n"


def percpu_idents(obj: Object) -> list[str]:
    return [m.ident for m in obj.maps if m.internal and m.type == MapType.PERCPU_ARRAY and m.ident]


# ----------------------------------------------------------------- light skeleton (-L)
PAGE_SIZE = 4096


def _mmap_sz(m) -> int:
    """bpftool's bpf_map_mmap_sz(): roundup(roundup(value_size, 8) * max_entries, page)."""
    raw = (m.value_size + 7) // 8 * 8 * m.max_entries
    return (raw + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


def _blob(name: str, data: bytes) -> str:
    return (f"\tstatic const char {name}[] __attribute__((__aligned__(8))) = \"\\\n"
            f"{_elf_bytes_literal(data)}\";\n")


def _attach_code(p) -> str:
    """bpftool's per-program attach for light skeletons (auto-attach where it can)."""
    from harness.uapi import AttachType, ProgType
    if p.prog_type == ProgType.RAW_TRACEPOINT:
        return f"\tint fd = skel_raw_tracepoint_open(\"{p.attach_target}\", prog_fd);\n"
    if p.prog_type in (ProgType.TRACING, ProgType.LSM) and p.expected_attach_type != AttachType.TRACE_ITER:
        if p.expected_attach_type == AttachType.TRACE_RAW_TP:
            return "\tint fd = skel_raw_tracepoint_open(NULL, prog_fd);\n"
        return f"\tint fd = skel_link_create(prog_fd, 0, {int(p.expected_attach_type)});\n"
    return "\tint fd = ((void)prog_fd, 0); /* auto-attach not supported */\n"


def gen_light_skeleton(obj: Object, loader, obj_name: str | None = None) -> str:
    """`bpftool gen skeleton -L`: the loader program and blob embedded, images prepared
    at open, and after load per-CPU images protected (skel_protect_map_data) while
    mmapable maps are re-mapped onto the kernel map (skel_finalize_map_data)."""
    name = obj_name or obj.name
    guard = f"__{_sanitize_upper(name)}_SKEL_H__"
    maps = [m for m in obj.maps if m.ident is not None]
    progs = [p for p in obj.programs if p.name in loader.prog_names]
    ct = CTypes(obj.btf) if obj.btf is not None else None
    data_maps, sections, asserts = [], [], []
    for m in maps:
        if ct is not None and is_skel_data(m) and obj.btf.type_by_id(m.btf_value_type_id).kind == K.DATASEC:
            body, a = _datasec_struct(obj, ct, m, name)
            sections.append(body)
            data_maps.append(m)
            asserts += [(m.ident, var, size) for var, size in a]
    o = []
    w = o.append
    w("/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */")
    w("/* THIS FILE IS AUTOGENERATED BY python -m harness gen skeleton -L (bpftool's layout)! */")
    w(f"#ifndef {guard}\n#define {guard}\n\n#include <bpf/skel_internal.h>\n")
    if ct is not None and ct.order:
        w(ct.definitions() + "\n")
    w(f"struct {name} {{\n\tstruct bpf_loader_ctx ctx;")
    w("\tstruct {")
    for m in maps:
        w(f"\t\tstruct bpf_map_desc {m.ident};")
    w("\t} maps;\n\tstruct {")
    for p in progs:
        w(f"\t\tstruct bpf_prog_desc {p.name};")
    w("\t} progs;\n\tstruct {")
    for p in progs:
        w(f"\t\tint {p.name}_fd;")
    w("\t} links;")
    for s in sections:
        w(s)
    w("};\n")
    for p in progs:
        w(f"static inline int\n{name}__{p.name}__attach(struct {name} *skel)\n{{\n"
          f"\tint prog_fd = skel->progs.{p.name}.prog_fd;\n{_attach_code(p)}\n"
          f"\tif (fd > 0)\n\t\tskel->links.{p.name}_fd = fd;\n\treturn fd;\n}}\n")
    w(f"static inline int\n{name}__attach(struct {name} *skel)\n{{\n\tint ret = 0;\n")
    for p in progs:
        w(f"\tret = ret < 0 ? ret : {name}__{p.name}__attach(skel);")
    w("\treturn ret < 0 ? ret : 0;\n}\n")
    w(f"static inline void\n{name}__detach(struct {name} *skel)\n{{")
    for p in progs:
        w(f"\tskel_closenz(skel->links.{p.name}_fd);")
    w("}\n")
    w(f"static void\n{name}__destroy(struct {name} *skel)\n{{\n\tif (!skel)\n\t\treturn;\n\t{name}__detach(skel);")
    for p in progs:
        w(f"\tskel_closenz(skel->progs.{p.name}.prog_fd);")
    for m in maps:
        w(f"\tskel_closenz(skel->maps.{m.ident}.map_fd);")
    for m in data_maps:
        w(f"\tskel_free_map_data(skel->{m.ident}, skel->maps.{m.ident}.initial_value, {_mmap_sz(m)});")
    w("\tskel_free(skel);\n}\n")
    w(f"static inline struct {name} *\n{name}__open(void)\n{{\n\tstruct {name} *skel;\n\n"
      f"\tskel = skel_alloc(sizeof(*skel));\n\tif (!skel)\n\t\tgoto cleanup;\n"
      "\tskel->ctx.sz = (void *)&skel->links - (void *)skel;")
    for m in data_maps:
        img = m.image.read(0, m.value_size) if m.image is not None else bytes(m.value_size)
        w("\t{\n" + _blob("data", img).replace("\n\t", "\n\t\t").replace("\tstatic", "\t\tstatic", 1) +
          f"\t\tskel->{m.ident} = skel_prep_map_data((void *)data, {_mmap_sz(m)},\n"
          "\t\t\t\t\t\tsizeof(data) - 1);\n"
          f"\t\tif (!skel->{m.ident})\n\t\t\tgoto cleanup;\n"
          f"\t\tskel->maps.{m.ident}.initial_value = (__u64) (long) skel->{m.ident};\n\t}}")
    w(f"\treturn skel;\ncleanup:\n\t{name}__destroy(skel);\n\treturn NULL;\n}}\n")
    w(f"static inline int\n{name}__load(struct {name} *skel)\n{{\n"
      "\tstruct bpf_load_and_run_opts opts = {};\n\tint err;\n" +
      _blob("opts_data", loader.data) + _blob("opts_insn", encode(loader.insns)) +
      "\topts.ctx = (struct bpf_loader_ctx *)skel;\n\topts.data_sz = sizeof(opts_data) - 1;\n"
      "\topts.data = (void *)opts_data;\n\topts.insns_sz = sizeof(opts_insn) - 1;\n"
      "\topts.insns = (void *)opts_insn;\n\n\terr = bpf_load_and_run(&opts);\n\tif (err < 0)\n\t\treturn err;")
    for m in data_maps:
        sz = _mmap_sz(m)
        if m.type == MapType.PERCPU_ARRAY:
            w(f"\terr = skel_protect_map_data(skel->{m.ident}, &skel->maps.{m.ident}.initial_value, {sz});\n"
              f"\tif (err)\n\t\treturn err;\n#ifdef __KERNEL__\n\tskel->{m.ident} = NULL;\n#endif")
            continue
        prot = "PROT_READ" if m.map_flags & 0x80 else "PROT_READ | PROT_WRITE"
        w(f"\tskel->{m.ident} = skel_finalize_map_data(&skel->maps.{m.ident}.initial_value, {sz},\n"
          f"\t\t\t{prot}, skel->maps.{m.ident}.map_fd);\n\tif (!skel->{m.ident})\n\t\treturn -ENOMEM;")
    w("\treturn 0;\n}\n")
    w(f"static inline struct {name} *\n{name}__open_and_load(void)\n{{\n\tstruct {name} *skel;\n\n"
      f"\tskel = {name}__open();\n\tif (!skel)\n\t\treturn NULL;\n\tif ({name}__load(skel)) {{\n"
      f"\t\t{name}__destroy(skel);\n\t\treturn NULL;\n\t}}\n\treturn skel;\n}}\n")
    w(f"__attribute__((unused)) static void\n{name}__assert(struct {name} *s __attribute__((unused)))\n{{")
    w("#ifdef __cplusplus\n#define _Static_assert static_assert\n#endif")
    for ident, var, size in asserts:
        w(f"\t_Static_assert(sizeof(s->{ident}->{var}) == {size}, \"unexpected size of '{var}'\");")
    w("#ifdef __cplusplus\n#undef _Static_assert\n#endif\n}\n")
    w(f"#endif /* {guard} */")
    return "\n".join(o) + "\n"
