"""BPF_PROG_LOAD, BPF_PROG_TEST_RUN, prog info, links and iterators of the emulated kernel.

prog_load pipeline (bpf_prog_load in kernel/bpf/syscall.c, then bpf_check):
  1. attr checks: known type, prog_flags, insn count (E2BIG), log level, privilege;
  2. decode (harness.isa) and resolve pseudo ld_imm64 (map fds, fd_array indices, direct
     value offsets) with the verifier's messages (upstream-spec §3.2);
  3. harness.kernel.verifier.verify(ctx) (it also refuses GPL-only helpers in non-GPL
     programs; if the verifier is not importable, only that GPL check is done and the
     program is accepted unchecked, with a log saying so);
  4. fixups (harness/kernel/fixups.py) and the program object (harness/kernel/prog.py).

test_run (net/bpf/test_run.c): progtypes.prepare_test_run validates the request, then
the program runs on the simulated CPU through harness.kernel.helpers.runenv.  The real
kernel never faults at run time; a VM fault means the verifier let something through, so
it surfaces as BpfError(EFAULT, 'vm fault: ...') instead of a wrong answer.
"""

from __future__ import annotations

import errno

from harness.isa import InsnFormatError, decode
from harness.kernel import fixups
from harness.kernel.fastcall import remove_fastcall_spills_fills
from harness.kernel.inlining import fastcall_inlined_helpers, optimize_bpf_loop
from harness.kernel.helpers.protos import func_proto, license_is_gpl_compatible
from harness.kernel.maps.base import BpfMap
from harness.kernel.prog import BpfProg
from harness.kernel.progtypes import ctx_layout
from harness.kernel.progload import InsnAux, LoadContext, VerifyResult
from harness.kernelapi import BpfError, ProgInfo, ProgLoadAttr, ProgLoadResult, TestRunAttr, TestRunResult
from harness.uapi import (
    BPF_COMPLEXITY_LIMIT_INSNS, BPF_F_ANY_ALIGNMENT, BPF_F_SLEEPABLE, BPF_F_STRICT_ALIGNMENT,
    BPF_F_TEST_REG_INVARIANTS, BPF_F_TEST_RND_HI32, BPF_F_TEST_STATE_FREQ, BPF_F_XDP_DEV_BOUND_ONLY,
    BPF_F_XDP_HAS_FRAGS, BPF_OBJ_NAME_LEN, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, MapType, ProgType,
)

LD_IMM64 = 0x18
BPF_MAX_VAR_OFF = 1 << 29
BPF_LOG_MASK = 1 | 2 | 4 | 8        # BPF_LOG_LEVEL1 | LEVEL2 | STATS | FIXED
KNOWN_PROG_FLAGS = (BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT | BPF_F_TEST_RND_HI32 |
                    BPF_F_TEST_STATE_FREQ | BPF_F_SLEEPABLE | BPF_F_XDP_HAS_FRAGS |
                    BPF_F_XDP_DEV_BOUND_ONLY | BPF_F_TEST_REG_INVARIANTS)
#: types a loader with only CAP_BPF may load (the rest need CAP_NET_ADMIN or CAP_PERFMON).
UNPRIV_PROG_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB})
#: feature (harness.kernel.core.ALL_FEATURES) needed for ld_imm64 MAP_VALUE on a map type
DIRECT_VALUE_FEATURE = {MapType.ARRAY: "global_data", MapType.PERCPU_ARRAY: "percpu_data"}


def _verifier():
    try:
        from harness.kernel.verifier import verify
    except ImportError:
        return None
    return verify


