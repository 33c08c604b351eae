"""Calls: helpers (checked against the shared prototype table,
harness/kernel/helpers/protos.py), bpf-to-bpf calls (a new frame in the caller's context),
callbacks (bpf_loop, bpf_for_each_map_elem) and reference tracking (ring buffer records).
"""

from __future__ import annotations

import errno

from harness.kernel.helpers.ids import FUNC_NAMES, func_id_name
from harness.kernel.helpers.protos import func_proto, license_is_gpl_compatible, split_type
from harness.kernel.verifier.regs import (
    CONST_PTR_TO_MAP, MAYBE_NULL, MEM_RDONLY, MEM_RINGBUF, NOT_INIT, PKT_TYPES, PTR_TO_CTX,
    PTR_TO_FUNC, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_STACK, SCALAR, Reg, s64,
)
from harness.kernel.verifier.memory import BPF_F_RDONLY_PROG, BPF_MAX_VAR_OFF
from harness.kernel.verifier.state import Frame, VState
from harness.kernel.verifier.vlog import LEVEL2
from harness.uapi import MapType

MAX_CALL_FRAMES = 8
FUNC_MAX_ID = max(FUNC_NAMES) + 1

MEM_TYPES = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
_MEM_OK = {PTR_TO_STACK, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, 16} | set(PKT_TYPES)

#: helpers restricted to some map types (check_map_func_compatibility, helper side)
FUNC_MAPS = {
    "tail_call": {MapType.PROG_ARRAY},
    "perf_event_read": {MapType.PERF_EVENT_ARRAY}, "perf_event_output": {MapType.PERF_EVENT_ARRAY},
    "perf_event_read_value": {MapType.PERF_EVENT_ARRAY}, "skb_output": {MapType.PERF_EVENT_ARRAY},
    "xdp_output": {MapType.PERF_EVENT_ARRAY},
    "ringbuf_output": {MapType.RINGBUF}, "ringbuf_reserve": {MapType.RINGBUF},
    "ringbuf_query": {MapType.RINGBUF},
    "get_stackid": {MapType.STACK_TRACE},
    "map_lookup_percpu_elem": {MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH},
    "map_push_elem": {MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER},
    "map_pop_elem": {MapType.QUEUE, MapType.STACK},
    "map_peek_elem": {MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER},
    "for_each_map_elem": {MapType.HASH, MapType.LRU_HASH, MapType.ARRAY, MapType.PERCPU_HASH,
                          MapType.LRU_PERCPU_HASH, MapType.PERCPU_ARRAY},
    "redirect_map": {MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP},
    "get_local_storage": {MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE},
}
#: map types restricted to some helpers (check_map_func_compatibility, map side)
MAP_FUNCS = {
    MapType.PROG_ARRAY: {"tail_call"},
    MapType.PERF_EVENT_ARRAY: {"perf_event_read", "perf_event_output", "skb_output",
                               "perf_event_read_value", "xdp_output"},
    MapType.RINGBUF: {"ringbuf_output", "ringbuf_reserve", "ringbuf_query",
                      "ringbuf_reserve_dynptr"},
    MapType.USER_RINGBUF: {"user_ringbuf_drain"},
    MapType.STACK_TRACE: {"get_stackid"},
    MapType.QUEUE: {"map_peek_elem", "map_pop_elem", "map_push_elem"},
    MapType.STACK: {"map_peek_elem", "map_pop_elem", "map_push_elem"},
    MapType.BLOOM_FILTER: {"map_peek_elem", "map_push_elem"},
    MapType.CGROUP_STORAGE: {"get_local_storage"},
    MapType.PERCPU_CGROUP_STORAGE: {"get_local_storage"},
    MapType.ARRAY_OF_MAPS: {"map_lookup_elem"},
    MapType.HASH_OF_MAPS: {"map_lookup_elem"},
}


FUNC_SPIN_UNLOCK = 94


