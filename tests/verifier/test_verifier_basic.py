"""Straight-line programs: accepted ones and the kernel's log format for them."""

import pytest

from tests.verifier.vutil import MapSpec, Prog, load


def test_level1_success_log_is_only_the_stats_line():
    out = load(Prog("mov %r0, 42\nexit"))
    assert out.ok and out.processed == 2
    assert out.log == ("processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 "
                       "peak_states 0 mark_read 0\n")


def test_level2_log_matches_observed_kernel():
    """The exact log_level 2 text of running-kernel.md §1 (6.18)."""
    out = load(Prog("mov %r0, 42\nexit"), log_level=2)
    assert out.log == (
        "func#0 @0\n"
        "Live regs before insn:\n"
        "      0: .......... (b7) r0 = 42\n"
        "      1: 0......... (95) exit\n"
        "0: R1=ctx() R10=fp0\n"
        "0: (b7) r0 = 42                       ; R0=42\n"
        "1: (95) exit\n"
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n")


def test_level4_stats():
    out = load(Prog("stdw [%r10-16], 0\nmov %r0, 0\nexit"), log_level=4)
    lines = out.log.splitlines()
    assert lines[0].startswith("verification time ") and lines[0].endswith(" usec")
    assert lines[1] == "stack depth 16"
    assert lines[2].startswith("processed 3 insns")


def test_failure_log_ends_with_stats_and_names_the_insn():
    out = load(Prog("exit"))
    assert (out.ok, out.errno, out.message) == (False, "EACCES", "R0 !read_ok")
    assert out.log.splitlines()[-3:-1] == ["0: (95) exit", "R0 !read_ok"]
    assert out.log.splitlines()[-1].startswith("processed 1 insns")


def test_map_lookup_null_check_and_value_read():
    prog = Prog("""
        mov %r1, 0
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map:m
        call 1
        jeq %r0, 0, out
        ldxw %r0, [%r0+4]
        out:
        exit""", maps={"m": MapSpec(1, 4, 8, 16)})
    out = load(prog, log_level=2)
    assert out.ok, out.log
    assert "R0=map_value_or_null(id=1,map=m,ks=4,vs=8)" in out.log
    assert "R1=map_ptr(map=m,ks=4,vs=8)" in out.log


@pytest.mark.parametrize("text,state", [
    ("mov %r0, 42\nexit", "R0=42"),
    ("mov %r0, -1\nexit", "R0=-1"),
    ("mov32 %r0, -1\nexit", "R0=0xffffffff"),
    ("ldxw %r0, [%r1+0]\nexit", "R0=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"),
    ("ldxb %r0, [%r1+0]\nexit", "R0=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"),
    ("mov %r0, %r10\nadd %r0, -8\nmov %r0, 0\nexit", "R0=fp-8"),
])
def test_state_annotations(text, state):
    out = load(Prog(text), log_level=2)
    assert out.ok, out.log
    assert state in out.log
