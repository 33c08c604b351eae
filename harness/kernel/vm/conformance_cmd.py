"""`python -m harness conformance [PATH...]`: run BPF conformance-suite files on our VM
and print the score (default: the whole suite in /work/shared/conformance)."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.isa.conformance import load_case
from harness.kernel.vm.conformance import check_case

DEFAULT_SUITE = Path("/work/shared/conformance/bpf_conformance/tests")


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="*", help="test files or directories (default: the suite)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every file's outcome")


def _files(paths: list[str]) -> list[Path]:
    out = []
    for p in map(Path, paths or [str(DEFAULT_SUITE)]):
        if p.is_dir():
            out += sorted(p.glob("*.data"))
        elif p.is_file():
            out.append(p)
        else:
            raise HarnessError("no such file or directory", path=str(p))
    return out


def run(args) -> int:
    files = _files(args.paths)
    passed = 0
    for path in files:
        try:
            check_case(load_case(path))
            passed += 1
            if args.verbose:
                print(f"PASS {path.stem}")
        except HarnessError as exc:
            print(f"FAIL {path.stem}: {exc}")
    print(f"BPF conformance: {passed}/{len(files)} passed")
    return 0 if passed == len(files) else 1
