"""`python -m harness toolchains list | install NAME... | check [NAME...]`.

install is idempotent and never prompts: a toolchain that is already usable is left
alone; Debian packages go through `apt-get install -y` only when running as root (else
the command to run is printed and the exit status is 1); ziglang wheels go into their
own directory with `pip install --no-deps --target` so several versions coexist
(see harness/toolchains.py).  check runs each compiler's `--version` and fails when
the detected major differs from the declared one.
"""

from __future__ import annotations

import os
import subprocess
import sys

from harness.errors import HarnessError
from harness.toolchains import Toolchain, load_toolchains, select

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def add_arguments(parser) -> None:
    parser.add_argument("--file", help="toolchains.toml to use (default: the repository's)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="show declared toolchains and whether each is installed")
    p = sub.add_parser("install", help="provision toolchains (idempotent, non-interactive)")
    p.add_argument("names", nargs="+", help="toolchain names, or 'all'")
    p.add_argument("--apt-update", action="store_true", help="run apt-get update first")
    p = sub.add_parser("check", help="print version strings; fail on a major mismatch")
    p.add_argument("names", nargs="*", help="toolchains to check (default: every installed one)")


def _where(tc: Toolchain) -> str:
    if tc.provider.name == "pip-ziglang":
        loc = tc._zig_location()
        if loc is None:
            return "-"
        return str(loc[1]) if loc[0] == "target" else "active env"
    return " ".join(tc.cc)


def cmd_list(tcs: dict[str, Toolchain]) -> int:
    print(f"{'name':<12} {'major':>5} {'provider':<12} {'package':<24} {'installed':<9} where")
    for tc in tcs.values():
        pkg = tc.package or " ".join(tc.packages) or " ".join(tc.cc)
        print(f"{tc.name:<12} {tc.major:>5} {tc.provider.name:<12} {pkg:<24} "
              f"{'yes' if tc.available() else 'no':<9} {_where(tc)}")
    return 0


def _apt_cmd(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def _run(argv: list[str], env: dict | None = None) -> int:
    print("+ " + " ".join(argv), flush=True)
    return subprocess.run(argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL).returncode


def install(tcs: list[Toolchain], apt_update: bool = False) -> int:
    failures = 0
    apt_missing = [tc for tc in tcs if tc.provider.name == "apt" and not tc.available()]
    if apt_missing:
        pkgs = sorted({p for tc in apt_missing for p in tc.packages})
        if os.geteuid() != 0:
            print("not root: run this to install the Debian toolchains:\n  sudo apt-get update && "
                  "sudo DEBIAN_FRONTEND=noninteractive " + " ".join(_apt_cmd(pkgs)))
            failures += len(apt_missing)
        else:
            rc = 0
            if apt_update:
                _run(["apt-get", "update"], APT_ENV)
            rc = _run(_apt_cmd(pkgs), APT_ENV)
            if rc != 0 and not apt_update:  # stale package lists on a fresh machine
                _run(["apt-get", "update"], APT_ENV)
                rc = _run(_apt_cmd(pkgs), APT_ENV)
            failures += rc != 0
    for tc in tcs:
        if tc.provider.name == "path" and not tc.available():
            print(f"{tc.name}: provider 'path' cannot be installed; put {tc.cc[0]} on PATH")
            failures += 1
        elif tc.provider.name == "pip-ziglang":
            if tc.available():
                print(f"{tc.name}: {tc.package} already available ({_where(tc)})")
                continue
            target = tc.zig_target_dir
            target.parent.mkdir(parents=True, exist_ok=True)
            rc = _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                       "--no-input", "--no-deps", "--target", str(target), tc.package])
            failures += rc != 0
        elif tc.provider.name == "apt" and tc not in apt_missing:
            print(f"{tc.name}: {' '.join(tc.packages)} already installed")
    return 1 if failures else 0


def check(tcs: list[Toolchain], explicit: bool) -> int:
    bad = 0
    for tc in tcs:
        if not tc.available():
            print(f"{tc.name:<12} MISSING   {tc.missing_reason()}")
            bad += explicit
            continue
        vs = tc.version_string()
        det = tc.detected_version()
        if det is None:
            print(f"{tc.name:<12} UNKNOWN   cannot parse version from {vs!r}")
            bad += 1
        elif det[0] != tc.major:
            print(f"{tc.name:<12} MISMATCH  declared major {tc.major}, found {vs}")
            bad += 1
        else:
            print(f"{tc.name:<12} ok        {vs}")
    return 1 if bad else 0


def run(args) -> int:
    tcs = load_toolchains(args.file)
    if args.action == "list":
        return cmd_list(tcs)
    if args.action == "install":
        return install(select(args.names, args.file), args.apt_update)
    if args.action == "check":
        if args.names:
            return check(select(args.names, args.file), explicit=True)
        return check(list(tcs.values()), explicit=False)
    raise HarnessError(f"unknown action {args.action}")
