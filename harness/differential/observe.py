"""What one kernel did with a program, and how two such observations differ.

An Observation is kernel-neutral data: the load verdict (accepted, or the errno name and
the reason line), the processed-instruction count, the test-run result on each CPU and
the maps' contents afterwards.  `compare(emulated, real)` lists every Difference; it is
the one place that decides what counts as "the same".

Two fields are compared only when both sides really verified the program: the reason
line (only when both rejections came with a verifier log: an EPERM before the verifier
has none on the running kernel) and the processed count (only for like outcomes).  While the emulated verifier is not available the emulated
kernel accepts everything unchecked (its log says so, UNCHECKED_MARK); a count from such
a load means nothing, and the verdict difference it causes is reported on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.kernelapi import BpfError
from harness.uapi import MapType

#: What the emulated kernel's log says when it accepted a program without a verifier.
UNCHECKED_MARK = "accepted unchecked"
#: Map types whose contents are plain data that both kernels must agree on.
COMPARABLE_MAP_TYPES = frozenset({MapType.ARRAY, MapType.HASH, MapType.PERCPU_ARRAY, MapType.PERCPU_HASH,
                                  MapType.LRU_HASH, MapType.LRU_PERCPU_HASH})
MAX_MAP_ENTRIES = 4096
MAX_SHOWN = 3


@dataclass
class LoadObs:
    accepted: bool
    errno: str = ""                 # errno name when rejected
    message: str = ""               # the reason line when rejected
    processed: int | None = None    # verified_insns, or the log's `processed N insns`
    checked: bool = True            # False: accepted without a verifier
    logged: bool = True             # the rejection came with a verifier log (else no reason line to compare)

    def text(self) -> str:
        if self.accepted:
            return "loaded" + ("" if self.checked else " (unchecked)")
        return f"{self.errno}: {self.message}" if self.message else self.errno

    def to_dict(self) -> dict:
        return {"accepted": self.accepted, "errno": self.errno, "message": self.message,
                "processed": self.processed, "checked": self.checked}


@dataclass
class RunObs:
    cpu: int
    retval: int | None = None       # u32, as BPF_PROG_TEST_RUN reports it
    errno: str = ""
    message: str = ""

    def text(self) -> str:
        return f"retval {self.retval:#x}" if self.errno == "" else f"{self.errno}"

    def to_dict(self) -> dict:
        return {"cpu": self.cpu, "retval": self.retval, "errno": self.errno, "message": self.message}


@dataclass
class Observation:
    load: LoadObs | None = None
    runs: list[RunObs] = field(default_factory=list)
    maps: dict[str, dict[str, str] | str] = field(default_factory=dict)   # name -> contents | why not read

    def to_dict(self) -> dict:
        return {"load": self.load.to_dict() if self.load else None, "runs": [r.to_dict() for r in self.runs],
                "maps": self.maps}


@dataclass(frozen=True)
class Difference:
    what: str          # verdict, errno, message, processed, run cpuN, map NAME
    emulated: str
    real: str

    def text(self) -> str:
        return f"{self.what}: emulated {self.emulated}, real {self.real}"

    @property
    def key(self) -> tuple:
        """The kind of disagreement, stable under edits that shift instruction numbers
        (delta debugging keeps a program only while this stays the same)."""
        if self.what in ("verdict", "errno"):
            return (self.what, _insn_free(self.emulated), _insn_free(self.real))
        if self.what in ("message", "processed"):
            return (self.what,)
        return (self.what.split()[0],)

    def to_dict(self) -> dict:
        return {"what": self.what, "emulated": self.emulated, "real": self.real}


_INSN_NUMBERS = re.compile(r"\b(insn|from|to|at|pc|#)\s*[-+]?\d+")


def _insn_free(text: str) -> str:
    """A verdict text without instruction numbers (they shift when a program shrinks)."""
    return _INSN_NUMBERS.sub(r"\1 N", text)


def load_obs(exc: BpfError | None, *, log: str = "", verified_insns: int = 0) -> LoadObs:
    """A LoadObs from a load's outcome (the exception, or the success's log and count)."""
    from harness.realkernel.verifier_log import processed_insns
    if exc is None:
        return LoadObs(True, processed=verified_insns or processed_insns(log), checked=UNCHECKED_MARK not in log)
    return LoadObs(False, exc.errno_name, exc.message, processed_insns(exc.log or ""),
                   logged=bool((exc.log or "").strip()))


def run_obs(cpu: int, fn) -> RunObs:
    try:
        res = fn()
    except BpfError as exc:
        return RunObs(cpu, errno=exc.errno_name, message=exc.message)
    return RunObs(cpu, retval=res.retval & 0xFFFFFFFF)


def snapshot_map(kernel, fd: int, map_type: int) -> dict[str, str] | str:
    """Every element as {key hex: value hex} (per-CPU values in the full user-space layout),
    or the reason the map was not read."""
    if map_type not in COMPARABLE_MAP_TYPES:
        return f"not compared: map type {map_type}"
    out: dict[str, str] = {}
    key: bytes | None = None
    try:
        for _ in range(MAX_MAP_ENTRIES):
            try:
                key = kernel.map_get_next_key(fd, key)
            except BpfError as exc:
                if exc.errno_name == "ENOENT":
                    break
                raise
            try:
                out[key.hex()] = kernel.map_lookup_elem(fd, key, 0).hex()
            except BpfError as exc:
                out[key.hex()] = exc.errno_name
    except BpfError as exc:
        return f"unreadable: {exc.errno_name}: {exc.message}"
    return out


def _map_diff(name: str, a, b) -> Difference | None:
    if a == b:
        return None
    if isinstance(a, str) or isinstance(b, str):
        return Difference(f"map {name}", a if isinstance(a, str) else f"{len(a)} entries",
                          b if isinstance(b, str) else f"{len(b)} entries")
    keys = sorted(set(a) | set(b))
    bad = [k for k in keys if a.get(k) != b.get(k)]
    show = lambda d: "; ".join(f"[{k}]={d.get(k, 'absent')}" for k in bad[:MAX_SHOWN]) + \
        (f" (+{len(bad) - MAX_SHOWN} more)" if len(bad) > MAX_SHOWN else "")    # noqa: E731
    return Difference(f"map {name}", show(a), show(b))


def compare(emu: Observation, real: Observation) -> list[Difference]:
    diffs: list[Difference] = []
    a, b = emu.load, real.load
    if a is not None and b is not None:
        if a.accepted != b.accepted:
            diffs.append(Difference("verdict", a.text(), b.text()))
        elif not a.accepted:
            if a.errno != b.errno:
                diffs.append(Difference("errno", a.text(), b.text()))
            elif a.message != b.message and a.logged and b.logged:
                diffs.append(Difference("message", repr(a.message), repr(b.message)))
        # counts of loads that ended differently (or for different reasons) say nothing more
        if not diffs and a.checked and b.checked and a.processed is not None \
                and b.processed is not None and a.processed != b.processed:
            diffs.append(Difference("processed", str(a.processed), str(b.processed)))
    runs_b = {r.cpu: r for r in real.runs}
    for ra in emu.runs:
        rb = runs_b.get(ra.cpu)
        if rb is not None and (ra.retval, ra.errno) != (rb.retval, rb.errno):
            diffs.append(Difference(f"run cpu{ra.cpu}", ra.text(), rb.text()))
    for name in sorted(set(emu.maps) | set(real.maps)):
        if name not in emu.maps or name not in real.maps:
            diffs.append(Difference(f"map {name}", "created" if name in emu.maps else "not created",
                                    "created" if name in real.maps else "not created"))
            continue
        d = _map_diff(name, emu.maps[name], real.maps[name])
        if d is not None:
            diffs.append(d)
    return diffs
