"""The VM's address space: bounds-checked regions named by plain 64-bit addresses.

Every region lives alone in a 4 GiB "slot": its base is `slot << 32`.  Translating an
address is then one dict lookup on `addr >> 32` plus a bounds check on `addr & 0xffffffff`
(done by struct/bytearray indexing in the translated code), and any address outside a
region -- NULL, a wild pointer, an offset past the end or before the start -- misses,
so it is caught instead of silently touching a neighbour.

Region kinds: `stack`, `ctx`, `packet`, `map_value`, `percpu` (a CPU's copy), `rodata`,
... (free-form strings for messages) plus two that have no bytes:
  * `percpu_cookie` -- what an ld_imm64 of a per-CPU map value holds (upstream-spec §3.5):
    not dereferenceable; the percpu mov (or bpf_this_cpu_ptr) turns cookie + off into the
    same offset in the current CPU's copy, obtained from a resolver callback, so memory
    grows only with the CPUs a program actually runs on;
  * `object` -- an opaque kernel object handle (a `struct bpf_map *` in r1 of a helper
    call): `object_at(addr)` gives the object back.
Kernel per-CPU *symbols* (`add_percpu_symbol`) are the other input of the percpu mov: a
fixed address in the kernel image range (what the kernel's inlined helpers load with a
32-bit immediate, e.g. `cpu_number` for bpf_get_smp_processor_id), which the percpu mov
turns into that CPU's copy; the symbol address itself is not memory.
Map values and other live storage can be exposed lazily with `address_of(buf)`: the same
bytearray always gets the same address, so pointers stay stable across runs.

The address space belongs to one emulated kernel and outlives single runs (prog_load
resolves ld_imm64 immediates to addresses in it); per-run regions (stack, ctx, packet)
are added and removed by their owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from harness.kernel.vm.errors import VmFault

DATA_SLOT0 = 0x80000000      # data regions: 0x80000000_00000000 up (2**31 - 1 slots)
COOKIE_SLOT0 = 0x00006000    # per-CPU cookies: small, obviously-not-kernel-memory values
FUNC_SLOT = 0xFFFFFFFF       # callback "addresses": FUNC_SLOT << 32 | insn index
SLOT_SIZE = 1 << 32

PercpuResolver = Callable[[int], Any]      # cpu -> bytearray (that CPU's copy)


@dataclass
class Region:
    base: int
    buf: Any                # bytearray / memoryview('B') / bytes; None for cookies, objects
    writable: bool
    kind: str
    name: str = ""
    resolver: PercpuResolver | None = None   # percpu_cookie only
    size: int = 0                            # percpu_cookie: bytes per CPU copy
    obj: Any = None                          # object handles

    @property
    def length(self) -> int:
        return len(self.buf) if self.buf is not None else self.size

    def describe(self) -> str:
        label = f"{self.kind} {self.name}".strip()
        return f"{label} [0x{self.base:x}, +{self.length})"


class Memory:
    """Regions by slot.  `rbuf` / `wbuf` (slot -> buffer) are read by translated code."""

    def __init__(self):
        self.regions: dict[int, Region] = {}
        self.rbuf: dict[int, Any] = {}          # every readable region
        self.wbuf: dict[int, Any] = {}          # writable regions only
        self._by_id: dict[int, int] = {}        # id(storage) -> slot, for address_of
        self._pcpu: dict[tuple[int, int], int] = {}   # (cookie slot, cpu) -> copy base
        self._pcpu_syms: dict[int, tuple[int, PercpuResolver, str]] = {}   # addr -> (size, resolver, name)
        self._pcpu_sym_copies: dict[tuple[int, int], int] = {}           # (addr, cpu) -> copy base
        self._next_data = DATA_SLOT0
        self._next_cookie = COOKIE_SLOT0

    # --- registration ----------------------------------------------------------------------
    def _slot(self) -> int:
        # Slots are never reused: a stale pointer into a removed region must fault, not
        # alias whatever is registered next (2**31 slots outlast any test session).
        slot = self._next_data
        if slot >= FUNC_SLOT:
            raise VmFault("address space exhausted")
        self._next_data += 1
        return slot

    def add(self, buf, *, writable: bool = True, kind: str = "mem", name: str = "") -> int:
        """Register `buf` (bytes-like; writable needs bytearray or writable memoryview)
        as a new region and return its base address."""
        if isinstance(buf, memoryview) and buf.format != "B":
            buf = buf.cast("B")
        if writable and (isinstance(buf, bytes) or (isinstance(buf, memoryview) and buf.readonly)):
            raise ValueError("a writable region needs a mutable buffer")
        if len(buf) >= SLOT_SIZE:
            raise ValueError("region larger than 4 GiB")
        slot = self._slot()
        self.regions[slot] = Region(slot << 32, buf, writable, kind, name)
        self.rbuf[slot] = buf
        if writable:
            self.wbuf[slot] = buf
        return slot << 32

    def address_of(self, storage, *, writable: bool = True, kind: str = "map_value",
                   name: str = "") -> int:
        """The address of live storage; registered on first use, stable afterwards."""
        slot = self._by_id.get(id(storage))
        if slot is not None and self.regions.get(slot) and self.regions[slot].buf is storage:
            return slot << 32
        base = self.add(storage, writable=writable, kind=kind, name=name)
        self._by_id[id(storage)] = base >> 32
        return base

    expose = address_of

    def add_percpu(self, resolver: PercpuResolver, size: int, *, name: str = "") -> int:
        """A per-CPU cookie region of `size` bytes per CPU; `resolver(cpu)` returns the
        CPU's copy (created on demand by the caller)."""
        slot = self._next_cookie
        self._next_cookie += 1
        self.regions[slot] = Region(slot << 32, None, False, "percpu_cookie", name,
                                    resolver=resolver, size=size)
        return slot << 32

    def add_percpu_symbol(self, addr: int, resolver: PercpuResolver, size: int, *, name: str = "") -> None:
        """A kernel per-CPU variable of `size` bytes at the fixed address `addr` (u64);
        `resolver(cpu)` returns that CPU's copy (a bytearray: writable, or bytes: read-only)."""
        self._pcpu_syms[addr & (2**64 - 1)] = (size, resolver, name)

    def _percpu_symbol_addr(self, addr: int, cpu: int) -> int | None:
        for base, (size, resolver, name) in self._pcpu_syms.items():
            if base <= addr < base + size:
                copy = self._pcpu_sym_copies.get((base, cpu))
                if copy is None:
                    buf = resolver(cpu)
                    copy = self.add(buf, writable=isinstance(buf, bytearray), kind="percpu",
                                    name=f"{name} cpu{cpu}".strip())
                    self._pcpu_sym_copies[(base, cpu)] = copy
                return copy + (addr - base)
        return None

    def add_object(self, obj, *, kind: str = "object", name: str = "") -> int:
        """An opaque handle for a kernel object (not dereferenceable)."""
        slot = self._by_id.get(id(obj))
        if slot is not None and self.regions.get(slot) and self.regions[slot].obj is obj:
            return slot << 32
        slot = self._slot()
        self.regions[slot] = Region(slot << 32, None, False, kind, name, obj=obj)
        self._by_id[id(obj)] = slot
        return slot << 32

    def remove(self, base: int) -> None:
        """Forget a region (per-run stacks, contexts, packets; freed map elements)."""
        slot = base >> 32
        region = self.regions.pop(slot, None)
        if region is None:
            return
        self.rbuf.pop(slot, None)
        self.wbuf.pop(slot, None)
        key = id(region.obj if region.obj is not None else region.buf)
        if self._by_id.get(key) == slot:
            del self._by_id[key]

    def release(self, storage) -> None:
        """Forget the region of storage exposed with address_of (if any)."""
        slot = self._by_id.get(id(storage))
        if slot is not None:
            self.remove(slot << 32)

    # --- lookups -------------------------------------------------------------------------
    def region_at(self, addr: int) -> Region | None:
        region = self.regions.get(addr >> 32) if addr >= 0 else None
        if region is None or (addr & 0xFFFFFFFF) >= max(region.length, 1):
            return None
        return region

    def storage_at(self, addr: int):
        """(storage, offset) for an address inside a region with bytes, else None."""
        region = self.region_at(addr)
        if region is None or region.buf is None:
            return None
        return region.buf, addr - region.base

    def object_at(self, addr: int):
        region = self.regions.get(addr >> 32) if addr >= 0 else None
        return region.obj if region is not None and addr == region.base else None

    def percpu_addr(self, addr: int, cpu: int) -> int:
        """The percpu mov: cookie + off -> the same offset in `cpu`'s copy."""
        slot = addr >> 32 if addr >= 0 else -1
        base = self._pcpu.get((slot, cpu))
        if base is None:
            region = self.regions.get(slot)
            if region is None or region.kind != "percpu_cookie":
                sym = self._percpu_symbol_addr(addr, cpu) if self._pcpu_syms else None
                if sym is not None:
                    return sym
                raise VmFault(f"percpu address of 0x{addr & (2**64 - 1):x}, which is not a per-CPU cookie")
            copy = region.resolver(cpu)
            base = self.address_of(copy, kind="percpu", name=f"{region.name} cpu{cpu}".strip())
            self._pcpu[(slot, cpu)] = base
        return base + (addr & 0xFFFFFFFF)

    def explain(self, addr: int, size: int, write: bool) -> str:
        """Why an access of `size` bytes at `addr` is invalid (for VmFault messages)."""
        what = f"{'write' if write else 'read'} of {size} byte{'s' * (size != 1)} at 0x{addr & (2**64 - 1):x}"
        region = self.regions.get(addr >> 32) if 0 <= addr < 1 << 64 else None
        if region is None:
            above = self.regions.get((addr >> 32) + 1) if 0 <= addr < 1 << 64 else None
            if above is not None and above.buf is not None and above.base - addr <= 1 << 20:
                return f"out-of-bounds {what}: {above.base - addr} bytes before {above.describe()}"
            return f"invalid {what} (no memory there)"
        if region.kind == "percpu_cookie":
            return f"invalid {what}: per-CPU cookie of {region.describe()} used without the percpu mov"
        if region.buf is None:
            return f"invalid {what}: {region.describe()} is not memory"
        if write and not region.writable:
            return f"invalid {what}: {region.describe()} is read-only"
        return f"out-of-bounds {what}: {region.describe()}"

    def _check(self, addr: int, size: int, write: bool):
        region = self.regions.get(addr >> 32) if 0 <= addr < 1 << 64 else None
        off = addr & 0xFFFFFFFF
        if (region is None or region.buf is None or off + size > len(region.buf)
                or (write and not region.writable)):
            raise VmFault(self.explain(addr, size, write), addr=addr)
        return region.buf, off

    # --- byte access for helpers -----------------------------------------------------------
    def read(self, addr: int, size: int) -> bytes:
        buf, off = self._check(addr, size, False)
        return bytes(buf[off:off + size])

    def write(self, addr: int, data: bytes) -> None:
        buf, off = self._check(addr, len(data), True)
        buf[off:off + len(data)] = data

    def view(self, addr: int, size: int, *, write: bool = False) -> memoryview:
        """A memoryview of exactly [addr, addr+size) (checked once)."""
        buf, off = self._check(addr, size, write)
        return memoryview(buf)[off:off + size]

    def read_str(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string without its NUL (at most `limit` bytes are examined)."""
        region = self.region_at(addr)
        if region is None or region.buf is None:
            raise VmFault(self.explain(addr, 1, False), addr=addr)
        off = addr - region.base
        chunk = bytes(region.buf[off:off + limit])
        end = chunk.find(b"\0")
        if end < 0:
            if len(chunk) < limit:
                raise VmFault(self.explain(region.base + len(region.buf), 1, False), addr=addr)
            return chunk
        return chunk[:end]
