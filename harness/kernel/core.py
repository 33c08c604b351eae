"""State shared by every part of the emulated kernel: its configuration and fd table.

The emulated kernel is assembled from one mixin per concern (maps, programs, BTF,
objects) in harness/kernel/syscall.py; each mixin keeps its own objects in `self.fds`.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from harness.kernelapi import BpfError

#: Every optional feature the emulated kernel can be told to lack.  Names are ours; the
#: comment says which upstream change added the behaviour.
ALL_FEATURES = frozenset({
    "global_data",       # direct value access for ARRAY maps (ld_imm64 MAP_VALUE)
    "cpu_flags",         # BPF_F_CPU / BPF_F_ALL_CPUS on per-CPU maps (seed 000)
    "percpu_data",       # global percpu data: direct value access on PERCPU_ARRAY (seed 001)
    "jit_percpu_insn",   # bpf_jit_supports_percpu_insn(): the JIT can run the percpu mov
    "btf_decl_tag",      # BTF_KIND_DECL_TAG
    "btf_type_tag",      # BTF_KIND_TYPE_TAG
    "btf_enum64",        # BTF_KIND_ENUM64
    "btf_float",         # BTF_KIND_FLOAT
    "btf_func",          # BTF_KIND_FUNC / FUNC_PROTO
    "btf_datasec",       # BTF_KIND_VAR / DATASEC
})


@dataclass
class KernelConfig:
    """How an emulated kernel instance behaves.

    nr_cpus: possible CPUs (1..4096); memory for per-CPU data grows only with the CPUs a
    test actually touches.  privileged: root with all capabilities (True) or CAP_BPF only.
    features: the optional features present (default: all).  seed: for bpf_get_prandom_u32.
    default_cpu: the CPU a program runs on when test_run does not pick one.
    """
    nr_cpus: int = 4
    privileged: bool = True
    features: frozenset[str] = ALL_FEATURES
    seed: int = 0
    default_cpu: int = 0
    jit_enabled: bool = True
    insn_budget: int = 100_000_000

    def __post_init__(self):
        if not 1 <= self.nr_cpus <= 4096:
            raise ValueError(f"nr_cpus must be between 1 and 4096, not {self.nr_cpus}")
        unknown = set(self.features) - ALL_FEATURES
        if unknown:
            raise ValueError(f"unknown kernel features: {sorted(unknown)}")
        self.features = frozenset(self.features)

    def has(self, feature: str) -> bool:
        return feature in self.features


@dataclass
class FdTable:
    """Maps small integers to kernel objects, like a process fd table (starting at 3)."""
    objects: dict[int, object] = field(default_factory=dict)
    next_fd: int = 3
    next_id: int = 1

    def install(self, obj: object) -> int:
        fd = self.next_fd
        self.next_fd += 1
        self.objects[fd] = obj
        return fd

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def get(self, fd: int, kind: type | tuple[type, ...] | None = None):
        obj = self.objects.get(fd)
        if obj is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        if kind is not None and not isinstance(obj, kind):
            raise BpfError(errno.EINVAL, f"fd {fd} is not the right kind of object")
        return obj

    def close(self, fd: int) -> None:
        if self.objects.pop(fd, None) is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
