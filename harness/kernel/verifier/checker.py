"""The main verification loop (do_check): walk every path of the program with abstract
register and stack states, pruning paths whose state is covered by an explored one.

Paths fork at conditional jumps the verifier cannot decide; the other side is pushed on a
stack (push_stack) and explored after the current path ends (LIFO).  States are recorded
at prune points (conditional jumps, jump targets, after calls); a state recorded on the
current path that is still being explored and is identical to the current one means the
program can loop forever; an explored state that covers the current one prunes the path.
"""

from __future__ import annotations

import bisect
import errno
import time

from harness.isa import opcodes as o
from harness.isa.disasm import disasm_insn
from harness.isa.validate import check_insn
from harness.kernel.helpers.ids import FUNC_NAMES
from harness.kernel.helpers.protos import func_proto
from harness.kernel.progload import UNKNOWN_RANGE, ScalarRange
from harness.kernel.verifier import alu, cfg, tnum
from harness.kernel.verifier.calls import CallChecks
from harness.kernel.verifier.ctxaccess import LD_ABS_TYPES, PKT_READ
from harness.kernel.verifier.memory import MemoryChecks, coerce_to_size
from harness.kernel.verifier.globalfn import GlobalFuncChecks
from harness.kernel.verifier.precision import PrecisionChecks
from harness.kernel.verifier.regs import (
    CONST_PTR_TO_MAP, MAYBE_NULL, NOT_INIT, PKT_TYPES, PTR_TO_ARENA, PTR_TO_BTF_ID, PTR_TO_CTX,
    PTR_TO_FLOW_KEYS, PTR_TO_FUNC, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM,
    PTR_TO_PACKET, PTR_TO_PACKET_END, PTR_TO_PACKET_META, PTR_TO_SOCK_COMMON, PTR_TO_STACK,
    SCALAR, U32, U64, Reg, s64,
)
from harness.kernel.verifier.state import Frame, IdMap, StateRecord, VState, state_key, states_equal
from harness.kernel.verifier.vlog import LEVEL2, STATS, VLog
from harness.uapi import MapType, ProgType

COMPLEXITY_LIMIT_INSNS = 1_000_000
COMPLEXITY_LIMIT_JMP_SEQ = 8192
BPF_MAX_VAR_OFF = 1 << 29
MAX_BPF_STACK = 512
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_BTF_ID, PSEUDO_FUNC = 1, 2, 3, 4
PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE = 5, 6

#: program types whose return value must lie in a range (check_return_code)
RETURN_RANGES = {
    ProgType.CGROUP_SKB: (0, 1), ProgType.CGROUP_SOCK: (0, 1), ProgType.CGROUP_DEVICE: (0, 1),
    ProgType.CGROUP_SYSCTL: (0, 1), ProgType.CGROUP_SOCKOPT: (0, 1), ProgType.SK_LOOKUP: (0, 1),
    ProgType.NETFILTER: (0, 1), ProgType.CGROUP_SOCK_ADDR: (0, 1),
}
_PTR_ARITH_OK = {PTR_TO_CTX, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY, PTR_TO_STACK, PTR_TO_PACKET_META,
                 PTR_TO_PACKET, PTR_TO_MEM, PTR_TO_FUNC, PTR_TO_BTF_ID, 16}


class VerifyError(Exception):
    def __init__(self, err: int, message: str):
        super().__init__(message)
        self.errno = err
        self.message = message


def _helper_name(imm: int):
    name = FUNC_NAMES.get(imm)
    return f"bpf_{name}" if name else None


#: is_tracing_prog_type
_TRACING_TYPES = frozenset({ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT,
                            ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE})


def _quick_key(st: VState):
    """A cheap necessary condition for two states to be identical."""
    return (len(st.frames), *[(r.type, r.var, r.off) for r in st.frames[-1].regs])


class InnerMapMeta:
    """The kernel's inner_map_meta: a copy of the template map without its name (the log
    shows `map_ptr(ks=4,vs=8)`); one per template, so states compare equal."""
    _views: dict = {}

    def __init__(self, m):
        self._m = m
        self.name = ""

    def __getattr__(self, k):
        return getattr(self._m, k)

    @classmethod
    def of(cls, m) -> "InnerMapMeta":
        v = cls._views.get(id(m))
        if v is None or v._m is not m:
            v = cls._views[id(m)] = cls(m)
        return v


def _linked_copy(known: Reg, reg: Reg) -> Reg:
    """sync_linked_regs for one register: `known`'s value, shifted by the difference of
    the two offsets when they are linked with one (reg keeps its own id and offset)."""
    out = known.copy()
    if not (known.link or reg.link) or (known.link == reg.link and known.delta == reg.delta):
        return out
    k = Reg.const(reg.delta - known.delta)
    alu.scalar_op(o.BPF_ADD, 64, out, k)
    out.id, out.link, out.delta = reg.id, reg.link, reg.delta
    if 32 in (known.link, reg.link):
        coerce_to_size(out, 4, False)
    return out


def _seq(rec: StateRecord) -> int:
    return rec.seq