class CallChecks:
    """Mixin of the Verifier."""

    # --- helpers -------------------------------------------------------------------------
    def check_helper_call(self, idx: int, func_id: int) -> None:
        if self.st.lock and func_id != FUNC_SPIN_UNLOCK:
            self.fail(errno.EINVAL, "function calls are not allowed while holding a lock")
        if not 0 <= func_id < FUNC_MAX_ID:
            self.fail(errno.EINVAL, f"invalid func {func_id_name(func_id)}#{func_id}")
        proto = func_proto(func_id, self.prog_type, self.attach_type, self.privileged)
        if proto is None:
            name = func_id_name(func_id) if func_id else "bpf_unspec"
            self.fail(errno.EINVAL, f"program of this type cannot use helper {name}#{func_id}")
        if proto.gpl_only and not license_is_gpl_compatible(self.license):
            self.fail(errno.EINVAL, "cannot call GPL-restricted function from non-GPL compatible program")
        regs = self.st.cur.regs
        meta = {"map": None, "release": 0, "alloc_size": None, "callback": None, "cb_ctx": None,
                "raw": []}
        for n, arg in enumerate(proto.args):
            self.check_func_arg(n + 1, arg, proto.args, meta, proto)
        if proto.name == "tail_call" and meta["map"] is not None \
                and meta["map"].map_type != MapType.PROG_ARRAY:
            self.fail(errno.EINVAL, "expected prog array map for tail call", newline=False)
        if proto.name == "tail_call" and meta["map"] is not None:
            r3 = regs[3]
            if r3.type == SCALAR and r3.var[1] == 0 and r3.var[0] < meta["map"].max_entries:
                self.mark_precise(3)       # record_func_key: a constant index is relied on
        self.check_map_func(meta["map"], proto)
        name = proto.name
        # ring buffer release
        if meta["release"]:
            self.release_reference(meta["release"])
        # uninitialised memory a helper fills in
        for regno, size in meta["raw"]:
            self.check_helper_mem(regno, size, True, True)
        callback = meta["callback"]
        pre = self.st.copy() if callback is not None else None   # the caller as the callback sees it
        if name == "loop":
            # update_loop_inline_state: a zero flags argument is relied on (inlining);
            # the iteration count decides when the callback loop ends
            r4 = regs[4]
            if r4.type == SCALAR and r4.var == (0, 0):
                self.mark_precise(4)
            if regs[1].type == SCALAR:
                self.mark_precise(1)
        for r in range(1, 6):
            regs[r].mark_not_init()
            self.scratch_reg(r)
        r0 = regs[0]
        base, flags = split_type(proto.ret)
        if base == "RET_INTEGER":
            r0.mark_unknown()
            if name == "get_smp_processor_id":
                # do_refine_retval_range: a CPU number is below nr_cpu_ids, so jumps on it
                # can be decided (and their dead branches skipped) like the kernel does
                top = self.ctx.config.nr_cpus - 1
                r0.umin = r0.u32min = r0.smin = r0.s32min = 0
                r0.umax = r0.u32max = r0.smax = r0.s32max = top
                r0.sync()
        elif base == "RET_VOID":
            r0.mark_not_init()
        elif base == "RET_PTR_TO_MAP_VALUE_OR_NULL":
            if meta["map"] is None:
                self.fail(errno.EINVAL, f"kernel subsystem misconfigured verifier")
            m = meta["map"]
            key = meta.get("const_key")
            if (proto.name == "map_lookup_elem" and m.map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY)
                    and key is not None and 0 <= s64(key) < m.max_entries):
                r0.mark_ptr(PTR_TO_MAP_VALUE)          # constant in-range key: never NULL
            else:
                r0.mark_ptr(PTR_TO_MAP_VALUE, MAYBE_NULL)
                r0.id = self.new_id()
            r0.map = m
        elif base == "RET_PTR_TO_RINGBUF_MEM_OR_NULL":
            r0.mark_ptr(PTR_TO_MEM, MEM_RINGBUF | MAYBE_NULL)
            r0.mem_size = meta["alloc_size"] or 0
            self.new_id()                       # the or-null id, replaced by the reference id
            r0.id = self.new_id()
            r0.ref_obj_id = r0.id
            self.st.refs.append((r0.id, idx))
        else:
            r0.mark_unknown()
        self.scratch_reg(0)
        if callback is not None:
            self.push_callback(idx, name, callback, meta, pre)

    def check_func_arg(self, regno: int, arg: str, args, meta: dict, proto) -> None:
        base, flags = split_type(arg)
        regs = self.st.cur.regs
        reg = regs[regno]
        self.check_reg_read(regno)
        if base == "ARG_ANYTHING":
            if self.is_pointer_value(reg):
                self.fail(errno.EACCES, f"R{regno} leaks addr into helper function")
            return
        is_null = reg.type == SCALAR and reg.var == (0, 0)
        may_null = "PTR_MAYBE_NULL" in flags or base.endswith("_OR_NULL")
        if reg.type in PKT_TYPES and not self.pkt_read_ok():
            self.fail(errno.EACCES, "helper access to the packet is not allowed")
        if base == "ARG_CONST_MAP_PTR":
            self.expect(regno, reg, {CONST_PTR_TO_MAP}, "map_ptr")
            meta["map"] = reg.map
        elif base == "ARG_PTR_TO_MAP_KEY":
            self.expect(regno, reg, _MEM_OK, MEM_TYPES)
            if meta["map"] is None:
                self.fail(errno.EACCES, "invalid map_ptr to access map->key")
            self.check_helper_mem(regno, meta["map"].key_size, False, False)
            if meta["map"].map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
                meta["const_key"] = self.const_stack_key(reg, meta["map"].key_size)
        elif base == "ARG_PTR_TO_MAP_VALUE":
            if may_null and is_null:
                return
            self.expect(regno, reg, _MEM_OK, MEM_TYPES)
            if meta["map"] is None:
                self.fail(errno.EACCES, "invalid map_ptr to access map->value")
            if "MEM_UNINIT" in flags:
                meta["raw"].append((regno, meta["map"].value_size))
                self.check_helper_mem(regno, meta["map"].value_size, True, False)
            else:
                self.check_helper_mem(regno, meta["map"].value_size, False, False)
        elif base in ("ARG_PTR_TO_MEM", "ARG_PTR_TO_UNINIT_MEM"):
            if may_null and is_null:
                return
            ok = set(_MEM_OK)
            if reg.type == PTR_TO_CTX and self.prog_type == 31:
                ok.add(PTR_TO_CTX)
            self.expect(regno, reg, ok, MEM_TYPES, rdonly_ok="MEM_RDONLY" in flags)
        elif base in ("ARG_CONST_SIZE", "ARG_CONST_SIZE_OR_ZERO"):
            self.check_mem_size(regno, reg, base == "ARG_CONST_SIZE_OR_ZERO", args, meta)
        elif base == "ARG_CONST_ALLOC_SIZE_OR_ZERO":
            if reg.type != SCALAR or reg.var[1]:
                self.fail(errno.EACCES, f"R{regno} is not a known constant'")
            meta["alloc_size"] = reg.var[0]
            self.mark_precise(regno)
        elif base == "ARG_PTR_TO_CTX":
            self.expect(regno, reg, {PTR_TO_CTX}, "ctx")
            if reg.off or reg.var != (0, 0):
                self.fail(errno.EACCES, f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
        elif base == "ARG_PTR_TO_FUNC":
            self.expect(regno, reg, {PTR_TO_FUNC}, "func")
            meta["callback"] = reg.subprog
        elif base == "ARG_PTR_TO_STACK_OR_NULL":
            if is_null:
                meta["cb_ctx"] = None
                return
            self.expect(regno, reg, {PTR_TO_STACK}, "fp")
            meta["cb_ctx"] = reg.copy()
        elif base == "ARG_PTR_TO_CONST_STR":
            self.check_const_str(regno, reg)
        elif base == "ARG_PTR_TO_RINGBUF_MEM":
            if not (reg.type == PTR_TO_MEM and reg.flags & MEM_RINGBUF) or reg.flags & MAYBE_NULL:
                self.fail(errno.EACCES, f"R{regno} type={reg.type_str()} expected=ringbuf_mem")
            if reg.off or reg.var != (0, 0):
                self.fail(errno.EINVAL, f"R{regno} must have zero offset when passed to release func "
                                        f"or trusted arg to kfunc")
            if not reg.ref_obj_id:
                self.fail(errno.EINVAL, f"R{regno} must be referenced when passed to release function")
            meta["release"] = reg.ref_obj_id
        elif base == "ARG_PTR_TO_SPIN_LOCK":
            self.expect(regno, reg, {PTR_TO_MAP_VALUE}, "map_value, ptr_")
            self.check_spin_lock_arg(regno, reg, proto.name == "spin_lock")
        # other argument kinds (BTF ids) are accepted as long as the register is set

    def check_spin_lock_arg(self, regno: int, reg: Reg, lock: bool) -> None:
        """process_spin_lock: the lock must be a map value's bpf_spin_lock at a constant
        offset; at most one is held (state.lock), and unlock releases that one."""
        if reg.var[1]:
            self.fail(errno.EINVAL, f"R{regno} doesn't have constant offset. bpf_spin_lock has to be "
                                    f"at the constant offset")
        m = reg.map
        if m.btf is None:
            self.fail(errno.EINVAL, f"map '{m.name}' has to have BTF in order to use bpf_spin_lock")
        if m.spin_lock_off is None:
            self.fail(errno.EINVAL, f"map '{m.name}' has no valid bpf_spin_lock")
        off = reg.var[0] + reg.off
        if off != m.spin_lock_off:
            self.fail(errno.EINVAL, f"off {off} doesn't point to 'struct bpf_spin_lock' that is at "
                                    f"{m.spin_lock_off}")
        if lock:
            if self.st.lock:
                self.fail(errno.EINVAL, "Locked two spin locks are not allowed")
            self.st.lock = id(m)
            return
        if not self.st.lock:
            self.fail(errno.EINVAL, "bpf_spin_unlock without taking a lock")
        if self.st.lock != id(m):
            self.fail(errno.EINVAL, "bpf_spin_unlock of different lock")
        self.st.lock = 0

    def const_stack_key(self, reg: Reg, size: int) -> int | None:
        """get_constant_map_key: a key the verifier knows (stack bytes known zero, or a
        constant spilled with exactly the key's size).  A privileged verifier only; the
        slot becomes precise, since the lookup's result (never NULL) depends on it."""
        from harness.kernel.verifier.state import STACK_SPILL, STACK_ZERO
        if not self.privileged or reg.type != PTR_TO_STACK or reg.var[1]:
            return None
        start = reg.var[0] - (1 << 64) if reg.var[0] >> 63 else reg.var[0]
        start += reg.off
        frame = self.st.frames[reg.frameno]
        slot = -start - 1
        spi, off = slot // 8, slot % 8
        if spi >= len(frame.stack):
            return None
        types, spilled = frame.stack[spi]
        zeros = 0
        i = off
        while i >= 0 and types[i] == STACK_ZERO:
            zeros += 1
            i -= 1
        if zeros >= size:
            return 0
        if spilled is None or types[7] != STACK_SPILL or spilled.type != SCALAR:
            return None
        spill = 0
        i = off
        while i >= 0 and types[i] == STACK_SPILL:
            spill += 1
            i -= 1
        if spill != size or spilled.var[1]:
            return None
        self.mark_precise_slot(reg.frameno, spi)
        return spilled.var[0]

    def expect(self, regno: int, reg: Reg, types: set, names: str, rdonly_ok: bool = True) -> None:
        bad = reg.type not in types or reg.flags & MAYBE_NULL
        if reg.flags & MEM_RDONLY and not rdonly_ok:
            bad = True
        if bad:
            self.fail(errno.EACCES, f"R{regno} type={reg.type_str()} expected={names}")

    def check_mem_size(self, regno: int, reg: Reg, zero_ok: bool, args, meta: dict) -> None:
        """check_mem_size_reg: the size argument bounds the previous (memory) argument."""
        mem_regno = regno - 1
        if reg.type != SCALAR:
            self.fail(errno.EACCES, f"R{regno} type={reg.type_str()} expected=scalar")
        if reg.smin < 0:
            self.fail(errno.EACCES, f"R{regno} min value is negative, either use unsigned or 'var &= const'")
        if reg.umin == 0 and not zero_ok:
            self.fail(errno.EACCES, f"R{regno} invalid zero-sized read: u64=[{reg.umin},{reg.umax}]")
        if reg.umax >= BPF_MAX_VAR_OFF:
            self.fail(errno.EACCES, f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
        mem_arg = args[mem_regno - 1]
        mbase, mflags = split_type(mem_arg)
        mreg = self.st.cur.regs[mem_regno]
        if mreg.type == SCALAR and mreg.var == (0, 0) and ("PTR_MAYBE_NULL" in mflags):
            if reg.umax:
                self.fail(errno.EACCES, f"R{mem_regno} type=scalar expected={MEM_TYPES}")
            self.mark_precise(regno)
            return
        write = mbase == "ARG_PTR_TO_UNINIT_MEM" or "MEM_UNINIT" in mflags
        if write:
            meta["raw"].append((mem_regno, reg.umax))
        self.check_helper_mem(mem_regno, reg.umax, write, zero_ok)
        self.mark_precise(regno)          # after the access checks, as check_mem_size_reg

    def check_const_str(self, regno: int, reg: Reg) -> None:
        """ARG_PTR_TO_CONST_STR: a NUL-terminated string in a frozen read-only map."""
        self.expect(regno, reg, {PTR_TO_MAP_VALUE}, "map_value")
        m = reg.map
        if m.map_type == MapType.PERCPU_ARRAY:
            self.fail(errno.EACCES, f"R{regno} points to percpu_array map which cannot be used as const string")
        if not (m.map_flags & BPF_F_RDONLY_PROG and getattr(m, "frozen", False)):
            self.fail(errno.EACCES, f"R{regno} does not point to a readonly map'")
        if reg.var[1]:
            self.fail(errno.EACCES, f"R{regno} is not a constant address'")
        if m.map_type != MapType.ARRAY:
            self.fail(errno.EINVAL, "no direct value access support for this map type")
        off = reg.off + reg.var[0]
        self.check_region(regno, reg, reg.off, 1, m.value_size, False)
        try:
            data = bytes(m.direct_value_addr(0))
        except Exception:
            self.fail(errno.EACCES, "direct value access on string failed")
        if b"\0" not in data[off:m.value_size]:
            self.fail(errno.EINVAL, "string is not zero-terminated")

    def check_map_func(self, bpf_map, proto) -> None:
        name = proto.name
        if bpf_map is None:
            return
        mt = bpf_map.map_type
        allowed_maps = FUNC_MAPS.get(name)
        allowed_funcs = MAP_FUNCS.get(mt)
        if (allowed_maps is not None and mt not in allowed_maps) or \
                (allowed_funcs is not None and name not in allowed_funcs):
            self.fail(errno.EINVAL, f"cannot pass map_type {mt} into func {func_id_name(proto.func_id)}#{proto.func_id}")

    def release_reference(self, ref_id: int) -> None:
        st = self.st
        st.refs = [r for r in st.refs if r[0] != ref_id]
        for r in st.all_regs():
            if r.ref_obj_id == ref_id:
                if self.privileged:
                    r.mark_unknown()
                else:
                    r.mark_not_init()

    # --- bpf-to-bpf calls and callbacks --------------------------------------------------
    def push_frame(self, idx: int, subprog: int) -> Frame:
        st = self.st
        if len(st.frames) >= MAX_CALL_FRAMES:
            self.fail(errno.E2BIG, f"the call stack of {len(st.frames) + 1} frames is too deep")
        callee = Frame(len(st.frames), subprog, idx)
        callee.regs[10].mark_ptr(PTR_TO_STACK)
        callee.regs[10].frameno = callee.frameno
        st.frames.append(callee)
        return callee

    def check_func_call(self, idx: int, target: int) -> int:
        """Enter a static subprogram: R1-R5 carry over; returns the next insn index.  A
        global one is not entered (globalfn.py)."""
        sub = self.subprog_of[target]
        if sub in self.globals:
            return self.check_global_call(idx, sub)
        caller = self.st.cur
        callee = self.push_frame(idx, sub)
        for r in range(1, 6):
            callee.regs[r] = caller.regs[r].copy()
        for r in range(0, 6):
            caller.regs[r].mark_not_init()
        self.scratch_all()
        if self.log.enabled:
            self.log.write("caller:\n" + caller.fmt(True, None, None) + "\n")
            self.log.write("callee:\n" + callee.fmt(True, None, None) + "\n")
        return target

    def push_callback(self, idx: int, helper: str, subprog_start: int, meta: dict,
                      pre: VState) -> None:
        """push_callback_call: the callback is a path of its own, pushed to be explored
        later from the caller's state at the call; this path goes on after the helper.  At
        the callback's exit, that path comes back to the call (prepare_func_exit), which
        calls the callback again until a state repeats (is_state_visited) or bpf_loop's
        count is used up: callbacks are verified as if called any number of times."""
        caller_now = self.st.cur
        if helper == "loop":
            r1 = pre.cur.regs[1]
            if not pre.cur.callback_depth < r1.umax:
                caller_now.callback_depth = 0
                if self.log.level & LEVEL2:
                    self.log.write(f"frame{len(pre.frames) - 1} bpf_loop iteration limit reached\n")
                return
        sub = self.subprog_of[subprog_start]
        callee = Frame(len(pre.frames), sub, idx)
        callee.regs[10].mark_ptr(PTR_TO_STACK)
        callee.regs[10].frameno = callee.frameno
        callee.callback = helper
        ctx = meta.get("cb_ctx")
        if helper == "loop":
            callee.regs[1].mark_unknown()               # the index (set_loop_callback_state)
            if ctx is not None:
                callee.regs[2].assign(ctx)
            else:
                callee.regs[2].mark_const(0)
        elif helper == "for_each_map_elem":
            m = meta["map"]
            callee.regs[1].mark_ptr(CONST_PTR_TO_MAP)
            callee.regs[1].map = m
            callee.regs[2].mark_ptr(PTR_TO_MAP_KEY)
            callee.regs[2].map = m
            callee.regs[3].mark_ptr(PTR_TO_MAP_VALUE)
            callee.regs[3].map = m
            if ctx is not None:
                callee.regs[4].assign(ctx)
            else:
                callee.regs[4].mark_const(0)
        if len(pre.frames) >= MAX_CALL_FRAMES:
            self.fail(errno.E2BIG, f"the call stack of {len(pre.frames) + 1} frames is too deep")
        pre.cur.callback_depth += 1
        pre.frames.append(callee)
        caller_now.callback_depth = 0
        self.push_branch(pre, idx, subprog_start)

    def prepare_func_exit(self, idx: int) -> int:
        st = self.st
        callee = st.frames.pop()
        caller = st.cur
        r0 = callee.regs[0]
        if callee.callback:
            st.frames.append(callee)                 # R0 is the callee's: mark it there
            if r0.type == SCALAR:
                self.mark_precise(0)
            st.frames.pop()
            self.check_retval(r0, (0, 1), "At callback return")
            # back to the helper call with the caller as it was: the loop goes on there
            self.scratch_all()
            if self.log.enabled:
                self.log.write("returning from callee:\n" + callee.fmt(True, None, None) + "\n")
                self.log.write(f"to caller at {callee.callsite}:\n" + caller.fmt(True, None, None) + "\n")
            self.widen_imprecise_scalars(callee.callsite)
            self.returned = True
            return callee.callsite
        else:
            if r0.type == PTR_TO_STACK and r0.frameno >= callee.frameno:
                self.fail(errno.EINVAL, "cannot return stack pointer to the caller")
            caller.regs[0] = r0.copy()
        for r in range(1, 6):
            caller.regs[r].mark_not_init()
        self.scratch_all()
        if self.log.enabled:
            self.log.write("returning from callee:\n" + callee.fmt(True, None, None) + "\n")
            self.log.write(f"to caller at {callee.callsite + 1}:\n" + caller.fmt(True, None, None) + "\n")
        self.returned = True
        return callee.callsite + 1
