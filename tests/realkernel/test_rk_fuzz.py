"""The differential fuzzer: generators are deterministic and well-formed, the running
kernel gives deterministic answers to them, and map behaviour agrees with the emulation."""

import random

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.isa.insn import decode, encode
from harness.realkernel import fuzz, probe
from harness.realkernel import fuzz_cmd

AVAILABLE = probe()
needs_kernel = pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")


@pytest.mark.parametrize("seed", range(0, 200, 7))
def test_programs_are_reproducible_and_loop_free(seed):
    prog = fuzz.random_program(random.Random(seed))
    assert prog == fuzz.random_program(random.Random(seed))
    assert prog[-1].code == 0x95
    for idx, insn in enumerate(prog):
        if insn.code & 0x07 in (0x05, 0x06) and insn.code != 0x95:
            assert 0 <= insn.off and idx + 1 + insn.off < len(prog)


@pytest.mark.parametrize("seed", range(0, 100, 9))
def test_map_cases_are_reproducible(seed):
    assert fuzz.random_map_case(random.Random(seed), 2) == fuzz.random_map_case(random.Random(seed), 2)


@needs_kernel
def test_real_kernel_answers_are_deterministic(kernel):
    """Each generated program is refused with a reason line, or runs to the same retval
    twice (the generator never reads uninitialised stack, which root may do for garbage)."""
    refused = 0
    for seed in range(40):
        code = encode(fuzz.random_program(random.Random(seed)))
        first, second = fuzz.run_program(kernel, code), fuzz.run_program(kernel, code)
        assert first == second
        if first[0] == "load":
            refused += 1
            assert first[2], f"seed {seed}: refused without a reason line"
    assert 0 < refused < 40


@needs_kernel
def test_map_fuzz_agrees_with_emulation(kernel):
    try:
        emulated = fuzz.emulated_like(kernel)
    except Exception as exc:      # noqa: BLE001
        pytest.skip(f"emulated kernel not usable yet: {exc}")
    diffs = fuzz.fuzz_maps(kernel, emulated, 60, seed=500)
    assert [(d.seed, d.detail) for d in diffs] == []


def test_cli_rejects_unknown_generator(capsys):
    assert main(["fuzz-diff", "--what", "nope"]) == 2
    assert "unknown generator" in capsys.readouterr().err


@needs_kernel
def test_cli_maps_run(capsys):
    assert main(["fuzz-diff", "--what", "maps", "--count", "20"]) == 0
    assert "maps: 20 cases from seed 1, differences: none" in capsys.readouterr().out


def test_cli_without_kernel(monkeypatch, capsys):
    from harness.realkernel import Availability
    monkeypatch.setattr("harness.realkernel.probe", lambda: Availability(False, "bpf(): EPERM"))
    assert main(["fuzz-diff", "--what", "maps", "--count", "1"]) == 2
    assert "running kernel unavailable: bpf(): EPERM" in capsys.readouterr().err
