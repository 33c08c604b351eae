"""Reader for the BPF conformance suite's test files (`*.data`).

Format (README in /work/shared/conformance): `--` lines open sections (`asm`, `raw`,
`mem`, `result`, `error`; `c` and `no register offset` are ignored; anything else makes
the file invalid).  `raw` lines hold one 64-bit number per instruction (little-endian
fields: opcode in the low byte); as an extension a line of exactly eight two-digit hex
tokens is read as the instruction's eight bytes in memory order (the suite's negative
files are written that way).  `raw` wins over `asm`.

`load_case` returns the program already validated with harness.isa.validate (reserved
fields, known opcodes, callx allowed), so a file is either a runnable case or a
ConformanceFileError naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.isa.asm import AsmError, assemble
from harness.isa.insn import Insn, decode
from harness.isa.validate import InsnValidationError, validate

IGNORED_SECTIONS = ("no register offset", "c")
SECTIONS = ("asm", "result", "mem", "raw", "error")


class ConformanceFileError(HarnessError):
    """A conformance test file that cannot be turned into a runnable case."""


@dataclass
class ConformanceCase:
    name: str
    insns: list[Insn]
    mem: bytes
    result: int | None       # expected r0 (u64); None when an error is expected
    error: str | None        # expected error text
    from_raw: bool


def _section_kind(line: str) -> str | None:
    directive = line.split("--", 1)[1].strip()
    if directive in IGNORED_SECTIONS:
        return "ignore"
    for kind in SECTIONS:
        if kind in directive:
            return kind
    return None


def _raw_insns(lines: list[tuple[int, str]], path: str) -> list[Insn]:
    data = bytearray()
    for lineno, text in lines:
        toks = text.split()
        if len(toks) == 8 and all(re.fullmatch(r"[0-9a-fA-F]{2}", t) for t in toks):
            data += bytes(int(t, 16) for t in toks)
            continue
        for tok in toks:
            try:
                value = int(tok, 16) if tok.lower().startswith("0x") else int(tok, 10)
            except ValueError:
                raise ConformanceFileError(f"line {lineno}: invalid raw instruction '{tok}'",
                                           path=path) from None
            if not 0 <= value < 1 << 64:
                raise ConformanceFileError(f"line {lineno}: raw instruction out of range", path=path)
            data += value.to_bytes(8, "little")
    return decode(bytes(data), where=path)


def parse_case(text: str, *, path: str = "<conformance>") -> ConformanceCase:
    sections: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for lineno, line in enumerate(text.replace("\r", "").split("\n"), 1):
        if "--" in line.split("#", 1)[0]:
            kind = _section_kind(line.split("#", 1)[0])
            if kind is None:
                raise ConformanceFileError(f"line {lineno}: unknown directive '{line.strip()}'",
                                           path=path)
            current = kind
            sections.setdefault(kind, [])
            continue
        body = line.split("#", 1)[0].strip()
        if current is None:
            if body:
                raise ConformanceFileError(f"line {lineno}: text outside a section", path=path)
            continue
        if current != "ignore":
            sections[current].append((lineno, line if current == "asm" else body))
    try:
        if "raw" in sections:
            insns, from_raw = _raw_insns([x for x in sections["raw"] if x[1]], path), True
        elif "asm" in sections:
            asm = sections["asm"]
            first = asm[0][0] if asm else 1
            insns = assemble("\n".join(t for _, t in asm), path=path, first_line=first)
            from_raw = False
        else:
            raise ConformanceFileError("no asm or raw section", path=path)
        if not insns:
            raise ConformanceFileError("no instructions", path=path)
        validate(insns, callx=True, path=path)
    except (AsmError, InsnValidationError, ConformanceFileError):
        raise
    except HarnessError as exc:     # InsnFormatError from decode
        raise ConformanceFileError(str(exc)) from None
    mem = bytearray()
    for lineno, body in sections.get("mem", []):
        try:
            mem += bytes.fromhex(body)
        except ValueError:
            raise ConformanceFileError(f"line {lineno}: invalid mem bytes", path=path) from None
    error = None
    if "error" in sections:
        lines = [b for _, b in sections["error"] if b]
        error = lines[-1] if lines else ""
    result = None
    if error is None:
        lines = [(n, b) for n, b in sections.get("result", []) if b]
        result = 0
        if lines:
            n, tok = lines[-1]
            try:
                result = int(tok, 16) if tok.lower().startswith("0x") else int(tok)
            except ValueError:
                raise ConformanceFileError(f"line {n}: invalid result '{tok}'", path=path) from None
            result &= (1 << 64) - 1
    return ConformanceCase(Path(path).stem, insns, bytes(mem), result, error, from_raw)


def load_case(path: str | Path) -> ConformanceCase:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConformanceFileError(f"cannot read: {exc}", path=str(p)) from None
    return parse_case(text, path=str(p))
