"""The verifier log (kernel/bpf/log.c): level bits, rewinding, state annotations.

BPF_LOG_LEVEL1 (1) logs each processed instruction and the states at branch points, but
rewinds the log whenever a path is finished (so a failing load shows only the failing path
and a successful one only the statistics); BPF_LOG_LEVEL2 (2) keeps everything; BPF_LOG_STATS
(4) adds `verification time` and `stack depth`.  The state after an instruction is appended
to the instruction's own line, padded to the kernel's column (vlog_alignment).
"""

from __future__ import annotations

LEVEL1, LEVEL2, STATS = 1, 2, 4
MIN_ALIGN, ALIGN = 8, 40


def alignment(pos: int) -> int:
    """vlog_alignment: the pad width after an instruction line of `pos` bytes (with \\n)."""
    return ((max(pos + MIN_ALIGN // 2, ALIGN) + MIN_ALIGN - 1) // MIN_ALIGN) * MIN_ALIGN - pos - 1


class VLog:
    __slots__ = ("level", "parts", "insn_part", "enabled")

    def __init__(self, level: int):
        self.level = level
        self.enabled = bool(level & (LEVEL1 | LEVEL2))
        self.parts: list[str] = []
        self.insn_part = -1       # index of the last instruction line, while nothing followed it

    def write(self, text: str) -> None:
        if self.enabled:
            self.parts.append(text)
            self.insn_part = -1

    def insn(self, idx: int, text: str) -> None:
        if self.enabled:
            self.parts.append(f"{idx}: {text}\n")
            self.insn_part = len(self.parts) - 1

    def state(self, idx: int, text: str) -> None:
        """print_insn_state: append to the previous instruction line if nothing followed it."""
        if not self.enabled:
            return
        if self.insn_part == len(self.parts) - 1 and self.insn_part >= 0:
            line = self.parts[-1]
            pad = alignment(len(line))
            self.parts[-1] = line[:-1] + " " * pad + ";" + text + "\n"
        else:
            self.parts.append(f"{idx}:{text}\n")
        self.insn_part = -1

    @property
    def pos(self) -> int:
        return len(self.parts)

    def reset(self, pos: int, last_len: int | None = None) -> None:
        """bpf_vlog_reset to a byte position, given as (parts kept, length of the last kept
        part then).  Only the last part can have grown since (a state appended to an
        instruction line), so cutting it back reproduces the kernel's byte truncation,
        including its quirk of keeping one pad byte where the newline was."""
        del self.parts[pos:]
        if last_len is not None and self.parts and len(self.parts[-1]) > last_len:
            self.parts[-1] = self.parts[-1][:last_len]
        self.insn_part = -1

    def text(self) -> str:
        return "".join(self.parts)
