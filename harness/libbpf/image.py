"""Byte images behind internal maps: what `map->mmaped` points at in libbpf.

libbpf keeps one buffer per internal map and changes what it is over the map's life
(upstream-spec §4.7):
- before load, an anonymous writable buffer holding the section bytes (the "initial
  image"; set_initial_value / skeleton writes land here);
- after load, for mmapable maps (.data, .bss, .rodata), the kernel map itself
  (re-mmapped; .rodata read-only because it is frozen) — modelled here as a live view
  that reads and writes element 0 through the Kernel protocol;
- after load, for per-CPU maps, the same initial buffer mprotect()ed read-only: reading
  it still works, writing faults.  We raise ImageReadOnly with a message saying so.
All images share one small interface: read(off, size) and write(off, data).
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.kernelapi import BpfError


class ImageReadOnly(HarnessError):
    """A write to an image that libbpf has made read-only (mprotect PROT_READ / frozen map)."""


class BufferImage:
    """The anonymous buffer libbpf allocates at open; `readonly` after mprotect()."""

    def __init__(self, data: bytes, size: int, map_name: str):
        self.buf = bytearray(size)
        self.buf[:min(len(data), size)] = data[:size]
        self.readonly = False
        self.map_name = map_name

    @property
    def size(self) -> int:
        return len(self.buf)

    def read(self, off: int, size: int) -> bytes:
        return bytes(self.buf[off:off + size])

    def write(self, off: int, data: bytes) -> None:
        if self.readonly:
            raise ImageReadOnly(f"map '{self.map_name}': initial value image is read-only after load "
                                "(libbpf mprotect()s per-CPU data images PROT_READ)")
        if off < 0 or off + len(data) > len(self.buf):
            raise IndexError(f"write of {len(data)} bytes at offset {off} outside {len(self.buf)}-byte image")
        self.buf[off:off + len(data)] = data

    def resize(self, size: int) -> None:
        """bpf_map_mmap_resize: a new buffer with min(old, new) bytes copied."""
        new = bytearray(size)
        n = min(size, len(self.buf))
        new[:n] = self.buf[:n]
        self.buf = new

    def tobytes(self) -> bytes:
        return bytes(self.buf)


class LiveMapImage:
    """Element 0 of a created single-entry ARRAY map, like libbpf's mmap of the map fd."""

    def __init__(self, kernel, fd: int, size: int, map_name: str, writable: bool):
        self.kernel, self.fd, self.size = kernel, fd, size
        self.map_name, self.writable = map_name, writable
        self.readonly = not writable

    def read(self, off: int, size: int) -> bytes:
        value = self.kernel.map_lookup_elem(self.fd, bytes(4), 0)
        return bytes(value[off:off + size])

    def write(self, off: int, data: bytes) -> None:
        if not self.writable:
            raise ImageReadOnly(f"map '{self.map_name}': mapped read-only (frozen .rodata/.kconfig)")
        value = bytearray(self.kernel.map_lookup_elem(self.fd, bytes(4), 0))
        if off < 0 or off + len(data) > len(value):
            raise IndexError(f"write of {len(data)} bytes at offset {off} outside {len(value)}-byte map value")
        value[off:off + len(data)] = data
        try:
            self.kernel.map_update_elem(self.fd, bytes(4), bytes(value), 0)
        except BpfError as exc:
            raise ImageReadOnly(f"map '{self.map_name}': write rejected by the kernel: {exc}") from None

    def tobytes(self) -> bytes:
        return self.read(0, self.size)
