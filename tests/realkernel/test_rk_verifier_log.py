"""reason_line(): which line of a kernel log is the failure's reason (no kernel needed)."""

import pytest

from harness.realkernel.verifier_log import processed_insns, reason_line

STATS = "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"


@pytest.mark.parametrize("log, reason", [
    # running-kernel.md §1 shapes, as 6.18 prints them
    (f"0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\n{STATS}\n", "R0 !read_ok"),
    (f"jump out of range from insn 0 to 6\n{STATS}\n", "jump out of range from insn 0 to 6"),
    ("1: (15) if r0 == 0x0 goto pc-1        ; R0=0\ninfinite loop detected at insn 1\n"
     f"cur state: R0=0 R1=ctx() R10=fp0\nold state: R0=P0 R1=ctx() R10=fp0\n{STATS}\n",
     "infinite loop detected at insn 1"),
    (f"R0 !read_ok\nverification time 7 usec\nstack depth 0\n{STATS}\n", "R0 !read_ok"),
    ("magic: 0xeb9f\n[38] DATASEC .bss size=0 vlen=1 size == 0\n", "[38] DATASEC .bss size=0 vlen=1 size == 0"),
    (f"invalid type id 1 in func info{STATS}\n", "invalid type id 1 in func info"),   # no newline on 6.18
    (f"{STATS}\n", ""),
    ("", ""),
])
def test_reason_line(log, reason):
    assert reason_line(log) == reason


@pytest.mark.parametrize("log, count", [
    (f"R0 !read_ok\n{STATS}\n", 1),
    ("processed 2002 insns (limit 1000000) max_states_per_insn 1 total_states 51 peak_states 51 mark_read 0", 2002),
    ("no stats here", None),
])
def test_processed_insns(log, count):
    assert processed_insns(log) == count