class Verifier(MemoryChecks, CallChecks, PrecisionChecks, GlobalFuncChecks):
    def __init__(self, ctx):
        self.ctx = ctx
        self.insns = ctx.insns
        self.aux = ctx.aux
        attr = ctx.attr
        self.prog_type = attr.prog_type
        self.attach_type = attr.expected_attach_type
        self.license = attr.license
        self.privileged = bool(ctx.config.privileged)
        self.record_exit_r0 = bool(getattr(ctx, "record_exit_r0", False))
        self.exit_r0: dict = {}                              # ScalarRange -> None, in order
        self.strict_align = bool(attr.prog_flags & 1)
        self.log = VLog(attr.log_level)
        self.id_gen = 0
        self.processed = 0
        self.jmps = 0
        self.prev_jmps = 0
        self.prev_insns = 0
        self.explored: dict[int, list[StateRecord]] = {}     # fully explored states
        self.active: dict[int, list[StateRecord]] = {}       # states still being explored
        self.branch_stack: list = []
        self.total_states = 0
        self.cur_states = 0
        self.peak_states = 0
        self.backedges = 0
        self.max_states_per_insn = 0
        self.scr_regs: set = set()
        self.scr_stack: set = set()
        self.scr_all = False
        self.next_idx = None
        self.returned = False        # a bpf-to-bpf call just returned (log "from X to Y:")
        self.keep_scratch = True
        self.cur_insn_x = False
        self.encoding_errors: dict[int, str | None] = {}
        self.st: VState | None = None
        self.subprogs: list[int] = []
        self.stack_depth: list[int] = []
        self.globals: dict = {}          # subprog index -> globalfn.GlobalFunc
        self.linfo: list = []            # BTF line info records (init_linfo)
        self.verifying = 0               # the subprogram whose own verification runs
        self.has_arena = any(getattr(m, "map_type", None) == MapType.ARENA for m in ctx.used_maps)

    # --- small utilities -----------------------------------------------------------------
    def fail(self, err: int, message: str, *, newline: bool = True):
        self.log.write(message + ("\n" if newline else ""))
        raise VerifyError(err, message)

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    def is_pointer_value(self, reg: Reg) -> bool:
        return not self.privileged and reg.type != SCALAR

    def pkt_read_ok(self) -> bool:
        return self.prog_type in PKT_READ

    def scratch_reg(self, r: int) -> None:
        self.scr_regs.add(r)

    def scratch_stack(self, spi: int, frameno: int) -> None:
        if frameno == len(self.st.frames) - 1:
            self.scr_stack.add(spi)

    def scratch_all(self) -> None:
        self.scr_all = True

    def check_reg_read(self, regno: int) -> None:
        if regno >= 11:
            self.fail(errno.EINVAL, f"R{regno} is invalid")
        self.scr_regs.add(regno)
        if self.st.cur.regs[regno].type == NOT_INIT:
            self.fail(errno.EACCES, f"R{regno} !read_ok")

    def check_reg_write(self, regno: int) -> None:
        if regno >= 11:
            self.fail(errno.EINVAL, f"R{regno} is invalid")
        self.scr_regs.add(regno)
        if regno == 10:
            self.fail(errno.EACCES, "frame pointer is read only")

    def state_text(self, print_all: bool) -> str:
        f = self.st.cur
        if print_all or self.scr_all:
            text = f.fmt(True, None, None)
        else:
            text = f.fmt(False, self.scr_regs, self.scr_stack)
        if self.st.refs:
            text += " refs=" + ",".join(str(r[0]) for r in self.st.refs)
        self.scr_regs = set()
        self.scr_stack = set()
        self.scr_all = False
        return text

    def print_state_line(self) -> None:
        self.log.write(self.state_text(False) + "\n")

    def disasm(self, idx: int) -> str:
        self._fmt_idx = idx
        return disasm_insn(self.insns, idx, helper_name=_helper_name, imm_fmt=self._imm_fmt)

    def _imm_fmt(self, insn, value: int):
        """After resolve_pseudo_ldimm64 the kernel prints the map's kernel address (0 for a
        loader that may not see pointers); ours is a stable made-up address per map."""
        if insn.src in (PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE):
            if not self.privileged:
                return "0x0"
            aux = self.aux[self._fmt_idx]
            base = 0xFFFF888100000000 + (getattr(aux.map, "id", 0) or 0) * 0x1000
            return f"{base + aux.map_off:#x}"
        return None

    # --- driver --------------------------------------------------------------------------
    def run(self):
        t0 = time.perf_counter_ns()
        err = None
        try:
            self.structural_checks()
            self.do_check_main()
            if not self.log.level & LEVEL2:
                self.log.reset(0)           # a finished do_check rewinds a level-1 log
            self.do_check_subprogs()
            self.check_max_stack_depth()
        except (VerifyError, cfg.CfgError) as e:
            if isinstance(e, cfg.CfgError):
                self.log.write(e.message + "\n")
            err = e
        if self.log.level & STATS:
            usec = (time.perf_counter_ns() - t0) // 1000
            self.log.enabled = True
            self.log.write(f"verification time {usec} usec\n")
            self.log.write("stack depth " + "+".join(str(d) for d in self.stack_depth or [0]) + "\n")
        if self.log.level:
            self.log.enabled = True
            self.log.write(f"processed {self.processed} insns (limit {COMPLEXITY_LIMIT_INSNS}) "
                           f"max_states_per_insn {self.max_states_per_insn} total_states "
                           f"{self.total_states} peak_states {self.peak_states} mark_read 0\n")
        return err

    def structural_checks(self) -> None:
        insns = self.insns
        if not insns:
            raise cfg.CfgError(errno.EINVAL, "empty program")
        self.subprogs = cfg.find_subprogs(insns)
        if self.log.level & LEVEL2:
            for n, s in enumerate(self.subprogs):
                self.log.write(f"func#{n} @{s}\n")
        cfg.check_subprogs(insns, self.subprogs)
        self.globals = self.find_global_funcs()
        cfg.check_opcodes(insns)
        self.check_map_prog_compatibility()
        self.stack_depth = [0] * len(self.subprogs)
        bounds = self.subprogs + [len(insns)]
        self.subprog_of = {}
        for n in range(len(self.subprogs)):
            self.subprog_of[self.subprogs[n]] = n
        self.subprog_index = [0] * len(insns)
        for n in range(len(self.subprogs)):
            for t in range(bounds[n], bounds[n + 1]):
                self.subprog_index[t] = n
        self.prune = cfg.check_cfg(insns, bpf_capable=True)
        # a helper that calls a callback gets a checkpoint before it, always (6.18's
        # mark_force_checkpoint: the callback loop is matched against it)
        from harness.kernel.verifier.precision import SYNC_CALLBACK_HELPERS
        self.force_ckpt = {t for t, i in enumerate(insns)
                           if i.code == (o.BPF_JMP | o.BPF_CALL) and i.src == 0
                           and i.imm in SYNC_CALLBACK_HELPERS}
        self.may_goto = {t for t, i in enumerate(insns) if i.code == (o.BPF_JMP | o.BPF_JCOND)}
        self.force_ckpt |= self.may_goto
        self.prune |= self.force_ckpt
        self.live = cfg.live_registers(insns, self._nargs)
        if self.log.level & LEVEL2:
            self.log.write("Live regs before insn:\n")
            t = 0
            while t < len(insns):
                # a 3-wide column (the loop SCC number in 6.18, blank here), then the index
                self.log.write(f"    {t:3d}: {cfg.fmt_live(self.live[t])} {self.disasm(t)}\n")
                t += 2 if cfg.is_ldimm64(insns[t]) else 1

    def _nargs(self, imm: int):
        """Arguments of a helper for the liveness table; a helper this program may not
        call counts as using all five (compute_live_registers)."""
        p = func_proto(imm, self.prog_type, self.attach_type, self.privileged)
        return len(p.args) if p is not None else None

    def check_map_prog_compatibility(self) -> None:
        """Maps whose values hold a bpf_spin_lock are refused to some program types (the
        kernel checks this while resolving the program's map references)."""
        for m in self.ctx.used_maps:
            if getattr(m, "spin_lock_off", None) is None:
                continue
            if self.prog_type == ProgType.SOCKET_FILTER:
                raise cfg.CfgError(errno.EINVAL, "socket filter progs cannot use bpf_spin_lock yet")
            if self.prog_type in _TRACING_TYPES:
                raise cfg.CfgError(errno.EINVAL, "tracing progs cannot use bpf_spin_lock yet")

    def init_linfo(self) -> None:
        """BTF line info (the source line of an instruction, printed before it as
        `; <source> @ <file>:<line>` when it changes: verbose_linfo)."""
        self.linfo = []
        self.prev_linfo = None
        btf = getattr(getattr(self.ctx, "btf", None), "btf", None)
        records = sorted(self.ctx.attr.line_info or ())
        if btf is None or not records:
            return
        self.linfo = records
        self.linfo_offs = [r[0] for r in records]
        self.linfo_btf = btf

    def verbose_linfo(self, idx: int) -> None:
        n = bisect.bisect_right(self.linfo_offs, idx) - 1
        if n < 0:
            return
        _, file_off, line_off, line_col = self.linfo[n]
        if line_off == self.prev_linfo:       # the same source text is not repeated
            return
        self.prev_linfo = line_off
        try:
            text = self.linfo_btf.string_at(line_off).lstrip()
            name = self.linfo_btf.string_at(file_off).rsplit("/", 1)[-1]
        except Exception:               # a bad string offset: nothing to show
            return
        self.log.write(f"; {text} @ {name}:{line_col >> 10}\n")

    def main_prototype_note(self) -> None:
        """6.18 prepares the main program's BTF arguments too, and logs (without failing)
        an argument it cannot type, e.g. a `void *ctx`."""
        from harness.kernel.verifier.globalfn import prototype
        btf = getattr(getattr(self.ctx, "btf", None), "btf", None)
        info = dict(self.ctx.attr.func_info or ())
        if btf is None or 0 not in info:
            return
        try:
            g = prototype(btf, info[0], self.prog_type)
        except Exception:               # malformed BTF was refused at load already
            return
        if g.error.startswith("arg#"):
            self.log.write(g.error + "\n")

    def do_check_main(self) -> None:
        self.init_linfo()
        self.main_prototype_note()
        st = VState()
        f = Frame(0, 0, -1)
        f.regs[1].mark_ptr(PTR_TO_CTX)
        f.regs[10].mark_ptr(PTR_TO_STACK)
        st.frames.append(f)
        self.st = st
        self.scratch_all()
        self.do_check()

    def reset_exploration(self) -> None:
        """free_states between two do_check_common runs: the explored states go (the
        counters of processed instructions and states do not)."""
        self.explored = {}
        self.active = {}
        self.branch_stack = []
        self.cur_states = 0

    def check_max_stack_depth(self) -> None:
        """Combined stack of a call chain, each frame rounded up to 32 bytes."""
        insns = self.insns
        bounds = self.subprogs + [len(insns)]
        calls: dict[int, set[int]] = {n: set() for n in range(len(self.subprogs))}
        for n in range(len(self.subprogs)):
            for t in range(bounds[n], bounds[n + 1]):
                i = insns[t]
                if i.code == (o.BPF_JMP | o.BPF_CALL) and i.src == o.BPF_PSEUDO_CALL:
                    calls[n].add(self.subprog_of[t + i.imm + 1])

        def depth(n: int, seen: tuple) -> tuple[int, int]:
            here = max(((self.stack_depth[n] + 31) // 32) * 32, 32 if self.stack_depth[n] else 0)
            best, frames = here, 1
            for c in calls[n]:
                if c in seen:
                    continue
                d, fr = depth(c, seen + (c,))
                if here + d > best:
                    best, frames = here + d, fr + 1
            return best, frames

        total, frames = depth(0, (0,))
        if total > MAX_BPF_STACK:
            self.fail(errno.EACCES, f"combined stack size of {frames} calls is {total}. Too large")

    # --- the loop ------------------------------------------------------------------------
    def do_check(self) -> None:
        insns = self.insns
        log = self.log
        do_print_state = False
        prev_idx = -1
        while True:
            st = self.st
            idx = st.insn_idx
            self.processed += 1
            if self.processed > COMPLEXITY_LIMIT_INSNS:
                self.fail(errno.E2BIG, f"BPF program is too large. Processed {self.processed} insn")
            self.aux[idx].seen = True
            if idx in self.prune and self.is_state_visited(idx):
                if log.enabled:
                    if do_print_state:
                        log.write(f"\nfrom {prev_idx} to {idx}: safe\n")
                    else:
                        log.write(f"{idx}: safe\n")
                nxt = None
            else:
                if log.enabled:
                    if log.level & LEVEL2 and do_print_state:
                        log.write(f"\nfrom {prev_idx} to {idx}:" + self.state_text(True) + "\n")
                        self.scr_all = self.keep_scratch
                    if self.scr_all or self.scr_regs or self.scr_stack:
                        log.state(idx, self.state_text(False))
                    if self.linfo:
                        self.verbose_linfo(idx)
                    log.insn(idx, self.disasm(idx))
                do_print_state = False
                self.next_idx = None
                self.keep_scratch = True
                st.hist.append(idx)
                nxt = self.step(idx, insns[idx])
                if self.returned:
                    self.returned = False
                    do_print_state = True
                    self.keep_scratch = False
                    self.scr_all, self.scr_regs, self.scr_stack = False, set(), set()
            if nxt is None:
                self.path_done()
                if not self.branch_stack:
                    return
                self.st, logpos, prev_idx = self.branch_stack.pop()
                if not log.level & LEVEL2:
                    log.reset(*logpos)
                do_print_state = True
                self.keep_scratch = True        # a popped state prints again (not a return)
                self.scratch_all()
                continue
            prev_idx = idx
            self.st.insn_idx = nxt

    def push_branch(self, state: VState, from_idx: int, to_idx: int) -> None:
        depth = len(self.branch_stack) + 1
        if depth > COMPLEXITY_LIMIT_JMP_SEQ:
            # counted after the push; 6.18's callers turn the failed push into EFAULT
            self.fail(errno.EFAULT, f"The sequence of {depth} jumps is too complex.")
        state.insn_idx = to_idx
        if state.rec is not None:
            state.rec.branches += 1
        log = self.log
        self.branch_stack.append((state, (len(log.parts), len(log.parts[-1]) if log.parts else 0),
                                  from_idx))

    def path_done(self) -> None:
        rec = self.st.rec
        while rec is not None:
            rec.branches -= 1
            if rec.branches > 0:
                break
            self._retire(rec)
            rec = rec.parent

    def add_backedge(self, rec: StateRecord) -> None:
        """A loop closed on a state still being explored: 6.18 keeps a backedge until the
        loop's exploration ends, and counts it in peak_states."""
        rec.backedges += 1
        self.backedges += 1
        self.peak_states = max(self.peak_states, self.cur_states + self.backedges)

    def _retire(self, rec: StateRecord) -> None:
        """A record whose subtree is fully explored: from now on it can prune paths."""
        self.backedges -= rec.backedges
        if rec.evicted:
            self.cur_states -= 1        # off the kernel's free list once nothing runs below it
            return
        self.active[rec.idx].remove(rec)
        bisect.insort(self.explored.setdefault(rec.idx, []), rec, key=_seq)

    def _evict(self, rec: StateRecord) -> None:
        """An evicted state still being explored stays counted (the kernel's free list)
        until its paths end; peak_states counts both lists."""
        rec.evicted = True
        if rec.branches > 0:
            self.active[rec.idx].remove(rec)
        else:
            self.explored[rec.idx].remove(rec)
            self.cur_states -= 1

    def is_state_visited(self, idx: int) -> bool:
        """is_state_visited: the states recorded at idx, newest first.  One still being
        explored (a loop) and identical to the current state is an infinite loop; a
        finished one that covers the current state prunes it.  Each other one misses, and
        a state that keeps missing is evicted.  Maybe record the current state."""
        st = self.st
        force = idx in self.force_ckpt
        add = force or (self.jmps - self.prev_jmps >= 2 and self.processed - self.prev_insns >= 8)
        active = self.active.get(idx)
        done = self.explored.get(idx)
        if active and done:
            recs = sorted(active + done, key=_seq, reverse=True)
        elif active or done:
            recs = list(reversed(active or done))    # evictions below change the list
        else:
            recs = ()
        quick = key = None
        states_cnt = 0
        if recs:
            nf = len(st.frames)
            lives = [self.live[idx]] if nf == 1 else [self.frame_live(st, n) for n in range(nf)]
        for rec in recs:
            states_cnt += 1
            if rec.branches > 0 and idx in self.may_goto and \
                    rec.state.may_goto_depth != st.may_goto_depth and \
                    states_equal(rec.state, st, lives, True, self.privileged):
                # a may_goto loop ends where a state of another depth repeats (by ranges)
                rec.hit += 1
                self.add_backedge(rec)
                self.propagate_precision(rec.state)
                return True
            if rec.branches > 0 and force and idx not in self.may_goto:
                # back at a callback-calling helper: the loop ends where the state repeats,
                # compared by ranges (RANGE_WITHIN), precise or not
                if states_equal(rec.state, st, lives, True, self.privileged):
                    rec.hit += 1                # (no CFG loop here: not a backedge)
                    self.propagate_precision(rec.state)
                    return True
            elif rec.branches > 0:
                if quick is None:
                    quick = _quick_key(st)
                if rec.quick == quick:
                    if key is None:
                        key = state_key(st)
                    if rec.key == key and rec.state.may_goto_depth == st.may_goto_depth:
                        self.log.write(f"infinite loop detected at insn {idx}\n")
                        self.log.write("cur state:" + st.cur.fmt(True, None, None) + "\n")
                        self.log.write("old state:" + rec.state.cur.fmt(True, None, None) + "\n")
                        raise VerifyError(errno.EINVAL, f"infinite loop detected at insn {idx}")
                if not force and self.jmps - self.prev_jmps < 20 and self.processed - self.prev_insns < 100:
                    add = False
            elif states_equal(rec.state, st, lives, not self.privileged, self.privileged):
                rec.hit += 1
                self.propagate_precision(rec.state)
                return True
            if add:
                rec.miss += 1
            n = 64 if force and rec.branches > 0 else 3
            if rec.miss > rec.hit * n + n:
                self._evict(rec)
        if states_cnt > self.max_states_per_insn:
            self.max_states_per_insn = states_cnt
        if add:
            if quick is None:
                quick = _quick_key(st)
            if key is None:
                key = state_key(st)
            self.total_states += 1
            rec = StateRecord(st.copy(), st.rec, idx, key, self.total_states, quick)
            st.rec = rec
            st.hist = []
            self.active.setdefault(idx, []).append(rec)
            self.prev_jmps, self.prev_insns = self.jmps, self.processed
            self.cur_states += 1
            self.peak_states = max(self.peak_states, self.cur_states + self.backedges)
        return False

    # --- one instruction -----------------------------------------------------------------
    def step(self, idx: int, i) -> int | None:
        cl = i.code & 7
        if cl in (o.BPF_JMP, o.BPF_JMP32):
            self.jmps += 1
        why = self.encoding_errors.get(idx, 0)
        if why == 0:
            why = self.encoding_errors[idx] = check_insn(self.insns, idx)
        if why:
            self.fail(errno.EINVAL, why)
        if cl in (o.BPF_ALU, o.BPF_ALU64):
            self.check_alu(i, 64 if cl == o.BPF_ALU64 else 32)
            return idx + 1
        if cl == o.BPF_LDX:
            self.check_reg_read(i.src)
            self.check_reg_write(i.dst)
            self.check_mem_access(i.src, i.off, o.SIZE_BYTES[i.code & 0x18], False, i.dst,
                                  sx=(i.code & 0xE0) == o.BPF_MEMSX)
            return idx + 1
        if cl == o.BPF_STX:
            if (i.code & 0xE0) == o.BPF_ATOMIC:
                self.check_atomic(i)
                return idx + 1
            self.check_reg_read(i.src)
            self.check_reg_read(i.dst)
            self.check_mem_access(i.dst, i.off, o.SIZE_BYTES[i.code & 0x18], True, i.src)
            return idx + 1
        if cl == o.BPF_ST:
            self.check_reg_read(i.dst)
            self.check_mem_access(i.dst, i.off, o.SIZE_BYTES[i.code & 0x18], True, -1, imm=i.imm)
            return idx + 1
        if cl == o.BPF_LD:
            if cfg.is_ldimm64(i):
                self.check_ld_imm(idx, i)
                return idx + 2
            self.check_ld_abs(i)
            return idx + 1
        opc = i.code & 0xF0
        if opc == o.BPF_CALL:
            if i.src == o.BPF_PSEUDO_CALL:
                return self.check_func_call(idx, idx + i.imm + 1)
            if i.src == o.BPF_PSEUDO_KFUNC_CALL:
                self.fail(errno.EINVAL, f"kernel btf_id {i.imm} is not a function")
            self.check_helper_call(idx, i.imm)
            return self.next_idx if self.next_idx is not None else idx + 1
        if opc == o.BPF_EXIT:
            return self.check_exit(idx)
        if opc == o.BPF_JA:
            return cfg.jump_target(self.insns, idx)
        if opc == o.BPF_JCOND:
            # may_goto: the loop body (the fall-through) is a path of its own, one level
            # deeper; this path leaves the loop (the runtime counter may run out anytime)
            other = self.st.copy()
            other.may_goto_depth += 1
            self.widen_imprecise_scalars(idx, other)
            self.push_branch(other, idx, idx + 1)
            return idx + i.off + 1
        return self.check_cond_jmp(idx, i, 32 if cl == o.BPF_JMP32 else 64)

    # --- ALU -----------------------------------------------------------------------------
    def check_alu(self, i, bits: int) -> None:
        opc = i.code & 0xF0
        x = i.code & o.BPF_X
        regs = self.st.cur.regs
        if opc in (o.BPF_END, o.BPF_NEG):
            self.check_reg_read(i.dst)
            d = regs[i.dst]
            if self.is_pointer_value(d):
                self.fail(errno.EACCES, f"R{i.dst} pointer arithmetic prohibited")
            self.check_reg_write(i.dst)
            if d.type != SCALAR:
                d.mark_unknown()
            if opc == o.BPF_NEG:
                alu.scalar_op(o.BPF_NEG, bits, d, d)
            elif bits == 32 and not x and i.imm < 64:        # le16 / le32: truncation
                # 6.18 truncates the tnum and derives every bound from it
                keep = (1 << i.imm) - 1
                v, m = d.var
                d.mark_unknown()
                d.var = (v & keep, m & keep)
                d.sync()
            elif bits == 32 and not x:
                pass
            else:
                # byte swap: 6.18 swaps the tnum's value and mask; the bounds follow the tnum
                n, keep = i.imm // 8, (1 << i.imm) - 1
                v, m = (int.from_bytes((x & keep).to_bytes(n, "little"), "big") for x in d.var)
                d.mark_unknown()
                d.var = (v, m)
                d.sync()
            return
        if opc == o.BPF_MOV:
            self.check_mov(i, bits)
            return
        if x:
            self.check_reg_read(i.src)
        self.check_reg_read(i.dst)
        if opc in (o.BPF_DIV, o.BPF_MOD) and not x and i.imm == 0:
            self.fail(errno.EINVAL, "div by zero")
        if opc in (o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH) and not x and not 0 <= i.imm < bits:
            self.fail(errno.EINVAL, f"invalid shift {i.imm}")
        self.check_reg_write(i.dst)
        d = regs[i.dst]
        if not x and d.type == SCALAR and d.var[1] == 0 and opc not in (o.BPF_DIV, o.BPF_MOD):
            # known scalar <op> immediate: what scalar_op computes, without building operands
            self.cur_insn_x = False
            d.id = 0
            d.set_const_bounds(alu.concrete(opc, bits, d.var[0], i.imm, False))
            return
        if x:
            s = regs[i.src]
        else:
            s = Reg.const(i.imm)
        sym = o.ALU_OPS[opc].symbol
        self.cur_insn_x = bool(x)
        if d.type != SCALAR:
            if s.type != SCALAR:
                if opc == o.BPF_SUB and self.privileged:
                    d.mark_unknown()
                    return
                self.fail(errno.EACCES, f"R{i.dst} pointer {sym} pointer prohibited")
            if x:
                self.mark_precise(i.src)             # the offset's value now matters
            self.ptr_arith(i.dst, d, s, opc, bits, sym, False)
        elif s.type != SCALAR:
            self.mark_precise(i.dst)
            self.ptr_arith(i.dst, s, d, opc, bits, sym, True)
        else:
            if opc in (o.BPF_AND, o.BPF_OR) and s.var[1] == 0:
                self.maybe_fork_scalars(i, d)
            pid, plink = d.id, d.link
            alu.scalar_op(opc, bits, d, s)
            d.link = d.delta = 0
            if pid and self.privileged and opc in (o.BPF_ADD, o.BPF_SUB):
                self.link_add_const(d, pid, plink, s, bits, opc)

    def assign_id_before_mov(self, s: Reg) -> None:
        """assign_scalar_id_before_mov: a copied unknown scalar shares an id with its copy
        (ranges learned on one apply to the other); a register that is itself `rY + K`
        starts a new link."""
        if s.type != SCALAR:
            return
        if s.link:
            s.id = 0
            s.link = s.delta = 0
        if not s.id and s.var[1]:
            s.id = self.new_id()

    def link_add_const(self, d: Reg, pid: int, plink: int, s: Reg, bits: int, opc: int) -> None:
        """`rX += K` / `rX -= K` on a linked scalar keeps the link with the offset K
        (6.18's BPF_ADD_CONST, printed id=1+4): a range learned on rX or on its copies
        moves to the others shifted by K.  Once only, and K must fit an s32."""
        t = s.view(bits)[0]
        if t[1]:
            return
        val = t[0]
        if bits == 64:
            val = s64(val)
            if not -(1 << 31) <= val < (1 << 31):
                return
        elif plink:
            return
        off = val - (1 << 32) if bits == 32 and val >> 31 else val
        if opc == o.BPF_SUB:
            if off == -(1 << 31):
                return
            off = -off
        if plink:
            return
        d.id = pid
        d.link = bits
        d.delta = off

    def maybe_fork_scalars(self, i, d: Reg) -> None:
        """6.18 (maybe_fork_scalars): `x & K` / `x | K` with x in [-1, 0] (LLVM's select
        after an arithmetic shift by 63 or 31) is explored as two paths: this one with
        x = -1, and the instruction again with x = 0, so the result stays exact."""
        if d.smin == -1 and d.smax == 0:
            alu32 = False
        elif d.s32min == -1 and d.s32max == 0:
            alu32 = True
        else:
            return
        idx = self.st.insn_idx
        other = self.st.copy()
        od = other.cur.regs[i.dst]
        if alu32:
            od.mark_known32(0)
            d.mark_known32(U32)
        else:
            od.mark_const(0)
            d.mark_const(U64)
        self.push_branch(other, idx, idx)

    def check_mov(self, i, bits: int) -> None:
        regs = self.st.cur.regs
        if not (i.code & o.BPF_X):
            self.check_reg_write(i.dst)
            regs[i.dst].mark_const(i.imm if bits == 64 else i.imm & U32)
            return
        self.check_reg_read(i.src)
        if bits == 64 and i.off == o.BPF_ADDR_SPACE_CAST:
            if not self.has_arena:
                self.fail(errno.EINVAL, "addr_space_cast insn can only be used in a program that has an associated arena")
            self.check_reg_write(i.dst)
            d = regs[i.dst]
            d.mark_unknown()
            if i.imm == 1:
                d.mark_ptr(PTR_TO_ARENA)
            return
        self.check_reg_write(i.dst)
        s, d = regs[i.src], regs[i.dst]
        if bits == 64:
            if i.off == 0:
                self.assign_id_before_mov(s)
                d.assign(s)
                return
            if s.type != SCALAR:
                if not self.privileged:
                    self.fail(errno.EACCES, f"R{i.src} sign-extension part of pointer")
                d.mark_unknown()
                return
            alu.movsx(d, s.copy(), i.off, 64)
            return
        if s.type != SCALAR:
            if not self.privileged:
                self.fail(errno.EACCES, f"R{i.src} partial copy of pointer")
            d.mark_unknown()
            d.set_view32((0, U32), 0, U32, -(1 << 31), (1 << 31) - 1)
            return
        if i.off == 0:
            # w1 = w2: a source that fits 32 bits is copied whole and stays linked
            if s.umax.bit_length() <= 32:
                self.assign_id_before_mov(s)
                d.assign(s)
                return
            view = s.view(32)
            d.mark_unknown()
            d.set_view32(*view)
            return
        low = Reg()
        low.mark_unknown()
        low.set_view32(*s.view(32))
        alu.movsx(d, low, i.off, 32)

    def ptr_arith(self, dst: int, ptr: Reg, off: Reg, opc: int, bits: int, sym: str,
                  off_is_dst: bool) -> None:
        regs = self.st.cur.regs
        if bits == 32:
            if opc == o.BPF_SUB and self.privileged:
                regs[dst].mark_unknown()
                return
            self.fail(errno.EACCES, f"R{dst} 32-bit pointer arithmetic prohibited")
        tname = ptr.type_str()
        if ptr.flags & MAYBE_NULL:
            self.fail(errno.EACCES, f"R{dst} pointer arithmetic on {tname} prohibited, null-check it first")
        known = off.var[1] == 0
        val = s64(off.var[0]) if known else 0
        if ptr.type not in _PTR_ARITH_OK and not (ptr.type == CONST_PTR_TO_MAP and known and val == 0
                                                   and opc == o.BPF_ADD):
            self.fail(errno.EACCES, f"R{dst} pointer arithmetic on {tname} prohibited")
        # check_reg_sane_offset on the offset, then on the pointer, before the operator
        for r in (off, ptr):
            if r.var[1] == 0 and not -BPF_MAX_VAR_OFF < s64(r.var[0]) < BPF_MAX_VAR_OFF:
                self.fail(errno.EINVAL, f"math between {tname} pointer and {s64(r.var[0])} is not allowed")
            if not -BPF_MAX_VAR_OFF < r.off < BPF_MAX_VAR_OFF:
                self.fail(errno.EINVAL, f"{tname} pointer offset {r.off} is not allowed")
            if r.smin == -(1 << 63):
                self.fail(errno.EINVAL, f"math between {tname} pointer and register with unbounded "
                                        f"min value is not allowed")
            if not -BPF_MAX_VAR_OFF < r.smin < BPF_MAX_VAR_OFF:
                self.fail(errno.EINVAL, f"value {r.smin} makes {tname} pointer be out of bounds")
        if opc not in (o.BPF_ADD, o.BPF_SUB):
            if opc in (o.BPF_AND, o.BPF_OR, o.BPF_XOR):
                self.fail(errno.EACCES, f"R{dst} bitwise operator {sym} on pointer prohibited")
            self.fail(errno.EACCES, f"R{dst} pointer arithmetic with {sym} operator prohibited")
        if opc == o.BPF_SUB and off_is_dst:
            self.fail(errno.EACCES, f"R{dst} tried to subtract pointer from scalar")
        if opc == o.BPF_SUB and ptr.type == PTR_TO_STACK:
            self.fail(errno.EACCES, f"R{dst} subtraction from stack pointer prohibited")
        res = ptr.copy()
        if known:
            res.off = ptr.off + val if opc == o.BPF_ADD else ptr.off - val
        else:
            tmp = Reg()
            tmp.mark_unknown()
            tmp.var, tmp.smin, tmp.smax, tmp.umin, tmp.umax = ptr.var, ptr.smin, ptr.smax, ptr.umin, ptr.umax
            tmp.s32min, tmp.s32max, tmp.u32min, tmp.u32max = ptr.s32min, ptr.s32max, ptr.u32min, ptr.u32max
            alu.scalar_op(opc, 64, tmp, off)
            res.var, res.smin, res.smax, res.umin, res.umax = tmp.var, tmp.smin, tmp.smax, tmp.umin, tmp.umax
            res.s32min, res.s32max, res.u32min, res.u32max = tmp.s32min, tmp.s32max, tmp.u32min, tmp.u32max
            if res.type in PKT_TYPES:
                res.id = self.new_id()
                res.range = 0
        if not self.privileged:
            if res.type == PTR_TO_STACK and res.var[1]:
                self.fail(errno.EACCES, f"R{dst} variable stack access prohibited for !root, "
                                        f"var_off={tnum.to_str(res.var)} off={res.off}")
            if res.type == PTR_TO_STACK and not -MAX_BPF_STACK <= res.off + s64(res.var[0]) < 0 \
                    and not res.var[1]:
                self.fail(errno.EACCES, f"R{dst} stack pointer arithmetic goes out of range, "
                                        f"prohibited for !root; off={res.off + s64(res.var[0])}")
            if res.type == PTR_TO_MAP_VALUE:
                lo, hi = res.off + res.smin, res.off + res.umax
                if lo < 0 or hi >= res.map.value_size:
                    self.fail(errno.EACCES, f"R{dst} pointer arithmetic of map value goes out of "
                                            f"range, prohibited for !root")
        regs[dst] = res

    # --- loads, atomics ------------------------------------------------------------------
    def check_ld_imm(self, idx: int, i) -> None:
        self.check_reg_write(i.dst)
        d = self.st.cur.regs[i.dst]
        aux = self.aux[idx]
        if i.src == 0:
            d.mark_const(((self.insns[idx + 1].imm & U32) << 32) | (i.imm & U32))
            return
        if i.src == PSEUDO_FUNC:
            if not self.ctx.attr.func_info:
                self.fail(errno.EINVAL, "missing btf func_info")
            d.mark_ptr(PTR_TO_FUNC)
            d.subprog = idx + i.imm + 1
            return
        if i.src in (PSEUDO_MAP_FD, PSEUDO_MAP_IDX, PSEUDO_MAP_VALUE, PSEUDO_MAP_IDX_VALUE):
            m = aux.map
            if m is None:
                self.fail(errno.EINVAL, f"fd {i.imm} is not pointing to valid bpf_map")
            if i.src in (PSEUDO_MAP_VALUE, PSEUDO_MAP_IDX_VALUE):
                if m.map_type == MapType.ARENA:
                    d.mark_unknown()
                    return
                d.mark_ptr(PTR_TO_MAP_VALUE, 0, aux.map_off)
            else:
                d.mark_ptr(CONST_PTR_TO_MAP)
            d.map = m
            return
        self.fail(errno.EINVAL, "unrecognized bpf_ld_imm64 insn")

    def check_ld_abs(self, i) -> None:
        if self.prog_type not in LD_ABS_TYPES:
            self.fail(errno.EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
        self.check_reg_read(6)
        if (i.code & 0xE0) == o.BPF_IND:
            self.check_reg_read(i.src)
        if self.st.refs:
            self.fail(errno.EINVAL, "BPF_LD_[ABS|IND] cannot be mixed with socket references")
        regs = self.st.cur.regs
        if regs[6].type != PTR_TO_CTX:
            self.fail(errno.EINVAL, "at the time of BPF_LD_ABS|IND R6 != pointer to skb")
        for r in range(1, 6):
            regs[r].mark_not_init()
            self.scratch_reg(r)
        regs[0].mark_unknown()
        self.scratch_reg(0)

    def check_atomic(self, i) -> None:
        size = o.SIZE_BYTES[i.code & 0x18]
        regs = self.st.cur.regs
        if i.imm == o.BPF_LOAD_ACQ:
            self.check_reg_read(i.src)
            self.check_reg_write(i.dst)
            self.check_mem_access(i.src, i.off, size, False, i.dst)
            return
        if i.imm == o.BPF_STORE_REL:
            self.check_reg_read(i.src)
            self.check_reg_read(i.dst)
            self.check_mem_access(i.dst, i.off, size, True, i.src)
            return
        self.check_reg_read(i.src)
        self.check_reg_read(i.dst)
        if i.imm == o.BPF_CMPXCHG:
            self.check_reg_read(0)
        if self.is_pointer_value(regs[i.src]):
            self.fail(errno.EACCES, f"R{i.src} leaks addr into mem")
        d = regs[i.dst]
        if d.type in (PTR_TO_CTX, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_FLOW_KEYS,
                      PTR_TO_SOCK_COMMON, PTR_TO_PACKET_END):
            self.fail(errno.EACCES, f"BPF_ATOMIC stores into R{i.dst} {d.type_str()} is not allowed")
        fetch = i.imm & o.BPF_FETCH
        load_reg = (0 if i.imm == o.BPF_CMPXCHG else i.src) if fetch else -1
        if load_reg >= 0:
            self.check_reg_write(load_reg)
        self.check_mem_access(i.dst, i.off, size, False, load_reg)
        self.check_mem_access(i.dst, i.off, size, True, -1)
        if load_reg >= 0 and regs[load_reg].type != SCALAR:
            regs[load_reg].mark_unknown()

    # --- exit ----------------------------------------------------------------------------
    def check_exit(self, idx: int) -> int | None:
        st = self.st
        if len(st.frames) == 1 and st.lock:
            self.fail(errno.EINVAL, "BPF_EXIT instruction in main prog cannot be used inside "
                                    "bpf_spin_lock-ed region")
        if len(st.frames) == 1 and st.refs:
            rid, at = st.refs[0]
            self.log.write(f"Unreleased reference id={rid} alloc_insn={at}\n")
            self.fail(errno.EINVAL, "BPF_EXIT instruction in main prog would lead to reference leak")
        self.check_reg_read(0)
        if len(st.frames) > 1:
            return self.prepare_func_exit(idx)
        r0 = st.cur.regs[0]
        if self.verifying:
            if r0.type != SCALAR:
                self.fail(errno.EINVAL, f"At subprogram exit the register R0 is not a scalar "
                                        f"value ({r0.type_str()})")
            return None
        if self.is_pointer_value(r0):
            self.fail(errno.EACCES, "R0 leaks addr as return value")
        rng = RETURN_RANGES.get(self.prog_type)
        if (rng is not None or self.record_exit_r0) and r0.type == SCALAR:
            self.mark_precise(0)                     # the verdict depends on R0's range
        if rng is not None:
            self.check_retval(r0, rng, "At program exit")
        if self.record_exit_r0:
            self.exit_r0[self.scalar_range(r0)] = None
        return None

    @staticmethod
    def scalar_range(r: Reg) -> ScalarRange:
        if r.type != SCALAR:
            return UNKNOWN_RANGE
        return ScalarRange(r.var[0], r.var[1], r.umin, r.umax, r.smin, r.smax,
                           r.u32min, r.u32max, r.s32min, r.s32max)

    def check_retval(self, r0: Reg, rng: tuple[int, int], where: str) -> None:
        if r0.type != SCALAR:
            self.fail(errno.EINVAL, f"{where} the register R0 is not a known value ({r0.type_str()})")
        if rng[0] <= r0.smin and r0.smax <= rng[1]:
            return
        text = f"{where} the register R0 has"
        unknown = True
        if r0.smin > -(1 << 63):
            text += f" smin={r0.smin}"
            unknown = False
        if r0.smax < (1 << 63) - 1:
            text += f" smax={r0.smax}"
            unknown = False
        if unknown:
            text += " unknown scalar value"
        self.fail(errno.EINVAL, f"{text} should have been in [{rng[0]}, {rng[1]}]")

    # --- conditional jumps ---------------------------------------------------------------
    def check_cond_jmp(self, idx: int, i, bits: int) -> int | None:
        opc = i.code & 0xF0
        regs = self.st.cur.regs
        target = idx + i.off + 1
        if i.code & o.BPF_X:
            self.check_reg_read(i.src)
            s = regs[i.src]
            d0 = regs[i.dst]
            if not (d0.type in PKT_TYPES | {PTR_TO_PACKET_END} and s.type in PKT_TYPES | {PTR_TO_PACKET_END}) \
                    and self.is_pointer_value(s):
                self.fail(errno.EACCES, f"R{i.src} pointer comparison prohibited")
        else:
            s = Reg.const(i.imm if bits == 64 else i.imm & U32)
        self.check_reg_read(i.dst)
        d = regs[i.dst]
        pred = self.branch_taken(opc, bits, d, s)
        if pred >= 0:
            # the decision rests on the operands' values
            if d.type == SCALAR:
                self.mark_precise(i.dst)
            if i.code & o.BPF_X and s.type == SCALAR:
                self.mark_precise(i.src)
        if pred >= 0 and d.type == SCALAR and self.log.level & LEVEL2:
            # the kernel prints the state right after backtracking, with this insn's index
            self.log.write(f"{idx}:{self.state_text(False)}\n")
        if pred == 1:
            return target
        if pred == 0:
            return idx + 1
        null_check = (opc in (o.BPF_JEQ, o.BPF_JNE) and d.flags & MAYBE_NULL and s.type == SCALAR
                      and s.var == (0, 0) and bits == 64)
        pkt_cmp = d.type in PKT_TYPES | {PTR_TO_PACKET_END} and s.type in PKT_TYPES | {PTR_TO_PACKET_END}
        if not null_check and not pkt_cmp and self.is_pointer_value(d):
            self.fail(errno.EACCES, f"R{i.dst} pointer comparison prohibited")
        ids = [d.id if d.type == SCALAR else 0]
        if i.code & o.BPF_X and s.type == SCALAR:
            ids.append(s.id)
        self.hist_linked(ids)
        other = self.st.copy()
        self.refine_branch(other, i, bits, True)
        self.refine_branch(self.st, i, bits, False)
        self.push_branch(other, idx, target)
        if self.log.enabled and (self.scr_all or self.scr_regs or self.scr_stack):
            self.log.state(idx, self.state_text(False))     # check_cond_jmp_op prints it
        return idx + 1

    def branch_taken(self, opc: int, bits: int, d: Reg, s: Reg) -> int:
        if d.type == SCALAR and s.type == SCALAR:
            return alu.branch_taken(opc, bits, d, s)
        if d.type != SCALAR and s.type == SCALAR and s.var == (0, 0) and bits == 64 \
                and not d.flags & MAYBE_NULL and opc in (o.BPF_JEQ, o.BPF_JNE) \
                and d.type not in (PTR_TO_SOCK_COMMON,):
            return 0 if opc == o.BPF_JEQ else 1
        return -1

    def refine_branch(self, st: VState, i, bits: int, taken: bool) -> None:
        opc = i.code & 0xF0
        regs = st.cur.regs
        d = regs[i.dst]
        if i.code & o.BPF_X:
            s = regs[i.src]
        else:
            s = Reg.const(i.imm if bits == 64 else i.imm & U32)
        if d.type == SCALAR and s.type == SCALAR:
            # (a register against itself is narrowed in place, as 6.18 does)
            alu.refine(opc, bits, d, d if i.src == i.dst and i.code & o.BPF_X else s, taken)
            for r in (d, s) if i.code & o.BPF_X else (d,):
                if not r.bounds_sane():
                    # reg_bounds_sanity_check: 6.18 keeps the branch and forgets the
                    # register's ranges (its known bits stay); no branch is dropped here
                    r.set_unbounded_keep_tnum()
                    r.sync()
            self.sync_ids(st, d)
            if i.code & o.BPF_X:
                self.sync_ids(st, s)
            return True
        if d.flags & MAYBE_NULL and opc in (o.BPF_JEQ, o.BPF_JNE) and s.type == SCALAR \
                and s.var == (0, 0) and bits == 64:
            is_null = (opc == o.BPF_JEQ) == taken
            self.mark_ptr_or_null(st, d.id, d.ref_obj_id, is_null)
            return True
        if bits == 64:
            self.match_pkt_pointers(st, opc, d, s, taken)
        return True

    def widen_imprecise_scalars(self, callsite: int, st: VState | None = None) -> None:
        """Back at a callback-calling helper (or a may_goto): a scalar no decision depended
        on (imprecise in the checkpoint of the previous visit and now) that changed since
        becomes unknown, so the loop reaches a fixed point (6.18 widen_imprecise_scalars)."""
        cur = self.st
        st = st or cur
        sites = [f.callsite for f in st.frames]
        # find_prev_entry: the nearest older checkpoint at this instruction on this path
        rec = cur.rec
        if rec is not None and rec.idx == callsite and st is not cur:
            rec = rec.parent                 # (a may_goto's own checkpoint is not older)
        prev = None
        while rec is not None:
            if rec.idx == callsite and [f.callsite for f in rec.state.frames] == sites:
                prev = rec.state
                break
            rec = rec.parent
        if prev is None:
            return
        idmap = IdMap()

        def exact(o, c) -> bool:
            return (o.var == c.var and o.smin == c.smin and o.smax == c.smax and o.umin == c.umin
                    and o.umax == c.umax and o.s32min == c.s32min and o.s32max == c.s32max
                    and o.u32min == c.u32min and o.u32max == c.u32max and idmap.check(o.id, c.id))
        for fo, fc in zip(prev.frames, st.frames):
            for o, c in zip(fo.regs, fc.regs):
                if o.type == SCALAR and c.type == SCALAR and not o.precise and not c.precise \
                        and not exact(o, c):
                    c.mark_unknown()
            for spi, (types, c) in enumerate(fc.stack):
                if spi >= len(fo.stack) or c is None or c.type != SCALAR or types[7] != 1:
                    continue
                o = fo.stack[spi][1]
                if o is not None and o.type == SCALAR and not o.precise and not c.precise \
                        and not exact(o, c):
                    w = c.copy()
                    w.mark_unknown()
                    fc.stack[spi] = (types, w)

    def frame_live(self, st: VState, fr: int) -> int:
        """Registers of frame `fr` live at this point (collect_linked_regs links only
        live registers): the current instruction's, or the caller's at its call."""
        if fr == len(st.frames) - 1:
            return self.live[st.insn_idx]
        return self.live[st.frames[fr + 1].callsite]

    def sync_ids(self, st: VState, r: Reg) -> None:
        if not r.id or r.type != SCALAR:
            return
        for fr, f in enumerate(st.frames):
            live = self.frame_live(st, fr)
            for n, other in enumerate(f.regs):
                if other is not r and other.id == r.id and other.type == SCALAR and live >> n & 1:
                    other.assign(_linked_copy(r, other))
            for spi, (types, other) in enumerate(f.stack):
                if other is not None and other is not r and other.id == r.id \
                        and other.type == SCALAR:
                    f.stack[spi] = (types, _linked_copy(r, other))   # slots are shared

    def mark_ptr_or_null(self, st: VState, rid: int, ref: int, is_null: bool) -> None:
        if is_null and ref:
            st.refs = [x for x in st.refs if x[0] != ref]
        for f in st.frames:
            for n, r in enumerate(f.regs):
                if r.id == rid and r.flags & MAYBE_NULL:
                    self._null_mark(r, is_null)
            for spi, (types, r) in enumerate(f.stack):
                if r is not None and r.id == rid and r.flags & MAYBE_NULL:
                    r = r.copy()
                    self._null_mark(r, is_null)
                    f.stack[spi] = (types, r)

    @staticmethod
    def _null_mark(r: Reg, is_null: bool) -> None:
        if is_null:
            r.mark_const(0)
        else:
            r.flags &= ~MAYBE_NULL
            inner = getattr(r.map, "inner_map_meta", None) if r.type == PTR_TO_MAP_VALUE else None
            if inner is not None:
                # a map-in-map lookup gives the inner map (typed by the outer map's template)
                r.type = CONST_PTR_TO_MAP
                r.map = InnerMapMeta.of(inner)
            if r.type != PTR_TO_SOCK_COMMON:
                r.id = 0

    def match_pkt_pointers(self, st: VState, opc: int, d: Reg, s: Reg, taken: bool) -> None:
        """try_match_pkt_pointers: `pkt' op pkt_end` proves [pkt, pkt') is in the packet;
        on the other side pkt' is at (-1) or beyond (-2) the end (mark_pkt_end)."""
        if d.type == PTR_TO_PACKET and s.type == PTR_TO_PACKET_END or \
                d.type == PTR_TO_PACKET_META and s.type == PTR_TO_PACKET:
            ptr = d
            # op -> (branch where the range is proven, end marker on the other branch)
            table = {o.BPF_JGT: (False, -2), o.BPF_JGE: (False, -1), o.BPF_JLT: (True, -1),
                     o.BPF_JLE: (True, -2)}
        elif s.type == PTR_TO_PACKET and d.type == PTR_TO_PACKET_END or \
                s.type == PTR_TO_PACKET_META and d.type == PTR_TO_PACKET:
            ptr = s
            table = {o.BPF_JLT: (False, -2), o.BPF_JLE: (False, -1), o.BPF_JGT: (True, -1),
                     o.BPF_JGE: (True, -2)}
        else:
            return
        row = table.get(opc)
        if row is None:
            return
        good_branch, end_mark = row
        if good_branch != taken:
            if ptr.type == PTR_TO_PACKET:
                ptr.range = end_mark
            return
        if ptr.off < 0:
            return
        new_range = ptr.off
        for r in st.all_regs():
            if r.type == ptr.type and r.id == ptr.id and r.range >= 0:
                r.range = max(r.range, new_range)
