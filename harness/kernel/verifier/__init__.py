"""A kernel-style BPF verifier in pure Python.

`verify(ctx)` is what the emulated kernel's prog_load calls (harness/kernel/progload.py):
structural checks (cfg.py), then abstract interpretation of every path (checker.py) with
typed registers (regs.py, tnum.py, alu.py), stack slots (state.py), memory regions
(memory.py, ctxaccess.py) and calls (calls.py), producing the kernel's log (vlog.py).
A rejection raises harness.kernelapi.BpfError(errno, first error line, log=full log).

Also here: expect.py (selftest-annotation matcher used by harness/stages/verify.py) and
cmd.py (`python -m harness verify OBJ`).  Precision is tracked like 6.18's (precision.py:
backtracking along the path into the recorded states); global functions are verified on
their own from their BTF prototype (globalfn.py); BTF line info is printed before the
instructions it covers; callbacks (bpf_loop, bpf_for_each_map_elem) are pushed as paths of
their own that come back to the helper call until the state repeats (calls.push_callback).
Known simplifications: kfuncs and BTF-typed pointers are not modelled, and of
bpf_spin_lock only the held lock's map is tracked (not the lock's register id).

Agreement with the running kernel on the conformance suite (tests/verifier/suite.py) is
measured by bench/verifier_agreement.py and printed by the tests/verifier pytest run;
throughput by bench/verifier_bench.py.
"""

from __future__ import annotations

import errno

from harness.kernel.progload import LoadContext, VerifyResult
from harness.kernelapi import BpfError


def verify(ctx: LoadContext) -> VerifyResult:
    from harness.kernel.verifier.checker import Verifier
    v = Verifier(ctx)
    try:
        err = v.run()
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        # Our bug, not the program's: report it like the kernel's "verifier bug" (EFAULT)
        # instead of letting a traceback escape from bpf(2).
        raise BpfError(errno.EFAULT, f"verifier bug: {type(exc).__name__}: {exc}",
                       log=v.log.text()) from None
    log = v.log.text()
    if err is not None:
        raise BpfError(err.errno, err.message, log=log)
    return VerifyResult(log=log, processed=v.processed, max_states_per_insn=v.max_states_per_insn,
                        total_states=v.total_states, peak_states=v.peak_states, mark_read=0,
                        stack_depth=list(v.stack_depth), subprog_starts=list(v.subprogs),
                        exit_r0=list(v.exit_r0))


__all__ = ["verify"]
