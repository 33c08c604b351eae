"""Soundness cross-check: the VM's concrete R0 at exit lies in a range the verifier computed.

The verifier claims that at every reached main-program `exit` R0 is within its abstract value
(tnum + u64/s64/u32/s32 bounds).  With `record_exit_r0` set on the emulated kernel, prog_load
keeps those values on the BpfProg; running the same program on the VM must then give an r0
inside at least one of them -- otherwise the verifier's range tracking is unsound (it would
prune or accept on facts that are false at run time).

Conformance cases: harness/differential/conformance.py's XDP wrapping stores r0 in a map and
returns XDP_PASS, which hides r0 from the exit check, so the cases that need no memory (no
`-- mem`, registers r1/r2 never named) are loaded directly as SOCKET_FILTER programs and run
with the VM's conformance runner.  Corpus programs with `__retval`: built with the first
available toolchain and run like harness/stages/run.py; test_run's retval is the low 32 bits,
so only the 32-bit facts are checked there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.differential.conformance import SUITE_DIR, skip_reason
from harness.isa import opcodes as o
from harness.isa.conformance import load_case
from harness.isa.insn import encode
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.uapi import ProgType

CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus"
TAIL_CALL = 12


def _kernel() -> EmulatedKernel:
    k = EmulatedKernel()
    k.record_exit_r0 = True
    return k


def _needs_memory(case) -> bool:
    """Uses the runner's r1 (memory) / r2 (length) convention, which a socket filter lacks."""
    if case.mem:
        return True
    for i in case.insns:
        if i.code == (o.BPF_JMP | o.BPF_CALL):
            continue                              # src is the call kind, not a register
        if i.dst in (1, 2) or i.src in (1, 2):
            return True
    return False


def _conformance_cases():
    return sorted(SUITE_DIR.glob("*.data")) if SUITE_DIR.is_dir() else []


def test_conformance_exit_r0_within_verifier_ranges():
    from harness.kernel.vm.conformance import run_case
    files = _conformance_cases()
    if not files:
        pytest.skip(f"conformance suite not found at {SUITE_DIR}")
    checked, rejected, unsound = 0, 0, []
    for path in files:
        case = load_case(path)
        if skip_reason(case) or _needs_memory(case):
            continue
        k = _kernel()
        try:
            fd = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(list(case.insns)),
                                          license="GPL")).fd
        except BpfError:
            rejected += 1
            continue
        ranges = k.fds.get(fd).exit_r0
        assert ranges, f"{case.name}: accepted, but no exit R0 recorded"
        r0 = run_case(case)
        checked += 1
        if not any(r.contains(r0) for r in ranges):
            unsound.append(f"{case.name}: r0={r0:#x} not in {ranges}")
    print(f"soundness: {checked} conformance programs checked ({rejected} rejected by the verifier)")
    assert checked > 50, f"only {checked} conformance programs checked"
    assert not unsound, "verifier ranges exclude the VM's r0:\n" + "\n".join(unsound)


def _corpus_files():
    return sorted(p for p in CORPUS_DIR.rglob("*.c") if "__retval" in p.read_text(errors="replace"))


@pytest.mark.parametrize("src", _corpus_files(), ids=lambda p: str(p.relative_to(CORPUS_DIR)))
def test_corpus_retval_within_verifier_ranges(src, bpf_build):
    from harness.annotations import from_object, from_source
    from harness.libbpf.object import Object
    from harness.stages.run import OUT_BUF_LEN, TEST_DATA_LEN
    from harness.corpus import load_case as load_corpus_case
    case = load_corpus_case(src, CORPUS_DIR)
    obj_path = bpf_build(src, mcpu=case.mcpu or "v3", cflags=case.cflags)
    anns, _ = from_object(obj_path)
    if not anns:
        anns = from_source(src.read_text(errors="replace"))
    names = [n for n, a in anns.items()
             if a.retval is not None and not a.auxiliary and a.expect_success is not False]
    if not names:
        pytest.skip("no runnable __retval program in this object")
    checked, unsound = 0, []
    for name in names:
        k = _kernel()
        obj = Object.open(str(obj_path), k)
        try:
            target = None
            for p in obj.programs:
                ann = anns.get(p.name)
                p.autoload = p.name == name or bool(ann is not None and ann.auxiliary)
                if p.name == name:
                    target = p
                    if ann is not None:
                        p.prog_flags = (p.prog_flags | ann.prog_flags) & ~ann.prog_flags_cleared
            if target is None:
                continue
            try:
                obj.load(keep_going=True, log_level=0)
            except BpfError:
                continue
            if target.load_error is not None or target.fd < 0:
                continue                          # the verifier refused it: nothing to compare
            prog = k.fds.get(target.fd)
            if any(i.code == (o.BPF_JMP | o.BPF_CALL) and i.src == 0 and i.imm == TAIL_CALL
                   for i in prog.insns):
                continue                          # the retval may come from another program's exit
            try:
                if target.prog_type in (ProgType.SYSCALL, ProgType.RAW_TRACEPOINT,
                                        ProgType.RAW_TRACEPOINT_WRITABLE):
                    res = target.test_run()
                else:
                    res = target.test_run(data_in=bytes(TEST_DATA_LEN), data_size_out=OUT_BUF_LEN)
            except BpfError:
                continue
            assert prog.exit_r0, f"{name}: accepted, but no exit R0 recorded"
            checked += 1
            if not any(r.contains_u32(res.retval) for r in prog.exit_r0):
                unsound.append(f"{name}: retval={res.retval:#x} not in {prog.exit_r0}")
        finally:
            obj.destroy()
    print(f"soundness: {src.name}: {checked} programs, all within the verifier's ranges"
          if not unsound else f"soundness: {src.name}: {len(unsound)} unsound")
    if checked == 0:
        pytest.skip("no __retval program of this object loaded and ran")
    assert not unsound, "verifier ranges exclude the VM's retval:\n" + "\n".join(unsound)


def _range(value, mask, umin, umax, smin, smax):
    from harness.kernel.progload import UNKNOWN_RANGE
    return UNKNOWN_RANGE._replace(value=value, mask=mask, umin=umin, umax=umax, smin=smin, smax=smax)


@pytest.mark.parametrize("rng, x, inside", [
    (_range(5, 0, 5, 5, 5, 5), 5, True),
    (_range(5, 0, 5, 5, 5, 5), 4, False),                                  # tnum says 5
    (_range(0, 0xF, 0, 10, 0, 10), 11, False),                             # umax
    (_range(0, (1 << 64) - 1, 0, (1 << 64) - 1, -1, 0), (1 << 64) - 1, True),  # -1 as u64
    (_range(0, (1 << 64) - 1, 0, (1 << 64) - 1, 0, 7), (1 << 64) - 1, False),  # smin 0
])
def test_scalar_range_contains(rng, x, inside):
    assert rng.contains(x) is inside
