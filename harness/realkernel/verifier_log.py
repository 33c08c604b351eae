"""Reading the kernel's verifier and BTF logs: which line is "the reason".

Every verifier log ends with summary lines that are printed whether the load passed or
failed (`processed N insns ...`, and at BPF_LOG_STATS also `verification time` and `stack
depth`).  A few failures append a state dump after the reason (`infinite loop detected at
insn 1` is followed by `cur state:` / `old state:`).  The reason is therefore the last
non-empty line once those trailing lines are dropped; this is also the line the kernel
selftests' `__msg()` expectations usually match.  Observed on 6.18, running-kernel.md §1:

    0: (95) exit
    R0 !read_ok                <- the reason
    processed 1 insns (limit 1000000) max_states_per_insn 0 ...

Some kernel messages lack their newline, so the stats line is glued to the reason
(6.18: `invalid type id 1 in func infoprocessed 0 insns (limit 1000000) ...`); a stats
line that does not start a line is split off first.

BTF logs have no trailer: their last line (`[38] DATASEC .bss size=0 vlen=1 size == 0`)
is the reason.
"""

from __future__ import annotations

import re

#: Lines that can follow the reason at the end of a log, in any order.
TRAILER_PATTERNS = tuple(re.compile(p) for p in (
    r"^processed \d+ insns \(limit \d+\)",
    r"^verification time \d+ usec",
    r"^stack depth ",
    r"^cur state: ",
    r"^old state: ",
))

STATS_RE = re.compile(
    r"processed (\d+) insns \(limit (\d+)\) max_states_per_insn (\d+) total_states (\d+) "
    r"peak_states (\d+) mark_read (\d+)")


_GLUED_STATS = re.compile(r"(?<=[^\n])(?=processed \d+ insns \(limit \d+\))")


def _is_trailer(line: str) -> bool:
    return any(p.match(line) for p in TRAILER_PATTERNS)


def reason_line(log: str) -> str:
    """The line that states why a load failed ("" for an empty log)."""
    log = _GLUED_STATS.sub("\n", log)
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    while lines and _is_trailer(lines[-1]):
        lines.pop()
    return lines[-1] if lines else ""


def processed_insns(log: str) -> int | None:
    """N from the last `processed N insns` line, or None when the log has none."""
    found = STATS_RE.findall(log)
    return int(found[-1][0]) if found else None
