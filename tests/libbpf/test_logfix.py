"""libbpf's verifier-log fix-up for poisoned map references (upstream-spec §4.5, §6.4)."""

from __future__ import annotations

import errno

import pytest

from harness.kernelapi import BpfError
from harness.kernel.syscall import EmulatedKernel
from harness.libbpf.object import Object


@pytest.fixture
def obj(build):
    return Object.open(str(build("test_global_percpu_data.c")), EmulatedKernel(),
                       obj_name="test_global_percpu_data")


@pytest.mark.parametrize("log", [
    "0: R1=ctx()\n4: (85) call unknown#2001000000\ninvalid func unknown#2001000000\nprocessed 5 insns\n",
    "invalid func unknown#2001000000\n",
])
def test_poison_rewrite(obj, log):
    p = obj.find_program_by_name("update_percpu_data")
    p.poisoned = [4]
    err = obj._fixup_error(p, BpfError(errno.EINVAL, "invalid func unknown#2001000000", log))
    assert err.errno == errno.EINVAL
    assert err.message == "BPF map '.percpu' is referenced but wasn't created"
    assert "4: <invalid BPF map reference>\nBPF map '.percpu' is referenced but wasn't created" in err.log
    assert "unknown#2001000000" not in err.log


def test_other_errors_pass_through(obj):
    p = obj.find_program_by_name("update_percpu_data")
    err = obj._fixup_error(p, BpfError(errno.EACCES, "R1 invalid mem access 'scalar'", "x\n"))
    assert (err.errno, err.message, err.log) == (errno.EACCES, "R1 invalid mem access 'scalar'", "x\n")
