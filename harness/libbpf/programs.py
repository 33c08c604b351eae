"""struct bpf_program: one function of an executable section.

Every FUNC symbol in an executable section is a Program, as in libbpf; those in `.text`
are subprograms (never loaded on their own, appended to the programs that call them).
The section name decides type, expected attach type and load flags (secdefs.py).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.isa.insn import Insn
from harness.kernelapi import BpfError, TestRunAttr, TestRunResult
from harness.libbpf.secdefs import SecDef, attach_target
from harness.uapi import BPF_F_TEST_RUN_ON_CPU, AttachType

if TYPE_CHECKING:
    from harness.libbpf.object import Object


@dataclass(eq=False)
class Program:
    obj: "Object"
    name: str
    sec_name: str
    sec_idx: int
    sec_insn_off: int                  # first slot inside its section
    insns: list[Insn]                  # this function only, as in the ELF
    is_subprog: bool
    sec_def: SecDef | None = None
    prog_type: int = 0
    expected_attach_type: int = 0
    prog_flags: int = 0
    autoload: bool = True
    global_func: bool = True
    relos: list = field(default_factory=list)     # relocs.Relo, insn index relative to this function
    fd: int = -1
    log: str = ""
    load_error: BpfError | None = None
    codes: list[Insn] = field(default_factory=list)         # insns after CO-RE (this load)
    final_insns: list[Insn] = field(default_factory=list)   # after linking and relocation
    poisoned: list[int] = field(default_factory=list)       # slots of poisoned map references
    placed: list = field(default_factory=list)              # (Program, base) of linked functions
    func_info: list = field(default_factory=list)
    line_info: list = field(default_factory=list)
    attach_btf_id: int = 0
    verified_insns: int = 0

    @property
    def sec_insn_cnt(self) -> int:
        return len(self.insns)

    @property
    def attach_target(self) -> str:
        return attach_target(self.sec_def, self.sec_name) if self.sec_def else ""

    # ------------------------------------------------------------- setters
    def _check_not_loaded(self) -> None:
        if self.obj.loaded:
            raise BpfError(errno.EBUSY, f"prog '{self.name}': object already loaded")

    def set_autoload(self, on: bool) -> None:
        self._check_not_loaded()
        self.autoload = bool(on)

    def set_type(self, prog_type: int) -> None:
        self._check_not_loaded()
        self.prog_type = prog_type

    def set_expected_attach_type(self, attach_type: int) -> None:
        self._check_not_loaded()
        self.expected_attach_type = attach_type

    # --------------------------------------------------------------- running
    def _require_fd(self) -> int:
        if self.fd < 0:
            raise BpfError(errno.EINVAL, f"prog '{self.name}': can't use BPF program without FD (was it loaded?)")
        return self.fd

    def test_run(self, ctx_in: bytes | None = None, data_in: bytes | None = None, *, cpu: int | None = None,
                 repeat: int = 1, flags: int = 0, ctx_size_out: int = 0, data_size_out: int = 0) -> TestRunResult:
        """bpf_prog_test_run_opts(); `cpu=` sets BPF_F_TEST_RUN_ON_CPU and opts.cpu."""
        if cpu is not None:
            flags |= BPF_F_TEST_RUN_ON_CPU
        attr = TestRunAttr(data_in=data_in, ctx_in=ctx_in, repeat=repeat, flags=flags,
                           cpu=cpu or 0, ctx_size_out=ctx_size_out, data_size_out=data_size_out)
        return self.obj.kernel.prog_test_run(self._require_fd(), attr)

    def attach_iter(self, map_fd: int = 0) -> int:
        """bpf_program__attach_iter(): a link for an iterator program (map element
        iterators take the map in link_info); returns the link fd."""
        return self.obj.kernel.link_create(self._require_fd(), 0, AttachType.TRACE_ITER, iter_map_fd=map_fd)

    def run_iter(self, map_fd: int = 0) -> bytes:
        """Attach, create the iterator, read it to EOF and close everything."""
        k = self.obj.kernel
        link = self.attach_iter(map_fd)
        try:
            it = k.iter_create(link)
            try:
                return k.iter_read(it)
            finally:
                k.close(it)
        finally:
            k.close(link)

    def __repr__(self) -> str:
        return f"<Program {self.name!r} sec {self.sec_name!r} type {self.prog_type} fd {self.fd}>"
