"""Expected outcomes per toolchain version (corpus/expectations.toml).

An entry names a case, a stage, optionally a program, a version range as a `packaging`
specifier set, the expected outcome (compile: crash / error / timeout; other stages:
fail / error), a known-issue id and optionally a signature substring.  The matrix, not
the stage modules, applies them:

  outcome matches (and signature)   -> xfail, known_issue = id
  the stage passed                  -> xpass (loud: the issue is fixed or mis-scoped)
  some other failure                -> fail, detail says what was expected
  skipped                           -> skip (nothing to compare)
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from harness.errors import ConfigError
from harness.toolchains import REPO_ROOT

DEFAULT_FILE = REPO_ROOT / "corpus" / "expectations.toml"
REQUIRED = ("id", "case", "stage", "versions", "outcome")


@dataclass(frozen=True)
class Expectation:
    id: str
    case: tuple[str, ...]              # one case id or several (toml: a string or a list)
    stage: str
    versions: SpecifierSet
    outcome: str
    program: str = "*"
    signature: str = ""
    toolchains: tuple[str, ...] = ()   # optional: restrict to these toolchain names
    url: str = ""
    note: str = ""

    def applies(self, case: str, stage: str, program: str, toolchain: str, version: str | None) -> bool:
        if stage != self.stage or case not in self.case:
            return False
        if self.program not in ("*", program):
            return False
        if self.toolchains and toolchain not in self.toolchains:
            return False
        if not version:
            return False
        try:
            return Version(version) in self.versions
        except InvalidVersion:
            return False


@functools.lru_cache(maxsize=8)
def _load(path: str) -> tuple[Expectation, ...]:
    p = Path(path)
    if not p.is_file():
        return ()
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=path) from None
    out = []
    for i, e in enumerate(data.get("expect") or []):
        missing = [k for k in REQUIRED if k not in e]
        if missing:
            raise ConfigError(f"expect[{i}] lacks {', '.join(missing)}", path=path)
        try:
            spec = SpecifierSet(str(e["versions"]))
        except InvalidSpecifier:
            raise ConfigError(f"expect[{i}] ({e['id']}): bad version specifier {e['versions']!r}",
                              path=path) from None
        out.append(Expectation(
            id=str(e["id"]), case=tuple(map(str, e["case"])) if isinstance(e["case"], list) else (str(e["case"]),),
            stage=str(e["stage"]), versions=spec,
            outcome=str(e["outcome"]), program=str(e.get("program", "*")),
            signature=str(e.get("signature", "")), toolchains=tuple(e.get("toolchains", ())),
            url=str(e.get("url", "")), note=str(e.get("note", ""))))
    return tuple(out)


def load_expectations(path: str | Path | None = None) -> list[Expectation]:
    return list(_load(str(Path(path or DEFAULT_FILE).resolve())))


def find(expectations, case: str, stage: str, program: str, toolchain: str,
         version: str | None) -> Expectation | None:
    for e in expectations:
        if e.applies(case, stage, program, toolchain, version):
            return e
    return None


def judge(status: str, outcome: str, signature: str, detail: str,
          exp: Expectation | None) -> tuple[str, str, str | None]:
    """(final status, detail, known_issue) for a stage result under an expectation."""
    if exp is None or status == "skip":
        return status, detail, None
    if status == "pass":
        return "xpass", (f"XPASS: expected {exp.outcome} ({exp.id}) but it passed"
                         + (f"; {detail}" if detail else "")), exp.id
    if outcome == exp.outcome and (not exp.signature or exp.signature in (signature or detail)):
        return "xfail", f"{exp.id}: {signature or detail}", exp.id
    return "fail", (f"expected {exp.outcome} [{exp.signature}] ({exp.id}), got {outcome}: "
                    f"{signature or detail}"), None
