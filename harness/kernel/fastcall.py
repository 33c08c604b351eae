"""bpf_fastcall: spill/fill pairs around an inlined helper call are removed (6.18).

Clang keeps registers alive across a call to a helper marked bpf_fastcall by spilling
them right before the call and filling them right after, at the lowest stack offsets of
the function.  When the kernel inlines that helper with code that clobbers only r0 (and the
registers of its parameters), the pairs are pointless, and after verification the kernel
turns them into nops that opt_remove_nops deletes (remove_fastcall_spills_fills).

The rules, restated from kernel/bpf/verifier.c:
* mark_fastcall_patterns (before verification, per subprogram): lowest_off = the lowest
  offset of any `*(u64 *)(r10 + off) = rX` in the subprogram (0 if none).  For each helper
  call, pairs `*(u64 *)(r10 + off) = rX` at call-k / `rX = *(u64 *)(r10 + off)` at call+k
  match for k = 1, 2, ... while the register is one the call does not clobber (r0 when it
  is void, r1..r5 beyond its parameters), not already matched, and off = lowest_off +
  8 * (k - 1).  Matched slots are "pattern" slots; the subprogram's fastcall_stack_off
  becomes min(itself, the offset after the last pair).  Only when the helper allows
  fastcall and the verifier inlines it (bpf_get_smp_processor_id with the JIT and the
  percpu instruction) does the call keep its pair count for removal.
* check_fastcall_stack_contract (during verification): any other instruction reading or
  writing the stack below fastcall_stack_off disables every removal in the subprogram.
  We decide this from the instructions: accesses through r10 or through a register known
  to hold r10 plus a constant; any stack access we cannot place (a stack pointer changed
  by non-constant arithmetic or met with different offsets at a join, stored, or handed
  to a bpf-to-bpf call) disables too.  The verifier only sees reached instructions, so
  unreached ones are ignored (aux.seen).  Helpers writing through a pointer argument
  without reading it first (MEM_UNINIT, "raw mode": the verifier checks those bytes as
  stack writes) count at the pointer's offset; helpers only reading (a map key) do not.
* remove_fastcall_spills_fills: the pairs of counted calls become nops, and unless a
  pattern around a call that is not inlined keeps the area (keep_fastcall_stack), the
  function's stack depth shrinks to the area's upper end.
"""

from __future__ import annotations

from harness.isa import Insn
from harness.kernel.helpers.protos import func_proto

LD_IMM64 = 0x18
STX_DW, LDX_DW = 0x7B, 0x79
CALL = 0x85
NOP = Insn(0x05)
ALL_CALLER_SAVED = 0x3F          # r0..r5
UNPLACED = "?"                    # a stack pointer with an unknown offset


def _ranges(starts: list[int], n: int) -> list[tuple[int, int]]:
    s = sorted(set(starts) | {0})
    return [(a, b) for a, b in zip(s, s[1:] + [n])]


def _clobbered(proto) -> int:
    """Registers a fastcall-style call of `proto` clobbers: r0 unless void, r1..rN."""
    mask = 0 if proto.ret == "RET_VOID" else 1
    for k in range(len(proto.args)):
        mask |= 1 << (k + 1)
    return mask


def _mark(insns, lo, hi, fastcall_ids, proto_of):
    """mark_fastcall_patterns for one subprogram: (pattern slots, {call: pairs}, stack_off,
    keep_fastcall_stack)."""
    lowest = min([0] + [i.off for i in insns[lo:hi] if i.code == STX_DW and i.dst == 10])
    pattern: set[int] = set()
    spills: dict[int, int] = {}
    stack_off = 1 << 15
    keep = False
    for c in range(lo, hi):
        call = insns[c]
        if call.code != CALL or call.src != 0 or (c and insns[c - 1].code == LD_IMM64):
            continue
        proto = proto_of(call.imm)
        if proto is None:
            continue
        expected = ~_clobbered(proto) & ALL_CALLER_SAVED
        k, off = 1, lowest
        while k <= 6 and c - k >= 0 and c + k < len(insns):
            stx, ldx = insns[c - k], insns[c + k]
            if (stx.code != STX_DW or ldx.code != LDX_DW or stx.dst != 10 or ldx.src != 10
                    or stx.src != ldx.dst or not (1 << stx.src) & expected
                    or stx.off != off or ldx.off != off):
                break
            expected &= ~(1 << stx.src)
            pattern |= {c - k, c + k}
            k, off = k + 1, off + 8
        if k == 1:
            continue
        if call.imm in fastcall_ids:
            spills[c] = k - 1
        else:
            keep = True                  # keep_fastcall_stack: the area stays in the stack depth
        stack_off = min(stack_off, off)
    return pattern, spills, stack_off, keep


