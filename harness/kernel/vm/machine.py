"""The VM: runs translated programs on one simulated CPU over a Memory.

A `Vm` binds a translated program (harness/kernel/vm/codegen.py) to its memory, helper
dispatch and CPU number, then calls the entry function.  It is also the object helpers
see: `vm.args` / `vm.arg(n)` (r1..r5 of the call), `vm.memory`, `vm.cpu`,
`vm.call_function(addr, *args)` for callbacks, `vm.stop(r0)` and `vm.tail_call(...)`.
"""

from __future__ import annotations

import builtins
import struct
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

from harness.errors import HarnessError
from harness.isa import Insn
from harness.isa import opcodes as o
from harness.kernel.vm.errors import VmError, VmFault
from harness.kernel.vm.memory import FUNC_SLOT, Memory
from harness.kernel.vm.codegen import (M32, M64, MAX_CALL_FRAMES, S32, S64, STACK_SIZE,
                                         Program, translate)

DEFAULT_BUDGET = 100_000_000
MAX_TAIL_CALL_CNT = 33
_ZERO_STACK = bytes(STACK_SIZE)

HelperFn = Callable[["Vm"], int]
HelperDispatch = Callable[[int, "Vm"], int]


@dataclass(frozen=True)
class RunResult:
    r0: int                 # u64
    insns_executed: int     # counted per basic block (a fault mid-block counts the block)
    tail_calls: int = 0


class VmStop(Exception):
    """Raised by `Vm.stop`: ends the whole run with r0 (not an error)."""

    def __init__(self, r0: int):
        super().__init__(f"program stopped with r0={r0}")
        self.r0 = r0 & M64
        self.n = 0


class VmTailCall(Exception):
    """Raised by `Vm.tail_call`: the run continues in another program, r1 unchanged."""

    def __init__(self, program, entry: int = 0):
        super().__init__("tail call")
        self.program = program
        self.entry = entry
        self.n = 0


def _sdiv64(a: int, b: int) -> int:
    if not b:
        return 0
    a, b = (a ^ S64) - S64, (b ^ S64) - S64
    q = abs(a) // abs(b)
    return (-q if (a < 0) != (b < 0) else q) & M64


def _smod64(a: int, b: int) -> int:
    if not b:
        return a
    a, b = (a ^ S64) - S64, (b ^ S64) - S64
    r = abs(a) % abs(b)
    return (-r if a < 0 else r) & M64


def _sdiv32(a: int, b: int) -> int:
    b &= M32
    if not b:
        return 0
    a, b = ((a & M32) ^ S32) - S32, (b ^ S32) - S32
    q = abs(a) // abs(b)
    return (-q if (a < 0) != (b < 0) else q) & M32


def _smod32(a: int, b: int) -> int:
    b &= M32
    if not b:
        return a & M32
    a, b = ((a & M32) ^ S32) - S32, (b ^ S32) - S32
    r = abs(a) % abs(b)
    return (-r if a < 0 else r) & M32


def _budget(pc: int) -> VmFault:
    return VmFault("instruction budget exhausted", pc=pc)


def _too_deep(frames: int) -> VmFault:
    return VmFault(f"the call stack of {frames} frames is too deep")


def _unsupported(what: str) -> VmFault:
    return VmFault(f"unsupported instruction: {what}")


_STATIC_ENV = {
    "__builtins__": builtins,
    "MEMERR": (KeyError, IndexError, struct.error),
    "VmFault": VmFault, "STOP": (VmStop, VmTailCall),
    "SDIV64": _sdiv64, "SMOD64": _smod64, "SDIV32": _sdiv32, "SMOD32": _smod32,
    "BUDGET": _budget, "TOODEEP": _too_deep, "UNSUPPORTED": _unsupported,
    "U8": struct.Struct("<B").unpack_from, "U16": struct.Struct("<H").unpack_from,
    "U32": struct.Struct("<I").unpack_from, "U64": struct.Struct("<Q").unpack_from,
    "S8": struct.Struct("<b").unpack_from, "S16": struct.Struct("<h").unpack_from,
    "S32": struct.Struct("<i").unpack_from,
    "P8": struct.Struct("<B").pack_into, "P16": struct.Struct("<H").pack_into,
    "P32": struct.Struct("<I").pack_into, "P64": struct.Struct("<Q").pack_into,
}


