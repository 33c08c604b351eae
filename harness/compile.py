"""Compile one C file with one toolchain, through a content-addressed object cache.

Why a cache: the matrix compiles every case with every toolchain, and the later stages
(inspect, load, verify, run) are re-run far more often than sources change.  The cache key
covers everything that decides the output: the source, every header it includes (found by
following #include through our own include dirs; -nostdinc means there are no others),
the toolchain identity (name, provider, package, driver, `--version` string) and the full
flag list.  Deterministic outcomes (ok, diagnostics error, crash) are cached, so a warm
re-run compiles nothing; timeouts and missing toolchains are not.

Outcome classes (CompileResult.status):
  ok        object written
  error     the compiler printed diagnostics and failed (signature: first error line)
  crash     the compiler crashed (rc 70 with -fno-crash-diagnostics, a signal, or
            "error in backend"); signature normalised, e.g.
            "backend: unable to write nop sequence of N bytes"
  timeout   killed after `timeout` seconds
  missing   the toolchain is not installed
Every compile runs with a private TMPDIR and its own compiler cache dir (zig's
ZIG_GLOBAL_CACHE_DIR/ZIG_LOCAL_CACHE_DIR), so no reproducer or cache file leaks out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.toolchains import REPO_ROOT, Toolchain, get_toolchain

INCLUDE_DIR = REPO_ROOT / "corpus" / "include"
DEFAULT_MCPU = "v3"          # explicit always: the default differs (v1 before LLVM 20, v3 from 20)
BASE_CFLAGS = ("-O2", "-g")
CACHE_SCHEMA = "2"           # bump when the key or the metadata format changes
STATUSES = ("ok", "error", "crash", "timeout", "missing")

_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
_BACKEND_RE = re.compile(r"error in backend: (.+)")
_LLVM_ERROR_RE = re.compile(r"LLVM ERROR: (.+)")
_SIGNAL_RE = re.compile(r"clang frontend command failed due to signal (.+?)(?: \(|$)", re.M)
_ERROR_LINE_RE = re.compile(r"^(?:[^\s:]+:\d+:\d+: )?(?:fatal )?error: (.+)$", re.M)
_NUM_RE = re.compile(r"\d+")


def default_cache_dir() -> Path:
    env = os.environ.get("HARNESS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bpf-harness" / "objects"


@dataclass
class CompileResult:
    status: str                       # one of STATUSES
    obj_path: Path | None             # in the cache; treat as read-only
    stderr: str = ""
    signature: str = ""               # normalised crash / first-error text
    cached: bool = False
    version: str = ""                 # toolchain `--version` first line
    command: list[str] = field(default_factory=list)
    duration: float = 0.0             # seconds spent compiling (0 for cache hits)
    returncode: int | None = None
    obj_hash: str | None = None       # sha256 of the object
    key: str = ""                     # cache key
    mcpu: str = ""
    leftovers: list[str] = field(default_factory=list)  # files the compiler left in TMPDIR

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["obj_path"] = str(self.obj_path) if self.obj_path else None
        return d


def normalise(text: str) -> str:
    """Replace numbers by N so signatures compare across toolchains and sources."""
    return _NUM_RE.sub("N", text.strip())


def crash_signature(stderr: str, returncode: int | None) -> str:
    """A short, stable name for a compiler crash."""
    for regex, prefix in ((_BACKEND_RE, "backend: "), (_LLVM_ERROR_RE, "llvm: ")):
        m = regex.search(stderr)
        if m:
            return prefix + normalise(m[1])
    m = _SIGNAL_RE.search(stderr)
    if m:
        return "signal: " + m[1].strip()
    if returncode is not None and returncode < 0:
        return f"signal: {signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else -returncode}"
    return f"crash: exit code {returncode}"


def error_signature(stderr: str) -> str:
    m = _ERROR_LINE_RE.search(stderr)
    return normalise(m[1]) if m else normalise(stderr.strip().splitlines()[0]) if stderr.strip() else ""


def classify(returncode: int | None, stderr: str) -> tuple[str, str]:
    """(status, signature) of a finished compiler process."""
    if returncode == 0:
        return "ok", ""
    crashed = (returncode is not None and (returncode < 0 or returncode in (70, 134, 139))) \
        or "error in backend" in stderr or "PLEASE submit a bug report" in stderr \
        or "LLVM ERROR:" in stderr
    if crashed:
        return "crash", crash_signature(stderr, returncode)
    return "error", error_signature(stderr)


def included_files(source: Path, include_dirs: list[Path]) -> list[Path]:
    """Every header reachable through #include (conditional ones too: over-approximate)."""
    seen: dict[Path, None] = {}
    todo = [source]
    while todo:
        cur = todo.pop()
        try:
            text = cur.read_text(errors="replace")
        except OSError:
            continue
        for name in _INCLUDE_RE.findall(text):
            for d in (cur.parent, *include_dirs):
                cand = (d / name).resolve()
                if cand.is_file():
                    if cand not in seen:
                        seen[cand] = None
                        todo.append(cand)
                    break
    return sorted(seen)


