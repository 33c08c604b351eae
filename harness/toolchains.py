"""Declared toolchains (toolchains.toml): discovery, identity and the compiler argv.

The toml is configuration, not code: each toolchain names a provider (apt, pip-ziglang,
path) and the provider says how the compiler is found and which target/extra flags it
needs.  Nothing else in the harness knows how a toolchain was provisioned.

ziglang decision: several ziglang versions cannot coexist as one installed package, so
`toolchains install` puts each wheel in its own directory with
`pip install --no-deps --target <toolchain dir>/ziglang-X ziglang==X`; the compiler is then
driven as `python -m ziglang cc` with that directory first on PYTHONPATH.  The active
environment's own ziglang is accepted too when its version is the declared one (tox envs
list the wheel as a dependency).  The toolchain dir is $HARNESS_TOOLCHAIN_DIR, default
~/.cache/bpf-harness/toolchains.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOML = REPO_ROOT / "toolchains.toml"
PROVIDERS = ("apt", "pip-ziglang", "path")
VERSION_RE = re.compile(r"clang version (\d+)\.(\d+)\.(\d+)")

# Which -mcpu values each LLVM major accepts: v4 needs LLVM >= 18 (toolchains.md §4.2).
def mcpus_for_major(major: int) -> tuple[str, ...]:
    return ("v1", "v2", "v3", "v4") if major >= 18 else ("v1", "v2", "v3")


def toolchain_dir() -> Path:
    env = os.environ.get("HARNESS_TOOLCHAIN_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bpf-harness" / "toolchains"


def parse_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from a `--version` string (Debian and zig formats)."""
    m = VERSION_RE.search(text or "")
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


@functools.lru_cache(maxsize=1)
def _env_ziglang_version() -> str | None:
    """Version of the ziglang wheel installed in the running interpreter's environment."""
    try:
        version = importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        return None
    return version if importlib.util.find_spec("ziglang") is not None else None


@dataclass(frozen=True)
class Provider:
    name: str
    target: tuple[str, ...]
    extra_cflags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Toolchain:
    name: str
    major: int
    provider: Provider
    version: str = ""                     # declared full version (informational)
    packages: tuple[str, ...] = ()        # apt packages
    package: str = ""                     # pip requirement, e.g. "ziglang==0.12.1"
    cc: tuple[str, ...] = ()              # apt/path: argv prefix of the compiler
    mcpu: tuple[str, ...] = ()
    suite: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    # -- provider-specific discovery -------------------------------------------------
    @property
    def pip_version(self) -> str:
        return self.package.split("==", 1)[1] if "==" in self.package else ""

    @property
    def zig_target_dir(self) -> Path:
        return toolchain_dir() / f"ziglang-{self.pip_version}"

    def _zig_location(self) -> tuple[str, Path | None] | None:
        """('target', dir) for a --target install, ('env', None) for the active env's wheel."""
        if _env_ziglang_version() == self.pip_version:   # e.g. a tox env listing the wheel
            return ("env", None)
        d = self.zig_target_dir
        if (d / "ziglang" / "__main__.py").is_file():
            return ("target", d)
        return None

    def available(self) -> bool:
        if self.provider.name == "pip-ziglang":
            return self._zig_location() is not None
        return bool(self.cc) and shutil.which(self.cc[0]) is not None

    def missing_reason(self) -> str:
        if self.provider.name == "pip-ziglang":
            return (f"{self.name}: {self.package} not installed (run: python -m harness toolchains "
                    f"install {self.name})")
        return f"{self.name}: {self.cc[0] if self.cc else '?'} not found on PATH"

    # -- invocation ---------------------------------------------------------------------
    def driver(self) -> list[str]:
        """argv prefix that runs the C compiler driver."""
        if self.provider.name == "pip-ziglang":
            return [sys.executable, "-m", "ziglang", "cc"]
        return list(self.cc)

    def environment(self, cache: Path) -> dict[str, str]:
        """Environment for running the compiler; {cache} is a per-run cache dir."""
        env = dict(os.environ)
        for k, v in self.provider.env:
            env[k] = v.replace("{cache}", str(cache))
        if self.provider.name == "pip-ziglang":
            loc = self._zig_location()
            if loc and loc[0] == "target":
                old = env.get("PYTHONPATH")
                env["PYTHONPATH"] = str(loc[1]) + (os.pathsep + old if old else "")
        return env

    def base_flags(self) -> list[str]:
        return [*self.provider.target, *self.provider.extra_cflags]

    def identity(self) -> str:
        """What makes two objects from 'the same compiler' interchangeable (cache key part)."""
        return "|".join([self.name, self.provider.name, self.package, " ".join(self.cc),
                         " ".join(self.base_flags()), self.version_string()])

    def version_string(self) -> str:
        return _version_string(self)

    def detected_version(self) -> tuple[int, int, int] | None:
        return parse_version(self.version_string())

    def supports_mcpu(self, mcpu: str) -> bool:
        allowed = self.mcpu or mcpus_for_major(self.major)
        return mcpu in allowed or mcpu in ("generic", "probe")


def _binary(tc: Toolchain) -> Path | None:
    """The compiler executable itself (for fingerprinting)."""
    if tc.provider.name == "pip-ziglang":
        loc = tc._zig_location()
        if loc is None:
            return None
        if loc[0] == "target":
            return loc[1] / "ziglang" / "zig"
        spec = importlib.util.find_spec("ziglang")
        return Path(spec.origin).parent / "zig" if spec and spec.origin else None
    found = shutil.which(tc.cc[0]) if tc.cc else None
    return Path(found).resolve() if found else None


