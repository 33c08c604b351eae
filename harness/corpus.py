"""Corpus discovery: a case is a C file under corpus/ (include/ and bench/ excluded).

A case carries everything about itself in its own text (lit-style): its programs and
their selftest annotations (harness.annotations), and optional harness directives in
comments, one per line:

    // harness: mcpu=v4            compile with -mcpu=v4 instead of the default v3
    // harness: cflags=-DFOO -Wall  extra compiler flags

The case id is its path relative to corpus/ without ".c" (e.g. "percpu/percpu_onebyte").
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from harness.annotations import Annotations, SourceProgram, from_source, scan_programs
from harness.errors import ConfigError
from harness.toolchains import REPO_ROOT

CORPUS_DIR = REPO_ROOT / "corpus"
EXCLUDED_DIRS = ("include", "bench")
_DIRECTIVE_RE = re.compile(r"^\s*(?://|/?\*)\s*harness:\s*(\w+)\s*=\s*(.*?)\s*(?:\*/)?\s*$", re.M)
DIRECTIVES = ("mcpu", "cflags")


@dataclass
class Case:
    path: Path
    name: str
    programs: list[SourceProgram] = field(default_factory=list)
    mcpu: str | None = None
    cflags: tuple[str, ...] = ()

    @property
    def program_names(self) -> list[str]:
        return [p.name for p in self.programs]

    def source_annotations(self) -> dict[str, Annotations]:
        return from_source(self.path.read_text(errors="replace"))


def load_case(path: Path, root: Path = CORPUS_DIR) -> Case:
    path = Path(path).resolve()
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read case: {exc.strerror}", path=str(path)) from None
    try:
        name = str(path.relative_to(Path(root).resolve()).with_suffix(""))
    except ValueError:
        name = path.stem
    case = Case(path, name, scan_programs(text))
    for key, value in _DIRECTIVE_RE.findall(text):
        if key not in DIRECTIVES:
            raise ConfigError(f"unknown harness directive '{key}' (known: {', '.join(DIRECTIVES)})",
                              path=str(path))
        if key == "mcpu":
            case.mcpu = value
        else:
            case.cflags = tuple(shlex.split(value))
    return case


def discover(root: Path | str | None = None, select: list[str] | None = None) -> list[Case]:
    """All cases under root (sorted by id); `select` keeps ids matching any glob or prefix."""
    root = Path(root or CORPUS_DIR).resolve()
    if root.is_file():
        return [load_case(root, root.parent)]
    cases = []
    for p in sorted(root.rglob("*.c")):
        rel = p.relative_to(root)
        if rel.parts[0] in EXCLUDED_DIRS:
            continue
        cases.append(load_case(p, root))
    if select:
        cases = [c for c in cases if any(c.name == s or c.name.startswith(s.rstrip("/") + "/")
                                         or Path(c.name).match(s) for s in select)]
    return cases
