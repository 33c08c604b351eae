"""Checking a verifier log, an xlated dump or a return value against selftest-style
expectations (`__msg`, `__not_msg`, `__xlated`, `__retval`; upstream-spec §8.3).

Pure functions: they take text and patterns and return a list of mismatch strings (empty =
everything matched), so the matrix's verify stage, tests and the CLI share one matcher.

Pattern syntax (test_loader.c): literal text, except `{{...}}` segments which are POSIX
extended regular expressions.  `__msg` patterns are searched in order, each starting after
the previous match; a `__not_msg` must not occur between the neighbouring positive matches.
`__xlated` patterns match consecutive lines (the first anywhere) unless a `...` pattern
between them allows a gap.
"""

from __future__ import annotations

import re

POINTER_VALUE = 0xBADCAFE        # __retval(POINTER_VALUE): do not compare

_POSIX_CLASSES = {
    "[:digit:]": r"0-9", "[:alpha:]": r"A-Za-z", "[:alnum:]": r"A-Za-z0-9", "[:space:]": r"\s",
    "[:upper:]": r"A-Z", "[:lower:]": r"a-z", "[:xdigit:]": r"0-9A-Fa-f", "[:punct:]": r"!-/:-@\[-`{-~",
}


def _ere(expr: str) -> str:
    for posix, py in _POSIX_CLASSES.items():
        expr = expr.replace(posix, py)
    return expr


def compile_pattern(pattern: str) -> re.Pattern:
    """`literal{{regex}}literal` -> one compiled Python regex."""
    out, pos = [], 0
    while True:
        start = pattern.find("{{", pos)
        if start < 0:
            out.append(re.escape(pattern[pos:]))
            break
        end = pattern.find("}}", start + 2)
        if end < 0:
            raise ValueError(f"unterminated '{{{{' in pattern {pattern!r}")
        out.append(re.escape(pattern[pos:start]))
        out.append("(?:" + _ere(pattern[start + 2:end]) + ")")
        pos = end + 2
    return re.compile("".join(out))


def match_msgs(log: str, items: list[tuple[str, str]]) -> list[str]:
    """items: ("msg" | "not_msg", pattern) in annotation order."""
    problems: list[str] = []
    pos = 0
    pending_not: list[str] = []
    for kind, pattern in items:
        try:
            rx = compile_pattern(pattern)
        except (ValueError, re.error) as exc:
            problems.append(f"bad pattern {pattern!r}: {exc}")
            continue
        if kind == "not_msg":
            pending_not.append(pattern)
            continue
        m = rx.search(log, pos)
        if m is None:
            problems.append(f"expected message not found: {pattern!r}")
            continue
        problems += _check_not(log[pos:m.start()], pending_not)
        pending_not = []
        pos = m.end()
    problems += _check_not(log[pos:], pending_not)
    return problems


def _check_not(region: str, patterns: list[str]) -> list[str]:
    out = []
    for pattern in patterns:
        try:
            if compile_pattern(pattern).search(region):
                out.append(f"unexpected message found: {pattern!r}")
        except (ValueError, re.error) as exc:
            out.append(f"bad pattern {pattern!r}: {exc}")
    return out


def match_lines(text: str, patterns: list[str], what: str = "xlated") -> list[str]:
    """__xlated / __jited / __stderr matching over the lines of `text`."""
    lines = text.splitlines()
    i = 0
    consecutive = False
    for pattern in patterns:
        if pattern.strip() == "...":
            consecutive = False
            continue
        try:
            rx = compile_pattern(pattern)
        except (ValueError, re.error) as exc:
            return [f"bad pattern {pattern!r}: {exc}"]
        if consecutive:
            if i < len(lines) and rx.search(lines[i]):
                i += 1
                continue
            got = lines[i] if i < len(lines) else "<end>"
            return [f"{what} line {i} does not match {pattern!r}: {got!r}"]
        while i < len(lines) and not rx.search(lines[i]):
            i += 1
        if i >= len(lines):
            return [f"{what}: no line matches {pattern!r}"]
        i += 1
        consecutive = True
    return []


def match_retval(expected: int | None, actual: int | None) -> list[str]:
    if expected is None or expected == POINTER_VALUE:
        return []
    if actual is None:
        return [f"no return value (expected {expected})"]
    mask = (1 << 64) - 1
    if expected & mask != actual & mask and expected & 0xFFFFFFFF != actual & 0xFFFFFFFF:
        return [f"retval {actual} != expected {expected}"]
    return []


def match_verdict(expect_success: bool | None, loaded: bool) -> list[str]:
    if expect_success is None or expect_success == loaded:
        return []
    return ["unexpected_load_success" if loaded else "unexpected_load_failure"]


def msg_items(tags: list[str], msgs: list[str], not_msgs: list[str], unpriv: bool = False) -> list[tuple[str, str]]:
    """The ordered (kind, pattern) list from normalised annotation tags ("key=value");
    falls back to all positives then all negatives when the tags are not available."""
    sfx = "_unpriv" if unpriv else ""
    items = []
    for tag in tags:
        key, _, value = tag.partition("=")
        if key == "test_expect_msg" + sfx:
            items.append(("msg", value))
        elif key == "test_expect_not_msg" + sfx:
            items.append(("not_msg", value))
    if not items:
        items = [("msg", m) for m in msgs] + [("not_msg", m) for m in not_msgs]
    return items


def xlated_text(lines: list[str]) -> str:
    """`N: (code) insn` disassembly lines -> the `N: insn` form __xlated patterns use."""
    return "\n".join(re.sub(r"^(\s*\d+: )\([0-9a-f]{2}\) ", r"\1", ln) for ln in lines)
