"""Global functions (BTF_FUNC_GLOBAL subprograms): verified on their own, from their BTF
prototype, not in the caller's context.

A call to a global function checks the arguments against the prototype (a scalar for an
integer or enum, the context for a pointer to the program type's context struct or an
`arg:ctx` tag, readable memory of the pointee's size for other pointers), prints
`Func#N ('name') is global and assumed valid.`, clobbers R1-R5 and gives R0 an unknown
scalar: the callee is not entered (btf_check_subprog_call, check_func_call).  After the
main program, every global function that was called is verified once with a fresh state
whose arguments are what the prototype promises (do_check_subprogs), so a global function
must not rely on what one caller passes.  Static functions (and programs without BTF
func_info) are still verified inline, in the caller's frame.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from harness.kernel.verifier.regs import MAYBE_NULL, PTR_TO_CTX, PTR_TO_MEM, PTR_TO_STACK, SCALAR
from harness.kernel.verifier.state import Frame, VState
from harness.uapi import ProgType

BTF_FUNC_GLOBAL = 1
MAX_ARGS = 5

#: btf_get_prog_ctx_type: the struct a program type's context pointer has in BTF
CTX_STRUCT = {
    ProgType.SOCKET_FILTER: "__sk_buff", ProgType.SCHED_CLS: "__sk_buff",
    ProgType.SCHED_ACT: "__sk_buff", ProgType.CGROUP_SKB: "__sk_buff",
    ProgType.LWT_IN: "__sk_buff", ProgType.LWT_OUT: "__sk_buff", ProgType.LWT_XMIT: "__sk_buff",
    ProgType.LWT_SEG6LOCAL: "__sk_buff", ProgType.SK_SKB: "__sk_buff",
    ProgType.XDP: "xdp_md", ProgType.KPROBE: "pt_regs", ProgType.PERF_EVENT: "bpf_perf_event_data",
    ProgType.RAW_TRACEPOINT: "bpf_raw_tracepoint_args", ProgType.CGROUP_SOCK: "bpf_sock",
    ProgType.SOCK_OPS: "bpf_sock_ops", ProgType.SK_MSG: "sk_msg_md",
    ProgType.CGROUP_SOCK_ADDR: "bpf_sock_addr", ProgType.SK_LOOKUP: "bpf_sk_lookup",
    ProgType.CGROUP_DEVICE: "bpf_cgroup_dev_ctx", ProgType.CGROUP_SYSCTL: "bpf_sysctl",
    ProgType.CGROUP_SOCKOPT: "bpf_sockopt", ProgType.FLOW_DISSECTOR: "__sk_buff",
}


@dataclass
class GlobalFunc:
    name: str
    args: list            # ("scalar",) | ("ctx",) | ("mem", size, nullable)
    error: str = ""       # why the prototype cannot be used (the kernel's message)
    called: bool = False
    verified: bool = False


def _strip(btf, type_id: int) -> int:
    """Skip typedefs and modifiers (btf_type_skip_modifiers)."""
    from harness.elf import btf_kinds as K
    seen = 0
    while type_id and seen < 32:
        t = btf.type_by_id(type_id)
        if t.kind not in K.MODIFIERS:
            break
        type_id = t.type
        seen += 1
    return type_id


def prototype(btf, func_type_id: int, prog_type: int) -> GlobalFunc:
    """btf_prepare_func_args for a global function."""
    from harness.elf import btf_kinds as K
    func = btf.type_by_id(func_type_id)
    name = btf.name_of(func)
    proto = btf.type_by_id(func.type)
    if len(proto.members) > MAX_ARGS:
        return GlobalFunc(name, [], f"Global function {name}() with {len(proto.members)} > "
                                    f"{MAX_ARGS} args. Buggy compiler.")
    ret = _strip(btf, proto.type)
    if ret and btf.type_by_id(ret).kind not in (K.INT, K.ENUM, K.ENUM64):
        return GlobalFunc(name, [], f"Global function {name}() doesn't return scalar. "
                                    f"Only those are supported.")
    args = []
    for n, param in enumerate(proto.members):
        tags = set(btf.decl_tags(func_type_id, n))
        tid = _strip(btf, param.type)
        t = btf.type_by_id(tid) if tid else None
        if t is not None and t.kind in (K.INT, K.ENUM, K.ENUM64):
            args.append(("scalar",))
            continue
        if t is not None and t.kind == K.PTR:
            pointee = _strip(btf, t.type)
            pt = btf.type_by_id(pointee) if pointee else None
            if "arg:ctx" in tags or (pt is not None and pt.kind == K.STRUCT
                                     and btf.name_of(pt) == CTX_STRUCT.get(prog_type)):
                args.append(("ctx",))
                continue
            size = None
            if pt is not None:
                try:
                    size = btf.size_of(pointee)
                except Exception:           # unsized (FWD, FUNC, ...): the message below
                    size = None
            if not size:
                what = f"{pt.kind_name} {btf.name_of(pt)}" if pt is not None else "UNKNOWN "
                return GlobalFunc(name, [], f"arg#{n} reference type('{what}') size cannot be "
                                            f"determined: -22")
            args.append(("mem", size, "arg:nonnull" not in tags))
            continue
        return GlobalFunc(name, [], f"arg#{n} type is not supported")
    return GlobalFunc(name, args)


class GlobalFuncChecks:
    """Mixin of the Verifier."""

    def find_global_funcs(self) -> dict[int, GlobalFunc]:
        """subprog index -> GlobalFunc, from BTF func_info (empty without BTF)."""
        out: dict[int, GlobalFunc] = {}
        btfobj = getattr(self.ctx, "btf", None)
        btf = getattr(btfobj, "btf", None)
        info = dict(self.ctx.attr.func_info or ())
        if btf is None or not info:
            return out
        for n, start in enumerate(self.subprogs):
            if n == 0 or start not in info:
                continue
            try:
                t = btf.type_by_id(info[start])
            except Exception:
                continue
            if t.linkage == BTF_FUNC_GLOBAL:
                out[n] = prototype(btf, info[start], self.prog_type)
        return out

    def check_global_call(self, idx: int, sub: int) -> int:
        """A call to a global function: arguments against the prototype, then R0 unknown."""
        g = self.globals[sub]
        st = self.st
        if st.lock:
            self.fail(errno.EINVAL, "global function calls are not allowed while holding a lock,\n"
                                    "use static function instead")
        regs = st.cur.regs
        problem = g.error or self._global_arg_problem(g, regs)
        if problem:
            self.log.write(problem + "\n")
            self.fail(errno.EINVAL, f"Caller passes invalid args into func#{sub} ('{g.name}')")
        self.log.write(f"Func#{sub} ('{g.name}') is global and assumed valid.\n")
        g.called = True
        for r in range(1, 6):
            regs[r].mark_not_init()
            self.scratch_reg(r)
        regs[0].mark_unknown()
        self.scratch_reg(0)
        return idx + 1

    def _global_arg_problem(self, g: GlobalFunc, regs) -> str:
        for n, arg in enumerate(g.args):
            regno = n + 1
            reg = regs[regno]
            self.check_reg_read(regno)
            if arg[0] == "scalar":
                if reg.type != SCALAR:
                    return f"R{regno} is not a scalar"
            elif arg[0] == "ctx":
                if reg.type != PTR_TO_CTX:
                    return f"arg#{n} expects pointer to ctx"
            else:
                _, size, nullable = arg
                if reg.type == SCALAR and reg.var == (0, 0) and nullable:
                    continue
                if reg.flags & MAYBE_NULL and not nullable:
                    return f"arg#{n} is expected to be non-NULL"
                saved = reg.flags
                reg.flags &= ~MAYBE_NULL
                try:
                    self.check_helper_mem(regno, size, False, False)
                finally:
                    reg.flags = saved
        return ""

    def do_check_subprogs(self) -> None:
        """Verify each called global function on its own, until none is left."""
        again = True
        while again:
            again = False
            for sub, g in sorted(self.globals.items()):
                if not g.called or g.verified:
                    continue
                self.log.write(f"Validating {g.name}() func#{sub}...\n")
                self.verify_global(sub, g)
                self.log.write(f"Func#{sub} ('{g.name}') is safe for any args that match its prototype\n")
                g.verified = True
                again = True

    def verify_global(self, sub: int, g: GlobalFunc) -> None:
        st = VState()
        f = Frame(0, sub, -1)
        f.regs[10].mark_ptr(PTR_TO_STACK)
        for n, arg in enumerate(g.args):
            r = f.regs[n + 1]
            if arg[0] == "scalar":
                r.mark_unknown()
            elif arg[0] == "ctx":
                r.mark_ptr(PTR_TO_CTX)
            else:
                r.mark_ptr(PTR_TO_MEM, MAYBE_NULL if arg[2] else 0)
                r.mem_size = arg[1]
                if arg[2]:
                    r.id = self.new_id()
        st.frames.append(f)
        st.insn_idx = self.subprogs[sub]
        self.reset_exploration()
        self.st = st
        self.verifying = sub
        self.scratch_all()
        self.do_check()
        if not self.log.level & 2:
            self.log.reset(0)


__all__ = ["GlobalFunc", "GlobalFuncChecks", "prototype"]