def _fingerprint(tc: Toolchain) -> str | None:
    """name + binary path + size + mtime: cheap identity of an installed compiler."""
    b = _binary(tc)
    try:
        st = b.stat() if b else None
    except OSError:
        return None
    if st is None:
        return None
    raw = f"{tc.name}|{' '.join(tc.driver()[1:] if tc.provider.name == 'pip-ziglang' else tc.cc)}|{b}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _memo_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("HARNESS_CACHE_DIR") or Path(base) / "bpf-harness" / "objects") / "versions"


@functools.lru_cache(maxsize=None)
def _version_string(tc: Toolchain) -> str:
    """First line of `cc --version` ('' when the toolchain is missing or fails).

    Memoised on disk by the binary's fingerprint (path, size, mtime), like ccache does,
    so a warm run does not start every compiler just to ask its version.
    """
    if not tc.available():
        return ""
    fp = _fingerprint(tc)
    memo = _memo_dir() / f"{fp}.txt" if fp else None
    if memo is not None and memo.is_file():
        text = memo.read_text().strip()
        if text:
            return text
    text = _probe_version(tc)
    if memo is not None and text:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            part = memo.with_name(f".{memo.name}.{os.getpid()}")
            part.write_text(text + "\n")
            os.replace(part, memo)
        except OSError:
            pass
    return text


def _probe_version(tc: Toolchain) -> str:
    with tempfile.TemporaryDirectory(prefix="harness-ver-") as tmp:
        env = tc.environment(Path(tmp))
        env["TMPDIR"] = tmp
        try:
            proc = subprocess.run([*tc.driver(), "--version"], capture_output=True, text=True,
                                  env=env, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return ""
    for line in proc.stdout.splitlines():
        if "clang version" in line:
            return line.strip()
    return proc.stdout.splitlines()[0].strip() if proc.stdout else ""


def _tuple(v, what: str, path: Path) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{what} must be a list of strings", path=str(path))
    return tuple(v)


@functools.lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Toolchain]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(p)) from None
    providers: dict[str, Provider] = {}
    for pname, pdata in (data.get("provider") or {}).items():
        if pname not in PROVIDERS:
            raise ConfigError(f"unknown provider '{pname}' (known: {', '.join(PROVIDERS)})", path=str(p))
        env = pdata.get("env") or {}
        providers[pname] = Provider(pname, _tuple(pdata.get("target"), f"provider.{pname}.target", p),
                                    _tuple(pdata.get("extra_cflags"), f"provider.{pname}.extra_cflags", p),
                                    tuple(sorted((str(k), str(v)) for k, v in env.items())))
    out: dict[str, Toolchain] = {}
    for name, t in (data.get("toolchain") or {}).items():
        pname = t.get("provider")
        if pname not in providers:
            raise ConfigError(f"toolchain '{name}': provider '{pname}' is not declared", path=str(p))
        major = t.get("major")
        if not isinstance(major, int):
            raise ConfigError(f"toolchain '{name}': 'major' must be an integer", path=str(p))
        tc = Toolchain(
            name=name, major=major, provider=providers[pname], version=str(t.get("version", "")),
            packages=_tuple(t.get("packages"), f"{name}.packages", p),
            package=str(t.get("package", "")), cc=_tuple(t.get("cc"), f"{name}.cc", p),
            mcpu=_tuple(t.get("mcpu"), f"{name}.mcpu", p), suite=str(t.get("suite", "")),
            extra={k: v for k, v in t.items() if k not in {
                "major", "version", "provider", "packages", "package", "cc", "mcpu", "suite"}})
        if pname == "pip-ziglang" and "==" not in tc.package:
            raise ConfigError(f"toolchain '{name}': package must pin ziglang==X", path=str(p))
        if pname in ("apt", "path") and not tc.cc:
            raise ConfigError(f"toolchain '{name}': 'cc' is required for provider {pname}", path=str(p))
        out[name] = tc
    return out


def load_toolchains(path: str | Path | None = None) -> dict[str, Toolchain]:
    """All declared toolchains by name ($HARNESS_TOOLCHAINS or ./toolchains.toml)."""
    path = path or os.environ.get("HARNESS_TOOLCHAINS") or DEFAULT_TOML
    return dict(_load(str(Path(path).resolve())))


def get_toolchain(name_or_tc: "str | Toolchain", path: str | Path | None = None) -> Toolchain:
    if isinstance(name_or_tc, Toolchain):
        return name_or_tc
    tcs = load_toolchains(path)
    if name_or_tc not in tcs:
        raise ConfigError(f"unknown toolchain '{name_or_tc}' (declared: {', '.join(sorted(tcs))})")
    return tcs[name_or_tc]


def select(names: str | list[str] | None, path: str | Path | None = None) -> list[Toolchain]:
    """Toolchains named in a comma list ('all' or None = every declared one)."""
    tcs = load_toolchains(path)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names or names == ["all"]:
        return list(tcs.values())
    return [get_toolchain(n, path) for n in names]


def first_available(path: str | Path | None = None) -> Toolchain | None:
    """The newest available toolchain (prefers higher majors: v4 support, fewest bugs)."""
    for tc in sorted(load_toolchains(path).values(), key=lambda t: (-t.major, t.name)):
        if tc.available():
            return tc
    return None
