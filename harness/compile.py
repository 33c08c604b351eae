"""Compile one C file with one toolchain, through a content-addressed object cache.

Why a cache: the matrix compiles every case with every toolchain, and the later stages
(inspect, load, verify, run) are re-run far more often than sources change.  The cache key
covers everything that decides the output: the source, every header it includes (found by
following #include through our own include dirs; -nostdinc means there are no others),
the toolchain identity (name, provider, package, driver, `--version` string) and the full
flag list.

Why the key holds no absolute path: Clang writes file names into the object (DWARF
DW_AT_name/comp_dir and line tables, and the BTF strings that .BTF.ext line_info points at),
so an object built in /a/repo differs from one built in /b/repo and a fresh clone (CI, a
nightly dashboard in another work dir) could not reuse a cache filled elsewhere.  So the
compiler runs in a *root* directory that holds the source and (normally) the include dirs,
is given root-relative paths, and `-ffile-prefix-map=<root>=.` spells the root as "." in
the object (see `Layout`).  The object is then byte-identical wherever the corpus lives,
and the key is built from the same relative spellings (flags keep a placeholder for the
mapped directory), so it is too.  Every declared toolchain (Debian clang 13..22 and the
zig-embedded clangs) accepts -ffile-prefix-map (Clang >= 10).  Deterministic outcomes (ok, diagnostics error, crash) are cached, so a warm
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
CACHE_SCHEMA = "3"           # bump when the key or the metadata format changes (3: relocatable)
CORPUS_TOKEN = "/corpus"     # how an include tree outside the root is spelled in the object
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
    cwd: str = ""                     # where `command` runs (its paths are relative to it)
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


def _under(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


@dataclass(frozen=True)
class Layout:
    """Where the compiler runs and how each path is spelled on its command line and in the object.

    The corpus is the parent of the include dirs (corpus/include -> corpus).  The root, the
    compiler's working directory, mapped to ".", is the corpus when it holds the source
    (every corpus case), else the source's directory when that holds the corpus.  Otherwise
    (a test's C file in a temporary dir, headers from the repo) the root is the source's
    directory and the corpus gets a second map to CORPUS_TOKEN; the two never overlap, so
    the order in which a Clang version applies prefix maps does not matter.
    """
    root: Path
    source: Path                       # absolute
    includes: tuple[Path, ...]         # absolute
    corpus: Path | None = None         # mapped to CORPUS_TOKEN (only when outside root)

    @classmethod
    def of(cls, source: Path, includes: list[Path]) -> "Layout":
        corpus = Path(os.path.commonpath(includes)).parent if includes else source.parent
        if _under(source, corpus):
            return cls(corpus, source, tuple(includes))
        if _under(corpus, source.parent):
            return cls(source.parent, source, tuple(includes))
        return cls(source.parent, source, tuple(includes), corpus)

    def spell(self, path: Path, real: bool) -> str:
        """`path` as passed to the compiler (real) or as recorded in the key (not real).

        Root-relative paths are the same in both; a path under the separately mapped corpus
        is absolute on the command line and keyed by its token; anything else (outside both
        trees) stays absolute in both, so it is keyed exactly but is not relocatable.
        """
        if _under(path, self.root):
            return os.path.relpath(path, self.root)
        if self.corpus is not None and _under(path, self.corpus):
            return str(path) if real else CORPUS_TOKEN + "/" + path.relative_to(self.corpus).as_posix()
        return str(path)

    def map_flags(self, real: bool) -> list[str]:
        """The prefix maps; the key names the mapped directories by placeholders."""
        maps = [(self.root, "<root>", ".")]
        if self.corpus is not None:
            maps.append((self.corpus, "<corpus>", CORPUS_TOKEN))
        return [f"-ffile-prefix-map={d if real else ph}={token}" for d, ph, token in maps]

    def flags(self, tc: Toolchain, mcpu: str, cflags, real: bool) -> list[str]:
        return [*tc.base_flags(), *BASE_CFLAGS, f"-mcpu={mcpu}", "-nostdinc",
                *(x for d in self.includes for x in ("-I", self.spell(d, real))),
                "-fno-crash-diagnostics", *self.map_flags(real), *cflags]


def cache_key(layout: Layout, tc: Toolchain, key_flags: list[str]) -> str:
    """sha256 over the toolchain identity, the keyed flags and every input file, each file
    named by its relative spelling (Layout.spell), never by an absolute path of the root."""
    h = hashlib.sha256()
    h.update(f"schema={CACHE_SCHEMA}\0".encode())
    h.update(tc.identity().encode() + b"\0")
    h.update("\0".join(key_flags).encode() + b"\0")
    h.update(b"src:" + layout.spell(layout.source, False).encode() + b"\0")
    h.update(layout.source.read_bytes())
    for hdr in included_files(layout.source, list(layout.includes)):
        h.update(b"\0hdr:" + layout.spell(hdr, False).encode() + b"\0" + hdr.read_bytes())
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
    layout = Layout.of(source, incs)
    flags = layout.flags(tc, mcpu, cflags, real=True)
    src_arg, cwd = layout.spell(source, True), str(layout.root)
    if not tc.available():
        return CompileResult("missing", None, signature="toolchain missing", mcpu=mcpu, cwd=cwd,
                             stderr=tc.missing_reason(), command=[*tc.driver(), *flags, "-c", src_arg])
    version = tc.version_string()
    key = cache_key(layout, tc, layout.flags(tc, mcpu, cflags, real=False))
    cdir = Path(cache_dir) if cache_dir else default_cache_dir()
    slot = cdir / key[:2]
    # The object keeps the source's stem as its file name (in a directory per key): libbpf
    # derives the object name, and so the kernel names of .data/.bss/.rodata maps, from it.
    meta_path, obj_cached = slot / f"{key}.json", slot / key / f"{Path(source).stem}.o"
    argv = [*tc.driver(), *flags, "-c", src_arg, "-o", str(obj_cached)]

    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("status") != "ok" or obj_cached.is_file():
                return CompileResult(
                    meta["status"], obj_cached if meta["status"] == "ok" else None,
                    stderr=meta.get("stderr", ""), signature=meta.get("signature", ""), cached=True,
                    version=version, command=argv, duration=0.0, returncode=meta.get("returncode"),
                    obj_hash=meta.get("obj_hash"), key=key, mcpu=mcpu, cwd=cwd)
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
        argv_real = [*tc.driver(), *flags, "-c", src_arg, "-o", str(out)]
        t0 = time.perf_counter()
        try:
            # run in the root: relative paths there, and BTF line_info reads each source
            # line back through the mapped name ("./percpu/x.c"), relative to the cwd
            rc, text, timed_out = _run(argv_real, env, layout.root, timeout)
        except OSError as exc:
            return CompileResult("missing", None, stderr=str(exc), signature="toolchain missing",
                                 version=version, command=argv, key=key, mcpu=mcpu, cwd=cwd)
        duration = time.perf_counter() - t0
        leftovers = sorted(str(p.relative_to(private_tmp)) for p in private_tmp.rglob("*") if p.is_file())
        if timed_out:
            return CompileResult("timeout", None, stderr=text, signature=f"timeout after {timeout:g}s",
                                 version=version, command=argv, duration=duration, key=key,
                                 mcpu=mcpu, leftovers=leftovers, cwd=cwd)
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
                "obj_hash": obj_hash, "version": version, "command": argv, "cwd": cwd,
                "duration": duration}
        part = slot / f".{key}.{os.getpid()}.json"
        part.write_text(json.dumps(meta))
        os.replace(part, meta_path)
    return CompileResult(status, obj_cached if status == "ok" else None, stderr=text, signature=sig,
                         cached=False, version=version, command=argv, duration=duration,
                         returncode=rc, obj_hash=obj_hash, key=key, mcpu=mcpu, leftovers=leftovers,
                         cwd=cwd)
