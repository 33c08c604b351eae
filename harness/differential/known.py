"""Fuzz expectations: known classes of disagreement between the emulated and the running kernel.

`known_differences.toml` (beside this module) lists classes, each with an `id`, a `reason`
(why it is not an emulation bug, or the missing feature it stands for) and a matcher on one
`observe.Difference`:

- `field`: the difference's field (`processed`, `verdict`, `errno`, `message`, `run`, `map`);
- `emulated` / `real`: regular expressions searched in the two sides' texts (optional);
- `requires`: program features (FEATURES) the whole program must have (optional);
- `vanishes_when`: a counterfactual (REWRITES): the program rewritten so that the suspected
  cause is gone, loaded again on both kernels; the class matches only if that difference
  is then gone.  This is what keeps a class narrow: "counts differ *because of* X" is
  checked per program, not assumed.

A disagreement is known when every one of its differences matches a class (the first
class in file order that matches is credited; when no single counterfactual removes a
difference, all matching counterfactuals applied together may, and they are all credited);
map differences of a program that only one side loaded follow from the verdict and
need no class of their own.  Otherwise the disagreement is unexplained and the fuzzer
minimises and prints it.  A class that matched nothing in a run is reported as unused:
the cause may be fixed, and the class should then be deleted.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.differential.observe import Difference
from harness.errors import ConfigError
from harness.isa import opcodes as o

DEFAULT_FILE = Path(__file__).with_name("known_differences.toml")
FIELDS = ("processed", "verdict", "errno", "message", "run", "map")
HELPER_SMP_ID, HELPER_PRANDOM = 8, 7


def _same_reg_jump(insns) -> bool:
    return any(o.is_cond_jump(i) and o.src_bit(i.code) == o.BPF_X and i.src == i.dst for i in insns)


def _div_mod(insns) -> bool:
    return any(o.is_alu(i) and o.op(i.code) in (o.BPF_DIV, o.BPF_MOD) for i in insns)


def _narrow_stack_load(insns) -> bool:
    return any(o.cls(i.code) == o.BPF_LDX and i.src == 10 and o.size(i.code) != o.BPF_DW for i in insns)


def _calls(helper: int) -> Callable:
    return lambda insns: any(o.is_helper_call(i) and i.imm == helper for i in insns)


#: Static program features a class may require (all of them, on the original program).
FEATURES: dict[str, Callable] = {
    "calls_smp_processor_id": _calls(HELPER_SMP_ID),
    "calls_map_helper": lambda insns: any(o.is_helper_call(i) and i.imm in (1, 2, 3) for i in insns),
    "div_mod": _div_mod,
    "same_register_jump": _same_reg_jump,
    "narrow_stack_load": _narrow_stack_load,
}


def _smp_id_as_prandom(insns):
    """bpf_get_prandom_u32 has the same prototype and an unknown u32 result on both
    verifiers: what bpf_get_smp_processor_id looks like without a return range."""
    return [i.replace(imm=HELPER_PRANDOM) if o.is_helper_call(i) and i.imm == HELPER_SMP_ID else i for i in insns]


def _div_as_mod(insns):
    """BPF_MOD is tracked as an unknown result by both verifiers; BPF_DIV by a constant is
    tracked as a range by ours only.  Division-by-zero checks treat both alike."""
    return [i.replace(code=(i.code & ~0xF0) | o.BPF_MOD) if o.is_alu(i) and o.op(i.code) == o.BPF_DIV else i
            for i in insns]


def _unsafe_alu32_as_alu64(insns):
    """ALU32 operations whose result 6.18 cannot bound (division, modulo, shift by a
    register) become ALU64: both verifiers then leave the full 64-bit register unknown."""
    def unsafe(i):
        return o.cls(i.code) == o.BPF_ALU and (o.op(i.code) in (o.BPF_DIV, o.BPF_MOD) or (
            o.op(i.code) in (o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH) and o.src_bit(i.code) == o.BPF_X))
    return [i.replace(code=(i.code & ~0x07) | o.BPF_ALU64) if unsafe(i) else i for i in insns]


#: Counterfactuals: a program with one suspected cause removed (same length, same jumps).
REWRITES: dict[str, Callable] = {
    "smp_processor_id_as_prandom": _smp_id_as_prandom,
    "div_as_mod": _div_as_mod,
    "unsafe_alu32_as_alu64": _unsafe_alu32_as_alu64,
}


@dataclass(frozen=True)
class KnownClass:
    id: str
    reason: str
    field: str
    emulated: re.Pattern | None = None
    real: re.Pattern | None = None
    requires: tuple[str, ...] = ()
    vanishes_when: str = ""

    def matches_statically(self, d: Difference, insns) -> bool:
        if d.what.split()[0] != self.field:
            return False
        if self.emulated is not None and not self.emulated.search(d.emulated):
            return False
        if self.real is not None and not self.real.search(d.real):
            return False
        return all(FEATURES[f](insns) for f in self.requires)


def load(path: str | Path = DEFAULT_FILE) -> tuple[KnownClass, ...]:
    """The classes of `path`; a malformed file is a ConfigError naming the file and entry."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    out, seen = [], set()
    for n, e in enumerate(data.get("difference", [])):
        where = f"{path}: [[difference]] #{n + 1}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: not a table")
        unknown = set(e) - {"id", "reason", "field", "emulated", "real", "requires", "vanishes_when", "reproducer"}
        missing = [k for k in ("id", "reason", "field") if not e.get(k)]
        if unknown or missing:
            raise ConfigError(f"{where}: " + (f"unknown keys {sorted(unknown)}" if unknown else f"missing {missing}"))
        if e["id"] in seen:
            raise ConfigError(f"{where}: duplicate id {e['id']!r}")
        seen.add(e["id"])
        if e["field"] not in FIELDS:
            raise ConfigError(f"{where}: field {e['field']!r} is not one of {', '.join(FIELDS)}")
        bad = [f for f in e.get("requires", []) if f not in FEATURES]
        if bad or e.get("vanishes_when", "") not in ("", *REWRITES):
            raise ConfigError(f"{where}: unknown feature/rewrite {bad or e['vanishes_when']!r}; "
                              f"features: {', '.join(FEATURES)}; rewrites: {', '.join(REWRITES)}")
        try:
            pats = {k: re.compile(e[k]) if k in e else None for k in ("emulated", "real")}
        except re.error as exc:
            raise ConfigError(f"{where}: bad regular expression: {exc}") from None
        out.append(KnownClass(e["id"], e["reason"], e["field"], pats["emulated"], pats["real"],
                              tuple(e.get("requires", ())), e.get("vanishes_when", "")))
    return tuple(out)


