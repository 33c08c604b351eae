"""`python -m harness gen skeleton OBJ` — bpftool gen skeleton, for our objects.

Prints the C header on stdout.  Bad input (unreadable or malformed object, libbpf-style
open failure) is a one-line error, never a traceback.  The light skeleton (-L)
embeds the loader program of harness/libbpf/gen_loader.py.
"""

from __future__ import annotations

import sys

from harness.errors import HarnessError


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="gen_what", metavar="WHAT")
    p = sub.add_parser("skeleton", help="C skeleton header for an object (bpftool layout)")
    p.add_argument("object", help="BPF ELF object")
    p.add_argument("name", nargs="?", default=None, help="skeleton name (default: object name)")
    p.add_argument("-L", "--light", action="store_true", help="light skeleton (embedded loader program)")
    p.add_argument("-o", "--output", default=None, help="write the header here instead of stdout")


def run(args) -> int:
    if getattr(args, "gen_what", None) != "skeleton":
        raise HarnessError("usage: python -m harness gen skeleton OBJ [NAME] [-o FILE]")
    from harness.kernelapi import BpfError
    from harness.libbpf.gen_c import gen_skeleton
    from harness.libbpf.object import Object
    try:
        with open(args.object, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise HarnessError(f"cannot read: {exc.strerror or exc}", path=args.object) from None
    try:
        obj = Object.open(args.object, kernel=_NoKernel(), obj_name=args.name)
    except BpfError as exc:
        raise HarnessError(f"failed to open object: {exc.message or exc}", path=args.object) from None
    if args.light:
        from harness.libbpf.gen_c import gen_light_skeleton
        from harness.libbpf.gen_loader import build_loader
        try:
            loader = build_loader(obj)
        except BpfError as exc:
            raise HarnessError(f"cannot generate the loader: {exc.message or exc}", path=args.object) from None
        text = gen_light_skeleton(obj, loader, args.name or obj.name)
    else:
        text = gen_skeleton(obj, data, args.name or obj.name)
    if args.output:
        try:
            with open(args.output, "w") as f:
                f.write(text)
        except OSError as exc:
            raise HarnessError(f"cannot write: {exc.strerror or exc}", path=args.output) from None
    else:
        sys.stdout.write(text)
    return 0


class _NoKernel:
    """Generation only opens the object; any kernel call would be a bug."""
    name = "none"

    def __getattr__(self, item):
        raise HarnessError(f"skeleton generation must not call the kernel ({item})")
