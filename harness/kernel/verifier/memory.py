"""Memory accesses through typed pointers (check_mem_access and friends).

Each region has its own bounds and messages, as in the kernel: the stack (per-byte slot
types, register spills/fills, uninitialised reads allowed only with CAP_PERFMON), the
context (per program type, ctxaccess.py), map values and keys (value_size / key_size,
BPF_F_RDONLY_PROG / WRONLY_PROG, constant folding of frozen read-only maps, never for
per-CPU arrays), packets (range proven by comparisons with pkt_end), helper memory
(mem_size, read-only and ring-buffer memory).
"""

from __future__ import annotations

import errno

from harness.kernel.verifier import tnum
from harness.kernel.verifier.ctxaccess import PKT_WRITE, ctx_access
from harness.kernel.verifier.regs import (
    CONST_PTR_TO_MAP, MAYBE_NULL, MEM_RDONLY, NOT_INIT, PKT_TYPES, PTR_TO_ARENA, PTR_TO_BTF_ID,
    PTR_TO_CTX, PTR_TO_FLOW_KEYS, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_PACKET,
    PTR_TO_PACKET_END, PTR_TO_PACKET_META, PTR_TO_SOCK_COMMON, PTR_TO_STACK, SCALAR, Reg, s64,
)
from harness.kernel.verifier.state import (
    EMPTY_SLOT, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO,
)
from harness.uapi import MapType

MAX_BPF_STACK = 512
BPF_MAX_VAR_OFF = 1 << 29
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BUF_SIZE = BPF_MAX_VAR_OFF          # iterator buffers: checked at attach time, not here
NO_FOLD_MAPS = frozenset({MapType.PERCPU_ARRAY})


def coerce_to_size(r: Reg, size: int, signed: bool) -> None:
    """coerce_reg_to_size(_sx): the value of an n-byte load."""
    bits = size * 8
    if r.var[1] == 0:
        v = r.var[0] & ((1 << bits) - 1)
        if signed and v >> (bits - 1):
            v -= 1 << bits
        r.mark_const(v)
        return
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if not (lo <= r.smin and r.smax <= hi):
            r.mark_unknown()
            r.set_view64(tnum.UNKNOWN, 0, (1 << 64) - 1, lo, hi)
        return
    m = (1 << bits) - 1
    if r.umax <= m and r.smin >= 0:
        return
    # coerce_reg_to_size: the known bits survive the truncation (tnum_cast); the bounds
    # too when the dropped upper bits are the same for the whole range
    v, mk = r.var
    r.var = (v & m, mk & m)
    if (r.umin & ~m) == (r.umax & ~m):
        r.umin &= m
        r.umax &= m
    else:
        r.umin, r.umax = 0, m
    r.smin, r.smax = r.umin, r.umax
    if size < 4:
        r.s32min, r.s32max, r.u32min, r.u32max = -(1 << 31), (1 << 31) - 1, 0, 0xFFFFFFFF
    r.sync()