def cache_key(source: Path, tc: Toolchain, flags: list[str], include_dirs: list[Path]) -> str:
    h = hashlib.sha256()
    h.update(f"schema={CACHE_SCHEMA}\0".encode())
    h.update(tc.identity().encode() + b"\0")
    h.update("\0".join(flags).encode() + b"\0")
    h.update(source.read_bytes())
    for hdr in included_files(source, include_dirs):
        rel = hdr.name
        for d in include_dirs:
            try:
                rel = str(hdr.relative_to(d.resolve()))
                break
            except ValueError:
                continue
        h.update(b"\0hdr:" + rel.encode() + b"\0" + hdr.read_bytes())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(argv: list[str], env: dict, cwd: Path, timeout: float) -> tuple[int | None, str, bool]:
    """(returncode, stderr+stdout, timed_out); kills the whole process group on timeout."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace"), False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        return None, out.decode(errors="replace"), True


def compile_source(source: Path | str, toolchain: Toolchain | str, *, mcpu: str | None = None,
                   cflags=(), cache_dir: Path | str | None = None, timeout: float = 120,
                   include_dirs=None, work_dir: Path | str | None = None) -> CompileResult:
    """Compile `source` to a BPF object (-O2 -g, explicit -mcpu, only our own headers).

    `work_dir` holds the per-run compiler cache (zig's); a temporary dir is used when None.
    """
    source = Path(source).resolve()
    tc = get_toolchain(toolchain)
    mcpu = mcpu or DEFAULT_MCPU
    incs = [Path(p).resolve() for p in (include_dirs if include_dirs is not None else [INCLUDE_DIR])]
    flags = [*tc.base_flags(), *BASE_CFLAGS, f"-mcpu={mcpu}", "-nostdinc",
             *(x for d in incs for x in ("-I", str(d))), "-fno-crash-diagnostics", *cflags]
    if not tc.available():
        return CompileResult("missing", None, signature="toolchain missing", mcpu=mcpu,
                             stderr=tc.missing_reason(), command=[*tc.driver(), *flags])
    version = tc.version_string()
    key = cache_key(source, tc, flags, incs)
    cdir = Path(cache_dir) if cache_dir else default_cache_dir()
    slot = cdir / key[:2]
    # The object keeps the source's stem as its file name (in a directory per key): libbpf
    # derives the object name, and so the kernel names of .data/.bss/.rodata maps, from it.
    meta_path, obj_cached = slot / f"{key}.json", slot / key / f"{Path(source).stem}.o"
    argv = [*tc.driver(), *flags, "-c", str(source), "-o", str(obj_cached)]

    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("status") != "ok" or obj_cached.is_file():
                return CompileResult(
                    meta["status"], obj_cached if meta["status"] == "ok" else None,
                    stderr=meta.get("stderr", ""), signature=meta.get("signature", ""), cached=True,
                    version=version, command=argv, duration=0.0, returncode=meta.get("returncode"),
                    obj_hash=meta.get("obj_hash"), key=key, mcpu=mcpu)
        except (OSError, ValueError, KeyError):
            pass  # corrupt entry: recompile and overwrite

    slot.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-cc-") as tmp:
        tmp = Path(tmp)
        private_tmp = tmp / "tmp"
        private_tmp.mkdir()
        cc_cache = Path(work_dir) / ".cc-cache" / tc.name if work_dir else tmp / "cc-cache"
        cc_cache.mkdir(parents=True, exist_ok=True)
        env = tc.environment(cc_cache)
        env["TMPDIR"] = str(private_tmp)
        out = tmp / "out.o"
        argv_real = [*tc.driver(), *flags, "-c", str(source), "-o", str(out)]
        t0 = time.perf_counter()
        try:
            rc, text, timed_out = _run(argv_real, env, tmp, timeout)
        except OSError as exc:
            return CompileResult("missing", None, stderr=str(exc), signature="toolchain missing",
                                 version=version, command=argv, key=key, mcpu=mcpu)
        duration = time.perf_counter() - t0
        leftovers = sorted(str(p.relative_to(private_tmp)) for p in private_tmp.rglob("*") if p.is_file())
        if timed_out:
            return CompileResult("timeout", None, stderr=text, signature=f"timeout after {timeout:g}s",
                                 version=version, command=argv, duration=duration, key=key,
                                 mcpu=mcpu, leftovers=leftovers)
        status, sig = classify(rc, text)
        if status == "ok" and not out.is_file():
            status, sig = "error", "compiler exited 0 but wrote no object"
        obj_hash = None
        if status == "ok":
            obj_hash = _sha256(out)
            obj_cached.parent.mkdir(exist_ok=True)
            part = obj_cached.parent / f".{key}.{os.getpid()}.o"
            shutil.copyfile(out, part)
            os.replace(part, obj_cached)
        meta = {"status": status, "stderr": text, "signature": sig, "returncode": rc,
                "obj_hash": obj_hash, "version": version, "command": argv, "duration": duration}
        part = slot / f".{key}.{os.getpid()}.json"
        part.write_text(json.dumps(meta))
        os.replace(part, meta_path)
    return CompileResult(status, obj_cached if status == "ok" else None, stderr=text, signature=sig,
                         cached=False, version=version, command=argv, duration=duration,
                         returncode=rc, obj_hash=obj_hash, key=key, mcpu=mcpu, leftovers=leftovers)