def _succs(insns, i: int) -> list[int]:
    insn = insns[i]
    cls, op = insn.code & 0x07, insn.code & 0xF0
    if insn.code == LD_IMM64:
        return [i + 2]
    if cls not in (0x05, 0x06) or op == 0x80:
        return [i + 1]
    if op == 0x90:
        return []
    if op == 0x00:
        return [i + (insn.imm if cls == 0x06 else insn.off) + 1]
    return [i + 1, i + insn.off + 1]


def _transfer(insn: Insn, s: dict) -> dict:
    """Registers holding r10 + constant (or a stack pointer at an unknown offset) after insn."""
    out = dict(s)
    cls, code = insn.code & 0x07, insn.code
    if code == LD_IMM64 or cls == 0x01:
        out.pop(insn.dst, None)
    elif cls in (0x04, 0x07):
        if code == 0xBF and insn.off == 0 and insn.src in s:
            out[insn.dst] = s[insn.src]
        elif insn.dst in s and code in (0x07, 0x17):               # += imm, -= imm
            v = s[insn.dst]
            out[insn.dst] = v if v == UNPLACED else v + (insn.imm if code == 0x07 else -insn.imm)
        elif insn.dst in s and cls == 0x07 and code & 0xF0 in (0x00, 0x10) :
            out[insn.dst] = UNPLACED                                # += / -= a register
        else:
            out.pop(insn.dst, None)
    elif cls == 0x03 and code & 0xE0 == 0xC0:                       # atomics write src / r0
        out.pop(insn.src, None)
        out.pop(0, None)
    elif code == CALL or cls == 0x00:
        for r in range(6):
            out.pop(r, None)
    out[10] = 0
    return out


def _join(a: dict, b: dict) -> dict:
    return {r: (a[r] if a.get(r, UNPLACED) == b.get(r, UNPLACED) else UNPLACED) for r in a.keys() | b.keys()}


def _raw_mem_args(proto) -> list[int]:
    """Registers of a helper's arguments it writes without reading first (raw mode: the
    verifier then checks each byte as a stack write, which counts for the contract)."""
    return [k + 1 for k, a in enumerate(proto.args) if "UNINIT" in a] if proto is not None else []


def _violates(insns, lo, hi, pattern, stack_off, seen, proto_of) -> bool:
    """Does a non-pattern instruction of [lo, hi) touch the stack below stack_off, or
    could it (a stack pointer at an unknown offset used for an access, stored to memory or
    handed to a bpf-to-bpf call)?  Forward data flow of the registers holding r10 plus a
    constant, joined conservatively; unreached slots (seen) do not count."""
    state: dict[int, dict] = {lo: {10: 0}}
    work = [lo]
    while work:
        i = work.pop()
        out = _transfer(insns[i], state[i])
        for t in _succs(insns, i):
            if not lo <= t < hi:
                continue
            merged = out if t not in state else _join(state[t], out)
            if merged != state.get(t):
                state[t] = merged
                work.append(t)
    for i, s in state.items():
        insn = insns[i]
        cls = insn.code & 0x07
        if (seen is not None and not seen[i]) or insn.code == LD_IMM64:
            continue
        if cls in (0x01, 0x02, 0x03):
            base = insn.src if cls == 0x01 else insn.dst
            if base in s and i not in pattern and (s[base] == UNPLACED or s[base] + insn.off < stack_off):
                return True
            if cls == 0x03 and insn.src in s and insn.src != 10:
                return True
        if insn.code == CALL and insn.src == 1 and any(r in s for r in range(1, 6)):
            return True
        if insn.code == CALL and insn.src == 0:
            for r in _raw_mem_args(proto_of(insn.imm)):
                if r in s and (s[r] == UNPLACED or s[r] < stack_off):
                    return True
    return False


def remove_fastcall_spills_fills(x, *, prog_type: int, expected_attach_type: int, privileged: bool,
                                 fastcall_ids: frozenset[int]) -> int:
    """Turn the spill/fill pairs of inlined fastcall helpers into nops (opt_remove_nops
    deletes them).  `fastcall_ids`: helpers that allow fastcall and are inlined in this
    configuration.  Returns the pairs removed."""
    if not fastcall_ids:
        return 0
    insns = x.insns
    seen = [a.seen for a in x.aux] if any(a.seen for a in x.aux) else None

    def proto_of(hid):
        return func_proto(hid, prog_type, expected_attach_type, privileged)

    removed = 0
    ranges = _ranges(x.subprog_starts, len(insns))
    for lo, hi in ranges:
        pattern, spills, stack_off, keep = _mark(insns, lo, hi, fastcall_ids, proto_of)
        if not spills or _violates(insns, lo, hi, pattern, stack_off, seen, proto_of):
            continue
        for c, n in spills.items():
            for k in range(1, n + 1):
                insns[c - k] = NOP
                insns[c + k] = NOP
            removed += n
        if not keep and len(x.stack_depth) == len(ranges):
            x.stack_depth[ranges.index((lo, hi))] = -stack_off     # the pattern area is gone
    return removed