class MemoryChecks:
    """Mixin of the Verifier: everything that reads or writes memory."""

    # --- entry point ---------------------------------------------------------------------
    def check_mem_access(self, regno: int, off: int, size: int, write: bool, value_regno: int,
                         *, sx: bool = False, imm: int | None = None, helper: bool = False) -> None:
        st = self.st
        regs = st.cur.regs
        reg = regs[regno]
        t = reg.type
        if t == PTR_TO_STACK or (self.strict_align and t != SCALAR):
            self.check_alignment(reg, off, size)
        off += reg.off
        val = regs[value_regno] if value_regno >= 0 else None
        result: Reg | None = None
        if reg.flags & MAYBE_NULL:
            self.fail(errno.EACCES, f"R{regno} invalid mem access '{reg.type_str()}'")
        if t == PTR_TO_MAP_VALUE:
            if write and val is not None and self.is_pointer_value(val):
                self.fail(errno.EACCES, f"R{value_regno} leaks addr into map")
            self.check_map_access_type(reg, off, size, write)
            self.check_region(regno, reg, off, size, reg.map.value_size, False)
            lock = reg.map.spin_lock_off
            if lock is not None and reg.smin + off < lock + 4 and lock < reg.umax + off + size:
                self.fail(errno.EACCES, "bpf_spin_lock cannot be accessed directly by load/store")
            if not write:
                result = self.map_value_read(reg, off, size)
        elif t == PTR_TO_MAP_KEY:
            if write:
                self.fail(errno.EACCES, f"R{regno} cannot write into {reg.type_str()}")
            self.check_region(regno, reg, off, size, reg.map.key_size, False)
        elif t == PTR_TO_MEM:
            if write and reg.flags & MEM_RDONLY:
                self.fail(errno.EACCES, f"R{regno} cannot write into {reg.type_str()}")
            if write and val is not None and self.is_pointer_value(val):
                self.fail(errno.EACCES, f"R{value_regno} leaks addr into mem")
            self.check_region(regno, reg, off, size, reg.mem_size, False)
        elif t == PTR_TO_CTX:
            if write and val is not None and self.is_pointer_value(val):
                self.fail(errno.EACCES, f"R{value_regno} leaks addr into ctx")
            if reg.off or reg.var[1] or reg.var[0]:
                if reg.var[1]:
                    self.fail(errno.EACCES, f"variable ctx access var_off={tnum.to_str(reg.var)} disallowed")
                self.fail(errno.EACCES, f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
            kind = ctx_access(self.prog_type, self.attach_type, off, size, write, self.privileged)
            if kind is None:
                self.fail(errno.EACCES, f"invalid bpf_context access off={off} size={size}")
            if not write:
                result = self.ctx_load_result(kind)
        elif t == PTR_TO_STACK:
            self.check_stack_bounds(regno, reg, off, size, write, helper)
            if write:
                self.stack_write(reg, off, size, val, imm)
            else:
                result = self.stack_read(regno, reg, off, size)
        elif t in PKT_TYPES:
            if write and self.prog_type not in PKT_WRITE:
                self.fail(errno.EACCES, "cannot write into packet")
            if write and val is not None and self.is_pointer_value(val):
                self.fail(errno.EACCES, f"R{value_regno} leaks addr into packet")
            self.check_packet_access(regno, reg, off, size)
        elif t in (PTR_TO_BTF_ID, PTR_TO_SOCK_COMMON, PTR_TO_FLOW_KEYS):
            if write:
                self.fail(errno.EACCES, f"R{regno} cannot write into {reg.type_str()}")
            if off < 0:
                self.fail(errno.EACCES, f"R{regno} is ptr_ invalid negative access: off={off}")
            if t == PTR_TO_BTF_ID and size == 8:
                result = Reg()
                result.mark_ptr(PTR_TO_BTF_ID)
        elif t == PTR_TO_ARENA:
            pass
        elif t == 16:                              # PTR_TO_BUF (iterator key / value)
            if write and reg.flags & MEM_RDONLY:
                self.fail(errno.EACCES, f"R{regno} cannot write into {reg.type_str()}")
            self.check_region(regno, reg, off, size, BUF_SIZE, False)
        else:
            self.fail(errno.EACCES, f"R{regno} invalid mem access '{reg.type_str()}'")
        if not write and value_regno >= 0:
            dst = regs[value_regno]
            if result is None:
                dst.mark_unknown()
            else:
                dst.assign(result)
            if dst.type == SCALAR and size < 8:
                coerce_to_size(dst, size, sx)

    # --- helpers -------------------------------------------------------------------------
    def check_alignment(self, reg: Reg, off: int, size: int) -> None:
        if reg.var[1] == 0 and (reg.var[0] + reg.off + off) % size == 0:
            return
        if reg.var[1] and not self.strict_align and reg.type != PTR_TO_STACK:
            return
        if reg.var[1] and (reg.var[1] & (size - 1)) == 0 and (reg.var[0] + reg.off + off) % size == 0:
            return
        desc = {PTR_TO_STACK: "stack ", PTR_TO_CTX: "context ", PTR_TO_MAP_VALUE: "value ",
                PTR_TO_PACKET: "packet "}.get(reg.type, "")
        var = str(s64(reg.var[0])) if reg.var[1] == 0 else tnum.to_str(reg.var)
        self.fail(errno.EACCES, f"misaligned {desc}access off {var}+{reg.off}+{off} size {size}")

    def check_map_access_type(self, reg: Reg, off: int, size: int, write: bool) -> None:
        flags = reg.map.map_flags
        if write and flags & BPF_F_RDONLY_PROG:
            self.fail(errno.EACCES, f"write into map forbidden, value_size={reg.map.value_size} "
                                    f"off={reg.smin + off} size={size}")
        if not write and flags & BPF_F_WRONLY_PROG:
            self.fail(errno.EACCES, f"read from map forbidden, value_size={reg.map.value_size} "
                                    f"off={reg.smin + off} size={size}")

    def _mem_err(self, regno: int, reg: Reg, off: int, size: int, mem_size: int) -> None:
        t = reg.type
        if t == PTR_TO_MAP_KEY:
            msg = f"invalid access to map key, key_size={mem_size} off={off} size={size}"
        elif t == PTR_TO_MAP_VALUE:
            msg = f"invalid access to map value, value_size={mem_size} off={off} size={size}"
        elif t in PKT_TYPES or t == PTR_TO_PACKET_END:
            msg = (f"invalid access to packet, off={off} size={size}, "
                   f"R{regno}(id={reg.id},off={reg.off},r={reg.range})")
        elif t == PTR_TO_CTX:
            msg = f"invalid access to context, ctx_size={mem_size} off={off} size={size}"
        else:
            msg = f"invalid access to memory, mem_size={mem_size} off={off} size={size}"
        self.log.write(msg + "\n")

    def _within(self, off: int, size: int, mem_size: int, zero_ok: bool) -> bool:
        return off >= 0 and (size > 0 or zero_ok) and off + size <= mem_size

    def check_region(self, regno: int, reg: Reg, off: int, size: int, mem_size: int,
                     zero_ok: bool) -> None:
        """check_mem_region_access: both ends of a variable offset must be in bounds."""
        if reg.smin < 0 and (reg.smin == -(1 << 63) or reg.smin + off < 0
                             or not -(1 << 31) <= off + reg.smin < (1 << 31)):
            self.fail(errno.EACCES, f"R{regno} min value is negative, either use unsigned index "
                                    f"or do a if (index >=0) check.")
        lo = reg.smin + off
        if not self._within(lo, size, mem_size, zero_ok):
            self._mem_err(regno, reg, lo, size, mem_size)
            self.fail(errno.EACCES, f"R{regno} min value is outside of the allowed memory range")
        if reg.umax >= BPF_MAX_VAR_OFF:
            self.fail(errno.EACCES, f"R{regno} unbounded memory access, make sure to bounds check "
                                    f"any such access")
        hi = reg.umax + off
        if not self._within(hi, size, mem_size, zero_ok):
            self._mem_err(regno, reg, hi, size, mem_size)
            self.fail(errno.EACCES, f"R{regno} max value is outside of the allowed memory range")

    def check_packet_access(self, regno: int, reg: Reg, off: int, size: int, zero_ok: bool = False) -> None:
        if reg.smin < 0:
            self.fail(errno.EACCES, f"R{regno} min value is negative, either use unsigned index "
                                    f"or do a if (index >=0) check.")
        if not self._within(off, size, reg.range, zero_ok):
            self.log.write(f"invalid access to packet, off={off} size={size}, "
                           f"R{regno}(id={reg.id},off={reg.off},r={reg.range})\n")
            self.fail(errno.EACCES, f"R{regno} offset is outside of the packet")

    def ctx_load_result(self, kind: str) -> Reg | None:
        r = Reg()
        if kind == "scalar":
            return None
        if kind in ("pkt", "pkt_end", "pkt_meta"):
            r.mark_ptr({"pkt": PTR_TO_PACKET, "pkt_end": PTR_TO_PACKET_END,
                        "pkt_meta": PTR_TO_PACKET_META}[kind])
        elif kind == "sock_common_or_null":
            r.mark_ptr(PTR_TO_SOCK_COMMON, MAYBE_NULL)
            r.id = self.new_id()
        elif kind == "btf":
            r.mark_ptr(PTR_TO_BTF_ID)
        elif kind == "flow_keys":
            r.mark_ptr(PTR_TO_FLOW_KEYS)
        elif kind in ("buf", "rdonly_buf"):
            r.mark_ptr(16, MAYBE_NULL | (MEM_RDONLY if kind == "rdonly_buf" else 0))
            r.id = self.new_id()
        return r

    def map_value_read(self, reg: Reg, off: int, size: int) -> Reg | None:
        """Constant-fold loads from frozen read-only maps (bpf_map_direct_read)."""
        m = reg.map
        if not (m.map_flags & BPF_F_RDONLY_PROG and getattr(m, "frozen", False)):
            return None
        if reg.var[1] or m.map_type in NO_FOLD_MAPS or m.map_type != MapType.ARRAY or m.max_entries != 1:
            return None
        try:
            data = m.direct_value_addr(0)
        except Exception:
            return None
        if data is None:
            return None
        start = reg.var[0] + off
        raw = bytes(data[start:start + size])
        if len(raw) != size:
            return None
        r = Reg()
        r.mark_const(int.from_bytes(raw, "little"))
        return r

    # --- stack ---------------------------------------------------------------------------
    def stack_frame(self, reg: Reg):
        return self.st.frames[reg.frameno]

    def check_stack_bounds(self, regno: int, reg: Reg, off: int, size: int, write: bool,
                           helper: bool = False) -> None:
        """check_stack_access_within_bounds (+ grow_stack_state)."""
        frame = self.stack_frame(reg)
        what = " write to" if write else " read from"
        if reg.var[1] == 0:
            min_off = s64(reg.var[0]) + off
            max_off = min_off + size
        else:
            if reg.smax >= BPF_MAX_VAR_OFF or reg.smin <= -BPF_MAX_VAR_OFF:
                self.fail(errno.EACCES, f"invalid unbounded variable-offset{what} stack R{regno}")
            min_off = reg.smin + off
            max_off = reg.smax + off + size
        min_valid = -MAX_BPF_STACK if (write or self.privileged) else -frame.allocated_stack
        err = errno.EACCES if (min_off < min_valid or min_off > -1) else \
            errno.EINVAL if (max_off > 0 or size < 0) else 0
        if err:
            if reg.var[1] == 0:
                self.fail(err, f"invalid{what} stack R{regno} off={off} size={size}")
            self.fail(err, f"invalid variable-offset{what} stack R{regno} "
                                    f"var_off={tnum.to_str(reg.var)} off={off} size={size}")
        frame.grow(-min_off)
        depth = (-min_off + 7) // 8 * 8
        sp = frame.subprog
        if self.stack_depth[sp] < depth:
            self.stack_depth[sp] = depth

    def stack_write(self, reg: Reg, off: int, size: int, val: Reg | None, imm: int | None) -> None:
        """check_stack_write_fixed_off / _var_off.  A privileged verifier keeps a scalar
        written at a slot boundary (of any size) as a spilled register, a constant
        immediate too; pointers spill whole.  Spills are recorded in the jump history
        (precision.py follows the value through the slot)."""
        frame = self.stack_frame(reg)
        if reg.var[1]:
            # variable offset (privileged only): every byte it may hit becomes misc
            # (zero stays zero when zero is written)
            lo = reg.smin + off
            hi = reg.smax + off + size
            zero = val is not None and val.type == SCALAR and val.var == (0, 0) or \
                val is None and imm == 0
            for a in range(lo, hi):
                self.scratch_stack((-a - 1) // 8, reg.frameno)
                self._set_byte(frame, a, STACK_ZERO if zero and self._byte(frame, a) == STACK_ZERO
                               else STACK_MISC)
            return
        start = s64(reg.var[0]) + off
        spi = (-start - 1) // 8
        self.scratch_stack(spi, reg.frameno)
        types, spilled = frame.stack[spi]
        if (not self.privileged and spilled is not None and spilled.type != SCALAR
                and size != 8):
            self.fail(errno.EACCES, "attempt to corrupt spilled pointer on stack")
        aligned = start % 8 == 0
        if val is not None and val.type == SCALAR and aligned and self.privileged:
            fits = val.umax.bit_length() <= 8 * size
            if fits:
                self.assign_id_before_mov(val)   # slot and register linked
            r = val.copy()
            if not fits:
                r.id = 0
            self._spill_scalar(frame, spi, r, size)
            self.hist_stack(reg.frameno, spi)
            return
        if val is None and imm is not None and aligned and self.privileged:
            r = Reg()
            r.mark_const(imm)
            self._spill_scalar(frame, spi, r, size)
            self.hist_stack(reg.frameno, spi)
            return
        if val is not None and val.type != SCALAR and val.type != NOT_INIT:
            if size != 8:
                self.fail(errno.EACCES, "invalid size of register spill")
            if val.type == PTR_TO_STACK and val.frameno > reg.frameno:
                self.fail(errno.EINVAL, "cannot spill pointers to stack into stack frame of the caller")
            frame.stack[spi] = ((STACK_SPILL,) * 8, val.copy())
            self.hist_stack(reg.frameno, spi)
            return
        kind = STACK_ZERO if (val is None and imm == 0) or \
            (val is not None and val.type == SCALAR and val.var == (0, 0)) else STACK_MISC
        for a in range(start, start + size):
            self._set_byte(frame, a, kind)

    @staticmethod
    def _byte(frame, addr: int) -> int:
        slot = -addr - 1
        return frame.stack[slot // 8][0][slot % 8] if slot // 8 < len(frame.stack) else STACK_INVALID

    def _spill_scalar(self, frame, spi: int, r: Reg, size: int) -> None:
        old_types, old_reg = frame.stack[spi]
        types = list(old_types)
        if old_reg is not None:
            types = [STACK_MISC if t == STACK_SPILL else t for t in types]
        for i in range(8):
            if i >= 8 - size:
                types[i] = STACK_SPILL
            elif types[i] not in (STACK_ZERO, STACK_INVALID):
                types[i] = STACK_MISC
        frame.stack[spi] = (tuple(types), r)

    def _set_byte(self, frame, addr: int, kind: int) -> None:
        slot = -addr - 1
        spi, idx = slot // 8, slot % 8
        frame.grow(slot + 1)
        types, spilled = frame.stack[spi]
        types = list(types)
        if spilled is not None:
            types = [STACK_MISC if t == STACK_SPILL else t for t in types]
            spilled = None
        types[idx] = kind
        frame.stack[spi] = (tuple(types), spilled)

    def stack_read(self, regno: int, reg: Reg, off: int, size: int) -> Reg | None:
        frame = self.stack_frame(reg)
        if reg.var[1]:
            lo, hi = reg.smin + off, reg.smax + off + size
            for a in range(lo, hi - size):       # mark_reg_stack_read's scratch range
                self.scratch_stack((-a - 1) // 8, reg.frameno)
            for a in range(lo, hi):
                slot = -a - 1
                t = frame.stack[slot // 8][0][slot % 8] if slot // 8 < len(frame.stack) else STACK_INVALID
                if t == STACK_INVALID and not self.privileged:
                    self.fail(errno.EACCES, f"invalid variable-offset read from stack R{regno} "
                                            f"var_off={tnum.to_str(reg.var)} off={off} size={size}")
            return None
        start = s64(reg.var[0]) + off
        slot = -start - 1
        spi = slot // 8
        self.scratch_stack(spi, reg.frameno)
        types, spilled = frame.stack[spi] if spi < len(frame.stack) else EMPTY_SLOT
        if types[7] == STACK_SPILL and spilled is not None:
            spill_size = 1
            i = 7
            while i > 0 and types[i - 1] == STACK_SPILL:
                spill_size += 1
                i -= 1
            if size == 8 and spill_size == 8:
                self.hist_stack(reg.frameno, spi)
                return spilled.copy()
            if spilled.type != SCALAR:
                self.fail(errno.EACCES, "invalid size of register fill")
            if size <= spill_size and start % 8 == 0:
                # a narrow fill of a spilled scalar keeps what is known (the load then
                # truncates it to `size`); a value wider than the load loses its link
                width = spilled.umax.bit_length()
                if self.privileged and size == 4 and spill_size == 4 and width <= 32 \
                        and (spilled.link or not spilled.id) and spilled.var[1]:
                    spilled = spilled.copy()
                    self.assign_id_before_mov(spilled)
                    frame.stack[spi] = (types, spilled)
                r = spilled.copy()
                if width > size * 8:
                    r.id = 0
                self.hist_stack(reg.frameno, spi)
                return r
            spill_cnt = zero_cnt = 0
            for i in range(size):
                t = types[(slot - i) % 8]
                if t == STACK_SPILL:
                    spill_cnt += 1
                elif t == STACK_ZERO:
                    zero_cnt += 1
                elif t == STACK_INVALID and not self.privileged:
                    self.fail(errno.EACCES, f"invalid read from stack off {start}+{i} size {size}")
            if spill_cnt == size and spilled.var == (0, 0):
                self.hist_stack(reg.frameno, spi)
                return Reg.const(0)
            if zero_cnt == size:
                return Reg.const(0)
            return None
        return self._bytes_read(frame, start, size, regno, off)

    def _bytes_read(self, frame, start: int, size: int, regno: int, off: int) -> Reg | None:
        zeros = 0
        slot = -start - 1
        for i in range(size):
            s = slot - i
            types = frame.stack[s // 8][0] if s // 8 < len(frame.stack) else EMPTY_SLOT[0]
            t = types[s % 8]
            if t in (STACK_MISC, STACK_SPILL):
                continue
            if t == STACK_ZERO:
                zeros += 1
                continue
            if t == STACK_INVALID and self.privileged:
                continue
            self.fail(errno.EACCES, f"invalid read from stack off {start}+{i} size {size}")
        if zeros == size:
            r = Reg()
            r.mark_const(0)
            return r
        return None

    def check_stack_range(self, regno: int, reg: Reg, off: int, size: int, zero_ok: bool,
                          write: bool) -> None:
        """check_stack_range_initialized: memory a helper reads (or writes)."""
        if size == 0 and not zero_ok:
            self.fail(errno.EACCES, "invalid zero-sized read")
        self.check_stack_bounds(regno, reg, off, size, write, helper=True)
        frame = self.stack_frame(reg)
        if reg.var[1]:
            if not self.privileged:
                self.fail(errno.EACCES, f"R{regno} variable offset stack access prohibited for !root, "
                                        f"var_off={tnum.to_str(reg.var)}")
            lo, hi = reg.smin + off, reg.smax + off
        else:
            lo = hi = s64(reg.var[0]) + off
        if write:
            # the kernel writes raw-mode helper memory byte by byte (check_mem_access), so
            # every slot it touches is scratched and shows in the next state line
            for a in range(lo, hi + size):
                self._set_byte(frame, a, STACK_MISC)
                self.scratch_stack((-a - 1) // 8, reg.frameno)
            return
        for a in range(lo, hi + size):
            slot = -a - 1
            spi = slot // 8
            types, spilled = frame.stack[spi] if spi < len(frame.stack) else EMPTY_SLOT
            t = types[slot % 8]
            if t in (STACK_MISC, STACK_ZERO) or (t == STACK_INVALID and self.privileged):
                continue
            if t == STACK_SPILL and (spilled.type == SCALAR or self.privileged):
                continue
            if reg.var[1] == 0:
                self.fail(errno.EACCES, f"invalid read from stack R{regno} off {lo}+{a - lo} size {size}")
            self.fail(errno.EACCES, f"invalid read from stack R{regno} var_off "
                                    f"{tnum.to_str(reg.var)}+{a - lo} size {size}")

    def check_helper_mem(self, regno: int, size: int, write: bool, zero_ok: bool) -> None:
        """check_helper_mem_access: `size` bytes at the pointer in regno."""
        reg = self.st.cur.regs[regno]
        t = reg.type
        if t in PKT_TYPES:
            self.check_packet_access(regno, reg, reg.off, size, zero_ok)
        elif t == PTR_TO_MAP_KEY:
            self.check_region(regno, reg, reg.off, size, reg.map.key_size, zero_ok)
        elif t == PTR_TO_MAP_VALUE:
            self.check_map_access_type(reg, reg.off, size, write)
            self.check_region(regno, reg, reg.off, size, reg.map.value_size, zero_ok)
        elif t == PTR_TO_MEM or t == 16:
            if write and reg.flags & MEM_RDONLY:
                self.fail(errno.EACCES, f"R{regno} cannot write into {reg.type_str()}")
            self.check_region(regno, reg, reg.off, size, reg.mem_size if t == PTR_TO_MEM else BUF_SIZE, zero_ok)
        elif t == PTR_TO_STACK:
            self.check_stack_range(regno, reg, reg.off, size, zero_ok, write)
        elif t == PTR_TO_CTX and self.prog_type == 31:      # SYSCALL: checked at run time
            pass
        else:
            if zero_ok and size == 0 and t == SCALAR and reg.var == (0, 0):
                return
            self.fail(errno.EACCES, f"R{regno} type={reg.type_str()} expected=fp")
