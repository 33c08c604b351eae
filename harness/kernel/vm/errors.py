"""Errors of the VM.  Both are HarnessErrors: one line naming the instruction."""

from __future__ import annotations

from harness.errors import HarnessError


class VmError(HarnessError):
    """A program the VM cannot translate (bad encoding, jump out of range, ...)."""


class VmFault(VmError):
    """A run-time failure: invalid memory access, budget exhausted, bad helper id, call
    stack too deep.  `pc` is the slot index of the faulting instruction (None while the
    fault is raised outside the VM, e.g. by Memory.read in a helper, until the VM adds it),
    `addr` the faulting address when there is one."""

    def __init__(self, message: str, *, pc: int | None = None, addr: int | None = None):
        self.pc = pc
        self.addr = addr
        self.reason = message
        super().__init__(f"insn {pc}: {message}" if pc is not None else message)

    def at(self, pc: int) -> "VmFault":
        """This fault attributed to instruction `pc` (unchanged if it already has one)."""
        if self.pc is not None:
            return self
        return VmFault(self.reason, pc=pc, addr=self.addr)