class UnknownHelper(Exception):
    """Raised by a helper dispatch callable for an id it does not implement; the VM
    reports it as 'invalid helper call: unknown helper id N'."""


class Vm:
    """One simulated CPU.  See harness/kernel/vm/__init__.py for the contract."""

    def __init__(self, memory: Memory | None = None,
                 helpers: HelperDispatch | Mapping[int, HelperFn] | None = None,
                 cpu: int = 0, budget: int = DEFAULT_BUDGET,
                 kfuncs: HelperDispatch | None = None):
        self.memory = memory if memory is not None else Memory()
        self.cpu = cpu
        self.budget = budget
        self.args: tuple[int, ...] = (0, 0, 0, 0, 0)
        self.context: Any = None          # free slot for the caller (run state, ...)
        if helpers is None or callable(helpers):
            self._dispatch = helpers
        else:
            self._dispatch = _table_dispatch(dict(helpers))
        self._kfuncs = kfuncs
        self._frames: list[tuple[bytearray, int]] = []
        self._bound: dict[int, tuple[Program, dict]] = {}
        self._funcs: dict[int, Callable] = {}
        self._depth = 0
        self._limit = 0
        self._used = 0

    # --- running -----------------------------------------------------------------------------
    def run(self, program: Program | list[Insn], *, entry: int = 0, r1: int = 0, r2: int = 0,
            r3: int = 0, r4: int = 0, r5: int = 0) -> RunResult:
        """Run `program` (instruction slots or a translated Program) from slot `entry`."""
        saved = (self._funcs, self._depth, self._limit, self._used)
        total, tails = 0, 0
        try:
            while True:
                funcs = self._bind(program, entry)
                self._funcs = funcs
                try:
                    r0, n = funcs[entry](r1 & M64, r2 & M64, r3 & M64, r4 & M64, r5 & M64,
                                         0, self.budget - total)
                    return RunResult(r0, total + n, tails)
                except VmStop as stop:
                    return RunResult(stop.r0, total + stop.n, tails)
                except VmTailCall as tc:
                    total += tc.n
                    tails += 1
                    if tails > MAX_TAIL_CALL_CNT:      # the kernel just falls through; we stop
                        raise VmFault(f"more than {MAX_TAIL_CALL_CNT} tail calls") from None
                    program, entry = tc.program, tc.entry
        finally:
            self._funcs, self._depth, self._limit, self._used = saved

    def close(self) -> None:
        """Release the stack regions of this VM from its memory."""
        for _, base in self._frames:
            self.memory.remove(base)
        self._frames.clear()

    def __enter__(self) -> "Vm":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _bind(self, program, entry: int) -> dict:
        prog = program if isinstance(program, Program) else translate(program, (entry,) if entry else ())
        cached = self._bound.get(id(prog))
        if cached is not None and cached[0] is prog:
            funcs = cached[1]
        else:
            env = dict(_STATIC_ENV)
            env.update(RB=self.memory.rbuf, WB=self.memory.wbuf, FRAME=self._frame,
                       HELP=self._helper, CALLX=self._callx, KFUNC=self._kfunc,
                       PCPU=self._percpu, MEMFAULT=partial(self._memfault, prog.insns))
            exec(prog.code, env)
            funcs = env["_bind"]()
            self._bound[id(prog)] = (prog, funcs)
        if entry not in funcs:
            raise VmError(f"entry {entry} is not a function start of the program")
        return funcs

    def _frame(self, depth: int) -> tuple[bytearray, int]:
        if depth < len(self._frames):
            buf, base = self._frames[depth]
            buf[:] = _ZERO_STACK
            return buf, base + STACK_SIZE
        buf = bytearray(STACK_SIZE)
        base = self.memory.add(buf, kind="stack", name=f"frame{depth}")
        self._frames.append((buf, base))
        return buf, base + STACK_SIZE

    # --- helper interface --------------------------------------------------------------------
    def arg(self, n: int) -> int:
        """Register r<n> (1..5) of the current helper call."""
        return self.args[n - 1]

    def stop(self, r0: int = 0):
        """End the whole run now with `r0` (raises; does not return)."""
        raise VmStop(r0)

    def tail_call(self, program, entry: int = 0):
        """Continue the run in `program` with the current r1 (raises; does not return)."""
        raise VmTailCall(program, entry)

    def call_function(self, func: int, *args: int) -> int:
        """Call a BPF function of the running program (a callback address as loaded by
        ld_imm64 BPF_PSEUDO_FUNC, or a function's slot index) with up to 5 arguments."""
        if len(args) > 5:
            raise VmFault("a BPF function takes at most 5 arguments")
        idx = func & M32 if func >> 32 == FUNC_SLOT else func
        f = self._funcs.get(idx)
        if f is None:
            raise VmFault(f"0x{func & M64:x} is not a function of this program")
        depth, limit, used = self._depth, self._limit, self._used
        if depth + 1 >= MAX_CALL_FRAMES:
            raise _too_deep(depth + 2)
        regs = [a & M64 for a in args] + [0] * (5 - len(args))
        r0, n = f(*regs, depth + 1, limit - used)
        self._depth, self._limit, self._used = depth, limit, used + n
        if used + n > limit:
            raise VmFault("instruction budget exhausted")
        return r0

    def fault(self, message: str) -> VmFault:
        """A VmFault for a helper to raise (the VM adds the instruction index)."""
        return VmFault(message)

    def _helper(self, hid, depth, limit, r1, r2, r3, r4, r5):
        self.args = (r1, r2, r3, r4, r5)
        self._depth, self._limit, self._used = depth, limit, 0
        dispatch = self._dispatch
        if dispatch is None:
            raise VmFault(f"invalid helper call: unknown helper id {hid}")
        try:
            r0 = dispatch(hid, self)
        except (VmFault, VmStop, VmTailCall):
            raise
        except UnknownHelper:
            raise VmFault(f"invalid helper call: unknown helper id {hid}") from None
        except HarnessError:
            raise
        except Exception as exc:
            raise VmFault(f"helper {hid} failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(r0, int) or isinstance(r0, bool):
            raise VmFault(f"helper {hid} returned {r0!r}, not an integer")
        return r0 & M64, self._used

    def _callx(self, target, depth, limit, r1, r2, r3, r4, r5):
        if target >> 32 == FUNC_SLOT:
            f = self._funcs.get(target & M32)
            if f is None:
                raise VmFault(f"callx to 0x{target:x}, which is not a function")
            if depth + 1 >= MAX_CALL_FRAMES:
                raise _too_deep(depth + 2)
            return f(r1, r2, r3, r4, r5, depth + 1, limit)
        if target > 0x7FFFFFFF:
            raise VmFault(f"callx to 0x{target:x}, which is neither a helper id nor a function")
        return self._helper(target, depth, limit, r1, r2, r3, r4, r5)

    def _kfunc(self, btf_id, off, depth, limit, r1, r2, r3, r4, r5):
        if self._kfuncs is None:
            raise VmFault(f"kernel function calls are not supported (btf_id {btf_id})")
        self.args = (r1, r2, r3, r4, r5)
        self._depth, self._limit, self._used = depth, limit, 0
        r0 = self._kfuncs(btf_id, self)
        return int(r0) & M64, self._used

    def _percpu(self, addr: int) -> int:
        return self.memory.percpu_addr(addr, self.cpu)

    def _memfault(self, insns, p: int, regs) -> VmFault:
        i = insns[p]
        cl = o.cls(i.code)
        size = o.SIZE_BYTES.get(o.size(i.code), 8)
        if cl == o.BPF_LDX or (o.is_atomic(i) and i.imm == o.BPF_LOAD_ACQ):
            addr, write = regs[i.src if cl == o.BPF_LDX else i.dst] + i.off, False
        elif cl in (o.BPF_ST, o.BPF_STX):
            addr, write = regs[i.dst] + i.off, True
        else:
            return VmFault("invalid memory access", pc=p)
        return VmFault(self.memory.explain(addr, size, write), pc=p, addr=addr & M64)


def _table_dispatch(table: Mapping[int, HelperFn]) -> HelperDispatch:
    def dispatch(hid: int, vm: Vm) -> int:
        fn = table.get(hid)
        if fn is None:
            raise UnknownHelper(hid)
        return fn(vm)
    return dispatch