def classify(classes, diffs: list[Difference], insns, recheck: Callable | None) -> list[str] | None:
    """The class id credited for each difference, or None when one of them is unexplained.
    `recheck(insns)` -> the differences of a rewritten program on both kernels (load only);
    without it, counterfactual classes never match."""
    ids = []
    cache: dict[str, list[Difference]] = {}
    if diffs and diffs[0].what == "verdict":
        # the program ran on one side only: its map contents follow from the verdict
        diffs = [d for d in diffs if d.what.split()[0] != "map"]
    for d in diffs:
        for c in classes:
            if not c.matches_statically(d, insns):
                continue
            if c.vanishes_when:
                if recheck is None:
                    continue
                if c.vanishes_when not in cache:
                    cache[c.vanishes_when] = recheck(REWRITES[c.vanishes_when](list(insns)))
                if any(x.key == d.key for x in cache[c.vanishes_when]):
                    continue
            ids.append(c.id)
            break
        else:
            both = _combined(classes, d, insns, recheck)
            if not both:
                return None
            ids.extend(both)
    return ids


def _combined(classes, d: Difference, insns, recheck) -> list[str]:
    """Several causes in one program: the counterfactual classes that match `d` statically,
    all rewrites applied together; credited (all of them) if that makes `d` vanish and
    each one alone did not."""
    cands = [c for c in classes if c.vanishes_when and c.matches_statically(d, insns)]
    if recheck is None or len(cands) < 2:
        return []
    rewritten = list(insns)
    for c in cands:
        rewritten = REWRITES[c.vanishes_when](rewritten)
    return [] if any(x.key == d.key for x in recheck(rewritten)) else [c.id for c in cands]