class ProgCommands:
    """Mixin of EmulatedKernel (harness/kernel/syscall.py); uses self.config and self.fds."""

    #: set True on an instance to keep the verifier's exit R0 ranges on each BpfProg
    record_exit_r0: bool = False

    # ------------------------------------------------------------------ load
    def prog_load(self, attr: ProgLoadAttr) -> ProgLoadResult:
        self._check_load_attr(attr)
        try:
            insns = decode(attr.insns, where="prog_load insns")
        except InsnFormatError as e:
            raise BpfError(errno.EINVAL, str(e)) from None
        # both modeled capability sets include CAP_BPF, whose limit is the 1M of bpf_capable()
        limit = BPF_COMPLEXITY_LIMIT_INSNS
        if not insns or len(insns) > limit:
            raise BpfError(errno.E2BIG, f"program has {len(insns)} insns (1..{limit} allowed)")
        aux = [InsnAux() for _ in insns]
        used_maps: list = []
        self._resolve_pseudo_ldimm64(insns, aux, used_maps, attr)
        gpl = license_is_gpl_compatible(attr.license)
        if _verifier() is None:         # the verifier checks this itself, in program order
            self._check_gpl_calls(insns, attr, gpl)
        btf = self.fds.get(attr.prog_btf_fd) if attr.prog_btf_fd else None
        ctx = LoadContext(self.config, attr, insns, aux, used_maps, btf=btf, kernel=self,
                          record_exit_r0=self.record_exit_r0)
        try:
            result = self._verify(ctx)
        except BpfError as e:
            # the log rules apply to rejections too: no log at level 0, and a log that does
            # not fit turns the verdict into ENOSPC (running-kernel.md §1)
            raise BpfError(e.errno, e.message, self._log_out(attr, e.log or "")) from None
        log = self._log_out(attr, result.log)
        x = fixups.Xlated(list(ctx.insns), list(ctx.aux),
                          list(result.subprog_starts or [0]), list(attr.func_info), list(attr.line_info))
        x.stack_depth = list(result.stack_depth)
        verified = [a.seen for a in x.aux] if any(a.seen for a in x.aux) else None
        max_ctx = fixups.max_ctx_offset(x.insns, verified)     # as verified, before any rewrite
        fixups.mark_ctx_accesses(x)
        remove_fastcall_spills_fills(x, prog_type=attr.prog_type, expected_attach_type=attr.expected_attach_type,
                                     privileged=self.config.privileged, fastcall_ids=fastcall_inlined_helpers(
                                         jit_enabled=self.config.jit_enabled,
                                         jit_percpu_insn=self.config.has("jit_percpu_insn")))
        optimize_bpf_loop(x)
        fixups.optimize_dead_code(x)     # a CAP_BPF loader: dead code removed, not trapped
        fixups.do_misc_fixups(x, jit_percpu_insn=self.config.has("jit_percpu_insn"),
                              jit_enabled=self.config.jit_enabled, bypass_spec_v1=self.config.privileged)
        fixups.zext_cmpxchg32(x)
        layout = ctx_layout(attr.prog_type, attr.expected_attach_type)
        if layout is not None:
            fixups.convert_ctx_accesses(x, layout.pointer_fields(), attr.prog_type)
        fixups.insert_nospec(x)
        if self.config.jit_enabled:
            fixups.jit_subprogs(x)
        prog = BpfProg(
            id=self.fds.new_id(), prog_type=attr.prog_type, expected_attach_type=attr.expected_attach_type,
            name=attr.prog_name, insns=x.insns, aux=x.aux, used_maps=used_maps,
            gpl_compatible=gpl, subprog_starts=x.subprog_starts, func_info=x.func_info,
            line_info=x.line_info, verified_insns=result.processed, jit_required=x.jit_required,
            jited=self.config.jit_enabled, prog_flags=attr.prog_flags, btf=btf,
            stack_depth=x.stack_depth, max_ctx_offset=max_ctx,
            exit_r0=list(result.exit_r0))
        return ProgLoadResult(self.fds.install(prog), log, result.processed)

    def _check_load_attr(self, attr: ProgLoadAttr) -> None:
        try:
            ProgType(attr.prog_type)
        except ValueError:
            raise BpfError(errno.EINVAL, f"unknown program type {attr.prog_type}") from None
        if attr.prog_type == ProgType.UNSPEC:
            raise BpfError(errno.EINVAL, "program type 0 (unspec)")
        if attr.prog_flags & ~KNOWN_PROG_FLAGS:
            raise BpfError(errno.EINVAL, f"unknown prog_flags {attr.prog_flags:#x}")
        if attr.log_level & ~BPF_LOG_MASK or attr.log_size < 0 or attr.log_size >= 1 << 30:
            raise BpfError(errno.EINVAL, "invalid log_level / log_size")
        if attr.log_size and not attr.log_level:
            raise BpfError(errno.EINVAL, "log buffer given with log_level 0")
        if not self.config.privileged and attr.prog_type not in UNPRIV_PROG_TYPES:
            raise BpfError(errno.EPERM, f"program type {ProgType(attr.prog_type).name} needs "
                           "CAP_NET_ADMIN or CAP_PERFMON")
        name = attr.prog_name
        if len(name) >= BPF_OBJ_NAME_LEN or any(not (c.isascii() and (c.isalnum() or c in "_.")) for c in name):
            raise BpfError(errno.EINVAL, f"invalid program name {name!r} (bpf_obj_name_cpy)")
        if attr.prog_type == ProgType.SYSCALL and not attr.prog_flags & BPF_F_SLEEPABLE:
            raise BpfError(errno.EINVAL, "Syscall programs can only be sleepable",
                           log="Syscall programs can only be sleepable\n" if attr.log_level else "")

    def _map_from_fd(self, fd: int):
        obj = self.fds.objects.get(fd)
        if not isinstance(obj, BpfMap):
            raise BpfError(errno.EBADF if obj is None else errno.EINVAL,
                           f"fd {fd} is not pointing to valid bpf_map")
        return obj

    def _resolve_pseudo_ldimm64(self, insns, aux, used_maps, attr: ProgLoadAttr) -> None:
        """resolve_pseudo_ldimm64: attach maps to the ld_imm64 slots that name them."""
        i = 0
        while i < len(insns):
            insn = insns[i]
            if insn.code != LD_IMM64:
                i += 1
                continue
            second = insns[i + 1] if i + 1 < len(insns) else None
            if second is None and _verifier() is not None:
                break       # check_subprogs runs first in the kernel: "last insn is not an exit or jmp"
            if second is None or second.code or second.dst or second.src or second.off:
                raise BpfError(errno.EINVAL, "invalid bpf_ld_imm64 insn")
            kind = insn.src
            if kind in (0, BPF_PSEUDO_FUNC):
                i += 2
                continue
            if kind == BPF_PSEUDO_BTF_ID:
                raise BpfError(errno.EINVAL, "kernel is missing BTF, make sure CONFIG_DEBUG_INFO_BTF=y "
                               "is specified in Kconfig.")
            if kind not in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX,
                            BPF_PSEUDO_MAP_IDX_VALUE):
                raise BpfError(errno.EINVAL, "unrecognized bpf_ld_imm64 insn")
            fd = insn.imm
            if kind in (BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE):
                if not attr.fd_array:
                    raise BpfError(errno.EPROTO, "fd_idx without fd_array is invalid")
                if not 0 <= insn.imm < len(attr.fd_array):
                    raise BpfError(errno.EFAULT, f"fd_array index {insn.imm} is out of bounds")
                fd = attr.fd_array[insn.imm]
            bpf_map = self._map_from_fd(fd)
            if kind in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
                off = second.imm & 0xFFFFFFFF
                self._direct_value(bpf_map, off)
                aux[i].map_off = off
            aux[i].map = bpf_map
            if not any(m is bpf_map for m in used_maps):
                used_maps.append(bpf_map)
            i += 2

    def _direct_value(self, bpf_map, off: int) -> None:
        if off >= BPF_MAX_VAR_OFF:
            raise BpfError(errno.EINVAL, f"direct value offset of {off} is not allowed")
        feature = DIRECT_VALUE_FEATURE.get(bpf_map.map_type)
        if feature is None or not self.config.has(feature):
            raise BpfError(errno.EINVAL, "no direct value access support for this map type")
        try:
            bpf_map.direct_value_addr(off)
        except BpfError as e:
            if e.message.startswith("no direct value access"):
                raise
            raise BpfError(e.errno, f"invalid access to map value pointer, "
                           f"value_size={bpf_map.value_size} off={off}") from None

    def _check_gpl_calls(self, insns, attr: ProgLoadAttr, gpl: bool) -> None:
        if gpl:
            return
        for i, insn in enumerate(insns):
            if insn.code == 0x85 and insn.src == 0 and not (i and insns[i - 1].code == LD_IMM64):
                proto = func_proto(insn.imm, attr.prog_type, attr.expected_attach_type,
                                   self.config.privileged)
                if proto is not None and proto.gpl_only:
                    raise BpfError(errno.EINVAL,
                                   "cannot call GPL-restricted function from non-GPL compatible program")

    def _verify(self, ctx: LoadContext) -> VerifyResult:
        verify = _verifier()
        if verify is None:
            n = len(ctx.insns)
            return VerifyResult(log=f"verifier not available: program accepted unchecked\n"
                                    f"processed {n} insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) "
                                    f"max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n",
                                processed=n)
        return verify(ctx)

    @staticmethod
    def _log_out(attr: ProgLoadAttr, log: str) -> str:
        if not attr.log_level:
            return ""
        if attr.log_size and len(log.encode()) + 1 > attr.log_size:
            keep = log.encode()[-(attr.log_size - 1):].decode(errors="replace") if attr.log_size > 1 else ""
            raise BpfError(errno.ENOSPC, "verifier log does not fit log_size", log=keep)
        return log

    # ------------------------------------------------------------------ info
    def _prog(self, fd: int) -> BpfProg:
        obj = self.fds.objects.get(fd)
        if obj is None:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        if not isinstance(obj, BpfProg):
            raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF program")
        return obj

    def prog_get_info(self, fd: int) -> ProgInfo:
        prog = self._prog(fd)
        return ProgInfo(type=prog.prog_type, id=prog.id, name=prog.name, xlated=prog.xlated_dump(),
                        verified_insns=prog.verified_insns, map_ids=[m.id for m in prog.used_maps],
                        jited=prog.jited)

    # ------------------------------------------------------------------ test_run
    def prog_test_run(self, fd: int, attr: TestRunAttr) -> TestRunResult:
        from harness.kernel.helpers.runenv import test_run
        return test_run(self, self._prog(fd), attr)

    # ------------------------------------------------------------------ links, iterators
    def link_create(self, prog_fd: int, target_fd: int, attach_type: int, *,
                    iter_map_fd: int = 0, flags: int = 0) -> int:
        from harness.kernel.iters import link_create
        return link_create(self, self._prog(prog_fd), target_fd, attach_type, iter_map_fd, flags)

    def iter_create(self, link_fd: int) -> int:
        from harness.kernel.iters import iter_create
        return iter_create(self, link_fd)

    def iter_read(self, iter_fd: int) -> bytes:
        from harness.kernel.iters import iter_read
        return iter_read(self, iter_fd)
