"""`python -m harness verify OBJ [--prog NAME] [--log-level N] [--xlated] [--unpriv]`

Opens a BPF ELF object with the loader (harness.libbpf), loads it into a fresh emulated
kernel and prints, per program, our verifier's verdict and log (and the xlated program).
Exit status 0 when every selected program verified, 1 otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("obj", help="BPF ELF object file")
    p.add_argument("--prog", action="append", default=[], help="program (function) name; repeatable")
    p.add_argument("--log-level", type=int, default=1, choices=(1, 2, 3, 4, 5, 6, 7),
                   help="verifier log level (1 = errors and path, 2 = every state, 4 = statistics)")
    p.add_argument("--xlated", action="store_true", help="print the program after the kernel's rewrites")
    p.add_argument("--unpriv", action="store_true", help="verify as a loader with only CAP_BPF")


def run(args) -> int:
    from harness.isa import decode
    from harness.isa.disasm import disasm
    from harness.kernel import EmulatedKernel, KernelConfig
    from harness.kernel.helpers.ids import func_id_name
    from harness.kernelapi import BpfError
    from harness.libbpf.object import Object

    path = Path(args.obj)
    if not path.is_file():
        raise HarnessError(f"{path}: no such file")
    kernel = EmulatedKernel(KernelConfig(privileged=not args.unpriv))
    try:
        obj = Object.open(str(path), kernel)
    except BpfError as exc:
        raise HarnessError(f"{path}: {exc.message or exc}") from None
    names = [p.name for p in obj.programs]
    for want in args.prog:
        if want not in names:
            raise HarnessError(f"{path}: no program '{want}' (programs: {', '.join(names) or 'none'})")
    for p in obj.programs:
        p.autoload = True
    try:
        obj.load(keep_going=True, log_level=args.log_level)
    except BpfError as exc:
        raise HarnessError(f"{path}: load failed: {exc.message or exc}") from None
    failed = 0
    for p in obj.programs:
        if args.prog and p.name not in args.prog:
            continue
        err = p.load_error
        if err is None and p.fd >= 0:
            print(f"== {p.name}: verified")
            print(p.log, end="" if p.log.endswith("\n") or not p.log else "\n")
            if args.xlated:
                info = kernel.prog_get_info(p.fd)
                for line in disasm(decode(info.xlated), helper_name=func_id_name):
                    print(line)
        else:
            failed += 1
            msg = err.message if err is not None else "not loaded"
            print(f"== {p.name}: rejected ({err.errno_name if err else '?'}): {msg}")
            log = (err.log if err is not None else "") or ""
            print(log, end="" if log.endswith("\n") or not log else "\n")
    return 1 if failed else 0
