"""VM speed: BPF instructions executed per second on our own C programs (corpus/bench).

    python bench/vm_bench.py [--toolchain clang22] [--seconds 1.0] [--mcpu v3]

Each program is compiled with an available Clang (harness.compile, cached), taken from the
object as instruction slots and run directly on harness.kernel.vm with r1 = a zeroed input
buffer.  The `bench:` comment in each C file gives the buffer size and the expected r0
(low 32 bits), so a wrong answer fails the benchmark instead of producing a number.
hashmap.c needs a BPF hash map and the map helpers: it is loaded through the emulated
kernel (libbpf loader -> prog_load) and run on the kernel's helper bridge; when that path
is unavailable (or rejects the program) a tiny inline runner with dict-backed map helpers
is used instead, and the line says so and why.  The first run of each program includes its
translation; the figure reported is the best of the timed runs that follow.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.errors import HarnessError  # noqa: E402
from harness.kernel.vm import Memory, Vm, translate  # noqa: E402

CORPUS = ROOT / "corpus" / "bench"
SPEC = re.compile(r"bench:\s*mem=(\d+)\s+r0=(\d+)")


class Skip(Exception):
    pass


def spec_of(path: Path) -> tuple[int, int]:
    m = SPEC.search(path.read_text())
    if not m:
        raise HarnessError("no 'bench: mem=N r0=V' comment", path=str(path))
    return int(m.group(1)), int(m.group(2))


def compile_obj(path: Path, toolchain: str | None, mcpu: str) -> tuple[Path, str]:
    from harness.compile import compile_source
    from harness.toolchains import first_available, get_toolchain
    tc = get_toolchain(toolchain) if toolchain else first_available()
    if tc is None or not tc.available():
        raise Skip("no Clang toolchain available")
    res = compile_source(path, tc, mcpu=mcpu)
    if not res.ok:
        raise HarnessError(f"compile {res.status}: {res.signature}", path=str(path))
    return res.obj_path, tc.name


def direct_runner(obj_path: Path):
    """(run(mem_size) -> RunResult) for a relocation-free single program."""
    from harness.elf import BpfObject
    progs = [p for p in BpfObject.open(str(obj_path)).programs() if p.section != ".text"]
    if len(progs) != 1:
        raise HarnessError(f"expected one program, found {len(progs)}", path=str(obj_path))
    prog = progs[0]
    if prog.relocations:
        raise HarnessError(f"program {prog.name} has relocations; direct runs need none",
                           path=str(obj_path))
    program = translate(prog.insns)
    mem = Memory()
    vm = Vm(mem, budget=1_000_000_000)

    def run(mem_size: int):
        buf = bytearray(mem_size)
        base = mem.add(buf, kind="ctx", name="input")
        try:
            return vm.run(program, r1=base, r2=mem_size)
        finally:
            mem.remove(base)
    return run


def kernel_runner(obj_path: Path):
    """Load through the emulated kernel (maps, prog_load) and run on its helper bridge."""
    try:
        from harness.kernel import EmulatedKernel
        from harness.kernel.helpers import runenv
        from harness.kernel.helpers.call import RunState
        from harness.libbpf.object import open_object
    except ImportError as exc:
        raise Skip(f"map helpers not available ({exc})") from None
    kernel = EmulatedKernel()
    obj = open_object(str(obj_path), kernel)
    try:
        obj.load()
    except HarnessError as exc:
        raise Skip(f"emulated kernel rejected the object: {exc}") from None
    except Exception as exc:       # another area's bug: report, do not crash the bench
        raise Skip(f"loading through the emulated kernel failed: {type(exc).__name__}: {exc}") from None
    lp = obj.programs[0] if isinstance(obj.programs, list) else obj.programs()[0]
    prog = kernel.fds.get(lp.fd)
    mem = runenv.kernel_memory(kernel)
    insns = runenv.runtime_insns(kernel, prog)
    make_dispatch = getattr(runenv, "_make_dispatch", None)
    if make_dispatch is None:
        raise Skip("runenv has no helper dispatch to bind")

    def run(mem_size: int):
        state = RunState(kernel, prog, 0)
        vm = Vm(mem, cpu=0, budget=1_000_000_000)
        call = runenv.VmHelperCall(vm, state)
        vm._dispatch = make_dispatch(kernel, state, call)
        vm.context = state
        try:
            return vm.run(insns, r1=0)
        finally:
            call.release()
            vm.close()
    return run


def inline_map_runner(obj_path: Path):
    """Fallback for hashmap.c: the one hash map as a Python dict behind helpers 1-3
    (lookup / update / delete), the map reference patched to an object handle."""
    from harness.elf import BpfObject
    from harness.isa import Insn
    (prog,) = [p for p in BpfObject.open(str(obj_path)).programs() if p.section != ".text"]
    mem = Memory()
    table: dict[bytes, bytearray] = {}
    handle = mem.add_object(table, kind="map", name="churn")
    insns = list(prog.insns)
    for r in prog.relocations:
        k = (r.offset - prog.offset) // 8
        lo, hi = handle & 0xFFFFFFFF, handle >> 32
        s32 = lambda v: v - (1 << 32) if v >> 31 else v  # noqa: E731
        insns[k] = Insn(insns[k].code, insns[k].dst, 0, 0, s32(lo))
        insns[k + 1] = Insn(0, 0, 0, 0, s32(hi))

    def lookup(vm):
        value = table.get(vm.memory.read(vm.arg(2), 4))
        return vm.memory.address_of(value) if value is not None else 0

    def update(vm):
        key, value = vm.memory.read(vm.arg(2), 4), vm.memory.read(vm.arg(3), 8)
        if key not in table and len(table) >= 1024:
            return -7                                 # -E2BIG
        table.setdefault(key, bytearray(8))[:] = value
        return 0

    def delete(vm):
        value = table.pop(vm.memory.read(vm.arg(2), 4), None)
        if value is None:
            return -2                                 # -ENOENT
        vm.memory.release(value)
        return 0
    program = translate(insns)
    vm = Vm(mem, helpers={1: lookup, 2: update, 3: delete}, budget=1_000_000_000)

    def run(mem_size: int):
        for value in table.values():
            mem.release(value)
        table.clear()
        return vm.run(program, r1=0)
    return run


def bench_one(path: Path, args) -> str:
    mem_size, want = spec_of(path)
    obj, tcname = compile_obj(path, args.toolchain, args.mcpu)
    note = ""
    if path.stem == "hashmap":
        try:
            run = kernel_runner(obj)
            note = "  [emulated kernel map helpers]"
        except Skip as exc:
            run = inline_map_runner(obj)
            note = f"  [inline dict map helpers; {exc}]"
    else:
        run = direct_runner(obj)
    first = run(mem_size)                     # includes translation
    if first.r0 & 0xFFFFFFFF != want:
        raise HarnessError(f"r0 = {first.r0 & 0xFFFFFFFF}, expected {want}", path=str(path))
    best, runs, spent = None, 0, 0.0
    while spent < args.seconds or runs < 2:
        t0 = time.perf_counter()
        res = run(mem_size)
        dt = time.perf_counter() - t0
        spent += dt
        runs += 1
        rate = res.insns_executed / dt
        best = rate if best is None or rate > best else best
    return (f"{path.stem:10s} {tcname:12s} {first.insns_executed:>10d} insns/run  "
            f"{best / 1e6:7.2f} M insn/s  ({runs} timed runs){note}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toolchain", help="toolchain name from toolchains.toml (default: newest available)")
    ap.add_argument("--mcpu", default="v3")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per program")
    ap.add_argument("programs", nargs="*", help="program stems (default: all in corpus/bench)")
    args = ap.parse_args(argv)
    paths = sorted(CORPUS.glob("*.c"))
    if args.programs:
        paths = [p for p in paths if p.stem in args.programs]
    failed = 0
    for path in paths:
        try:
            print(bench_one(path, args), flush=True)
        except Skip as exc:
            print(f"{path.stem:10s} SKIPPED: {exc}", flush=True)
        except HarnessError as exc:
            print(f"{path.stem:10s} FAILED: {exc}", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
