"""The user address space of the emulated kernel's one "current process".

Helpers such as bpf_copy_from_user read user memory, which the emulated kernel otherwise
does not have: user space talks to it with Python bytes.  A test (or a light skeleton
run through harness.libbpf.gen_loader.run_loader) that wants the kernel to see a user
pointer maps a buffer here and passes the address, as a C program passes `&buf`:

    addr = user_memory(kernel).map(bytearray(image))

Addresses look like x86_64 user addresses (below 0x0000_8000_0000_0000) and never
collide with the VM's kernel address space (harness/kernel/vm/memory.py), so a kernel
pointer given as a user pointer faults (-EFAULT) instead of reading kernel memory.
Buffers stay live: writes by user space after `map` are what the kernel reads, and
what the kernel writes (a verifier log) user space sees in its own bytearray.
"""

from __future__ import annotations

from dataclasses import dataclass, field

USER_BASE = 0x0000_7F00_0000_0000
PAGE = 4096


@dataclass
class UserMemory:
    regions: dict[int, bytearray] = field(default_factory=dict)   # base -> buffer
    next_base: int = USER_BASE

    def map(self, buf: bytearray | bytes) -> int:
        """Make `buf` readable at a fresh page-aligned address (a guard page follows it)."""
        if not isinstance(buf, bytearray):
            buf = bytearray(buf)
        base = self.next_base
        self.regions[base] = buf
        self.next_base += (len(buf) + 2 * PAGE - 1) // PAGE * PAGE
        return base

    def unmap(self, base: int) -> None:
        self.regions.pop(base, None)

    def read(self, addr: int, size: int) -> bytes | None:
        """`size` bytes at `addr`, or None when any of them is unmapped (copy_from_user fails)."""
        for base, buf in self.regions.items():
            if base <= addr and addr + size <= base + len(buf):
                return bytes(buf[addr - base:addr - base + size])
        return None

    def write(self, addr: int, data: bytes) -> bool:
        """copy_to_user: False (nothing written) when any byte is unmapped."""
        for base, buf in self.regions.items():
            if base <= addr and addr + len(data) <= base + len(buf):
                buf[addr - base:addr - base + len(data)] = data
                return True
        return False


def user_memory(kernel) -> UserMemory:
    """The kernel's user address space, created on first use."""
    mem = getattr(kernel, "_user_memory", None)
    if mem is None:
        mem = kernel._user_memory = UserMemory()
    return mem
