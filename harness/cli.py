"""Command-line entry point: `python -m harness <command> ...`.

Commands live in their own modules, each exposing `add_arguments(parser)` and
`run(args) -> int`.  The table below maps a command name to its module and a one-line
help text; a module is imported only when its command runs, so a broken or slow
subsystem never affects the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.errors import HarnessError

# name -> (module, help).  Keep sorted by name.
COMMANDS: dict[str, tuple[str, str]] = {
    "conformance": ("harness.kernel.vm.conformance_cmd", "run BPF ISA conformance-suite files on the VM"),
    "gen": ("harness.libbpf.gen_cmd", "generate C skeleton headers (bpftool gen skeleton)"),
    "inspect": ("harness.elf.inspect_cmd", "show sections, programs, maps and BTF of a BPF object"),
    "matrix": ("harness.matrix_cmd", "compile the corpus with toolchains and run every stage"),
    "report": ("harness.report.cmd", "build summary.md, report.json, junit.xml and index.html"),
    "toolchains": ("harness.toolchains_cmd", "list, install and check the declared toolchains"),
    "verify": ("harness.kernel.verifier.cmd", "run the verifier on a program of an object"),
    "fuzz-diff": ("harness.realkernel.fuzz_cmd", "differential fuzzing against the running kernel"),
}


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (modname, help_text) in sorted(COMMANDS.items()):
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            try:
                chosen = importlib.import_module(modname)
            except ModuleNotFoundError as exc:
                if exc.name and modname.startswith(exc.name):
                    raise HarnessError(f"command '{name}' is not available in this build ({exc.name} missing)")
                raise
            chosen.add_arguments(p)
    return parser, chosen


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser, module = build_parser(argv)
        args = parser.parse_args(argv)
        if module is None:
            parser.print_help()
            return 2
        return int(module.run(args) or 0)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
