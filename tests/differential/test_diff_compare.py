"""observe.compare: which differences count, and progedit: jump-preserving edits.
Pure data: these run everywhere, with or without bpf(2)."""

import pytest

from harness.differential.observe import Difference, LoadObs, Observation, RunObs, compare
from harness.differential.progedit import delete, encode_units, insert, to_units, Unit
from harness.isa.insn import Insn

OK = LoadObs(True, processed=5)
OK7 = LoadObs(True, processed=7)
UNCHECKED = LoadObs(True, processed=9, checked=False)
EACCES = LoadObs(False, "EACCES", "R0 !read_ok", 1)
EACCES_OTHER = LoadObs(False, "EACCES", "R2 !read_ok", 1)
EINVAL = LoadObs(False, "EINVAL", "unknown opcode ff", 0)
EPERM_EMU = LoadObs(False, "EPERM", "program type XDP needs CAP_NET_ADMIN or CAP_PERFMON", None)
EPERM_REAL = LoadObs(False, "EPERM", "BPF_PROG_LOAD: Operation not permitted", None, logged=False)


@pytest.mark.parametrize("emu, real, whats", [
    (OK, OK, []),
    (OK, OK7, ["processed"]),
    (UNCHECKED, OK7, []),                       # an unchecked count means nothing
    (UNCHECKED, EACCES, ["verdict"]),
    (EACCES, EACCES_OTHER, ["message"]),
    (EPERM_EMU, EPERM_REAL, []),                # no verifier log on one side: no reason line to compare
    (EACCES, EINVAL, ["errno"]),               # counts of different failures: not compared
])
def test_diff_load_fields(emu, real, whats):
    assert [d.what for d in compare(Observation(emu), Observation(real))] == whats


def test_diff_runs_and_maps():
    a = Observation(OK, [RunObs(0, 1), RunObs(1, 2)], {"m": {"00": "01"}, "only_emu": {}})
    b = Observation(OK, [RunObs(0, 1), RunObs(1, 3)], {"m": {"00": "02"}})
    diffs = compare(a, b)
    assert [d.what for d in diffs] == ["run cpu1", "map m", "map only_emu"]
    assert diffs[0].text() == "run cpu1: emulated retval 0x2, real retval 0x3"
    assert diffs[2].real == "not created"


def test_diff_key_ignores_instruction_numbers():
    a = Difference("verdict", "loaded", "EINVAL: jump out of range from insn 3 to 9")
    b = Difference("verdict", "loaded", "EINVAL: jump out of range from insn 1 to 7")
    assert a.key == b.key
    assert a.key != Difference("verdict", "loaded", "EINVAL: x").key


JA = 0x05
PROG = [Insn(0xB7, 0, imm=1),                   # 0: r0 = 1
        Insn(0x15, 0, off=2, imm=1),            # 1: if r0 == 1 goto 4
        Insn(0x18, 1, imm=5), Insn(0, imm=0),   # 2-3: r1 = 5 (two slots)
        Insn(0x07, 0, imm=1),                   # 4: r0 += 1
        Insn(JA, off=-6),                       # 5: goto 0
        Insn(0x95)]                             # 6: exit


def test_diff_units_roundtrip_and_delete():
    units = to_units(PROG)
    assert len(units) == 6 and units[1].target == 3 and units[4].target == 0
    assert encode_units(units) == PROG
    # drop the ld_imm64 (unit 2): the jump over it shrinks by two slots
    out = encode_units(delete(units, {2}))
    assert out[1].off == 0 and out[3].off == -4
    # drop the jump's target (unit 3): it now goes to the next surviving unit (goto)
    out = encode_units(delete(units, {3}))
    assert out[1].off == 2 and out[1 + 1 + 2] == Insn(JA, off=-5)


def test_diff_units_insert():
    units = to_units(PROG)
    out = encode_units(insert(units, 3, [Unit((Insn(0xB7, 2, imm=0),))]))
    assert out[1].off == 3                      # still reaches `r0 += 1`, one slot further
    out = encode_units(insert(units, 3, [Unit((Insn(0xB7, 2, imm=0),))], redirect=True))
    assert out[1].off == 2                      # now reaches the inserted instruction


ST8 = Insn(0x7A, 10, off=-8, imm=1)             # *(u64 *)(r10 - 8) = 1
LD8 = Insn(0x79, 0, 10, off=-8)                 # r0 = *(u64 *)(r10 - 8)
KEY = [Insn(0xBF, 2, 10), Insn(0x07, 2, imm=-8)]    # r2 = r10 - 8
LOOKUP = Insn(0x85, imm=1)


@pytest.mark.parametrize("insns, ok", [
    ([ST8, LD8], True),
    ([LD8, ST8], False),                        # read before the store
    ([Insn(0x62, 10, off=-8, imm=1), LD8], False),   # only 4 of the 8 bytes written
    ([ST8] + KEY + [LOOKUP], True),
    (KEY + [LOOKUP], False),                    # the key is uninitialised stack
    (KEY + [Insn(0x07, 2, imm=-8), ST8, LOOKUP], False),   # key at r10-16, only r10-8 written
])
def test_diff_stack_reads_initialised(insns, ok):
    from harness.differential.fuzz import stack_reads_initialised
    assert stack_reads_initialised(insns + [Insn(0x95)]) is ok
