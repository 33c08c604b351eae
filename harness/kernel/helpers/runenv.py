"""Running a loaded program on a simulated CPU: the bridge between the program object,
the VM (harness/kernel/vm) and the helpers.

* `kernel_memory(kernel)`: the kernel's one address space (a vm Memory), created lazily.
* `runtime_insns(kernel, prog)`: the xlated slots with every map ld_imm64 turned into an
  address in that space, as the kernel's fixups turn them into pointers: MAP_FD -> an
  object handle for the map, MAP_VALUE on ARRAY -> element 0's storage + off, and on
  PERCPU_ARRAY -> a per-CPU cookie + off (the percpu mov that follows resolves it);
  inlined map lookups run as the helper call (harness/kernel/inlining.py lower_for_vm).
* `VmHelperCall`: harness.kernel.helpers.call.HelperCall over a running Vm.
* `Runner` / `execute(...)`: run with a context address on one CPU, VM faults -> BpfError(EFAULT).
* `test_run(kernel, prog, attr)`: BPF_PROG_TEST_RUN (see progtypes for the rules).
"""

from __future__ import annotations

import errno

from harness.isa import Insn
from harness.kernel.helpers import dispatch
from harness.kernel.helpers.call import HelperCall, MemFault, RunState, TailCall
from harness.kernel.helpers.ids import func_id_name
from harness.kernel.helpers.internal import INTERNAL
from harness.kernel.helpers.protos import func_proto
from harness.kernel.inlining import CPU_NUMBER_ADDR, lower_for_vm
from harness.kernel.progtypes import SK_BUFF, XDP_MD, PacketFrame, RunSetup, prepare_test_run, xdp_frame
from harness.kernel.vm.errors import VmError, VmFault
from harness.kernel.vm.machine import Vm
from harness.kernel.vm.memory import Memory
from harness.kernelapi import BpfError, TestRunAttr, TestRunResult
from harness.uapi import (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
                          BPF_PSEUDO_MAP_VALUE, MapType)

M64 = (1 << 64) - 1
LD_IMM64 = 0x18


def kernel_memory(kernel):
    mem = getattr(kernel, "_vm_memory", None)
    if mem is None:
        mem = kernel._vm_memory = Memory()
        kernel._percpu_cookies = {}
        # the per-CPU `cpu_number` the inlined bpf_get_smp_processor_id reads
        mem.add_percpu_symbol(CPU_NUMBER_ADDR, lambda cpu: cpu.to_bytes(4, "little"), 4, name="cpu_number")
    return mem


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _map_address(kernel, bpf_map, src: int, off: int) -> int:
    mem = kernel_memory(kernel)
    if src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX):
        return mem.add_object(bpf_map, kind="map", name=bpf_map.name)
    if bpf_map.map_type == MapType.PERCPU_ARRAY:
        cookie = kernel._percpu_cookies.get(id(bpf_map))
        if cookie is None:
            cookie = mem.add_percpu(lambda cpu, m=bpf_map: m.percpu_elem(0, cpu), bpf_map.elem_size,
                                    name=bpf_map.name)
            kernel._percpu_cookies[id(bpf_map)] = cookie
        return cookie + off
    storage = bpf_map.direct_value_addr(off)
    return mem.address_of(storage, kind="map_value", name=bpf_map.name) + off


def runtime_insns(kernel, prog) -> list[Insn]:
    """The slots the VM executes (cached on the program: map addresses never move)."""
    cached = getattr(prog, "_runtime", None)
    if cached is not None:
        return cached
    out = lower_for_vm(prog.insns, prog.aux)
    for i, insn in enumerate(out):
        bpf_map = prog.aux[i].map if insn.code == LD_IMM64 else None
        if bpf_map is None or insn.src not in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX,
                                               BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
            continue
        addr = _map_address(kernel, bpf_map, insn.src, prog.aux[i].map_off)
        out[i] = insn.replace(src=0, imm=_s32(addr))
        out[i + 1] = out[i + 1].replace(imm=_s32(addr >> 32))
    prog._runtime = out
    return out


class VmHelperCall(HelperCall):
    """HelperCall over a running Vm; registers come from the VM's current helper call."""

    def __init__(self, vm, state: RunState):
        self.vm = vm
        self.mem = vm.memory
        self.state = state
        self.temps: list[int] = []

    def arg(self, n):
        return self.vm.arg(n)

    def read(self, addr, size):
        try:
            return self.mem.read(addr, size)
        except VmFault as e:
            raise MemFault(str(e)) from None

    def write(self, addr, data):
        try:
            self.mem.write(addr, bytes(data))
        except VmFault as e:
            raise MemFault(str(e)) from None

    def map_arg(self, n):
        obj = self.mem.object_at(self.vm.arg(n))
        if obj is None or not hasattr(obj, "map_type"):
            raise MemFault(f"r{n} = 0x{self.vm.arg(n):x} is not a map pointer")
        return obj

    def expose(self, storage, writable=True):
        """Maps become object handles; live storage gets its stable address; read-only
        exposures are per-call copies (for_each keys) and are freed after the run."""
        if hasattr(storage, "map_type"):
            return self.mem.add_object(storage, kind="map", name=storage.name)
        if not writable or not isinstance(storage, bytearray):
            addr = self.mem.add(bytearray(storage), writable=False, kind="copy")
            self.temps.append(addr)
            return addr
        return self.mem.address_of(storage, kind="map_value")

    def storage_at(self, addr):
        return self.mem.storage_at(addr)

    def forget(self, storage):
        self.mem.release(storage)

    def callback(self, func_addr, args):
        return self.vm.call_function(func_addr, *args)

    def percpu_ptr(self, cookie, cpu):
        try:
            return self.mem.percpu_addr(cookie, cpu)
        except VmFault:
            return 0

    def release(self):
        for addr in self.temps:
            self.mem.remove(addr)
        self.temps.clear()


class Runner:
    """One simulated CPU running programs of `kernel`: a Vm (kept across runs, so repeated
    runs reuse the bound code and stack frames) plus the helper bridge."""

    def __init__(self, kernel, cpu: int):
        self.kernel = kernel
        self.privileged = kernel.config.privileged
        self.state: RunState | None = None
        self.vm = Vm(kernel_memory(kernel), helpers=self._helper, cpu=cpu,
                     budget=kernel.config.insn_budget)
        self.call = VmHelperCall(self.vm, None)

    def _helper(self, hid: int, vm) -> int:
        state = self.state
        prog = state.prog
        internal = INTERNAL.get(hid)
        if internal is not None:                # a kernel function a fixup called (helpers/internal.py)
            return internal(self.call) & M64
        if func_proto(hid, prog.prog_type, prog.expected_attach_type, self.privileged) is None:
            raise VmFault(f"unknown func {func_id_name(hid)}#{hid} for this program type")
        try:
            return dispatch.call(hid, self.call)
        except MemFault as e:
            raise VmFault(f"helper {func_id_name(hid)}: {e}") from None
        except TailCall as tc:
            state.prog = tc.prog
            vm.tail_call(runtime_insns(self.kernel, tc.prog))
        except BpfError as e:
            raise VmFault(e.message) from None

    def run(self, prog, state: RunState, r1: int) -> int:
        """Run `prog` once with r1 = context address; returns r0 (u64).  A VM fault (a
        program the verifier should have refused) becomes BpfError(EFAULT)."""
        self.state = self.call.state = state
        try:
            return self.vm.run(runtime_insns(self.kernel, prog), r1=r1).r0
        except VmError as e:
            raise BpfError(errno.EFAULT, f"vm fault: {e}") from None
        finally:
            self.call.release()

    def close(self) -> None:
        self.vm.close()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def execute(kernel, prog, state: RunState, r1: int) -> int:
    """Run `prog` once on state.cpu (a one-off Runner)."""
    with Runner(kernel, state.cpu) as runner:
        return runner.run(prog, state, r1)


# ----------------------------------------------------------------------------- test_run
def _build_ctx(mem, setup: RunSetup):
    """(r1, regions to free, the ctx runtime buffer, the packet frame or None)."""
    if setup.kind in ("skb", "xdp"):
        layout = SK_BUFF if setup.kind == "skb" else XDP_MD
        if setup.kind == "xdp":
            frame = xdp_frame(setup.packet, setup.meta_len)
        else:
            frame = PacketFrame(setup.packet, setup.pkt_start, setup.pkt_start, len(setup.packet))
        frame.base = mem.add(frame.buf, kind="packet", name="packet")
        buf = bytearray(layout.runtime_size)
        buf[:layout.size] = setup.ctx
        frame.ctx, frame.layout = buf, layout
        frame.sync()
        ctx_base = mem.add(buf, kind="ctx", name=layout.name)
        return ctx_base, [ctx_base, frame.base], buf, frame
    if setup.kind == "syscall" and not setup.ctx:
        return 0, [], None, None
    ctx_base = mem.add(setup.ctx, writable=setup.kind == "syscall", kind="ctx", name=setup.kind)
    return ctx_base, [ctx_base], setup.ctx, None


def _fit(out: bytes, size_out: int, what: str) -> bytes:
    if size_out and size_out < len(out):
        raise BpfError(errno.ENOSPC, f"{what} needs {len(out)} bytes, {what}_size_out is {size_out}")
    return out


def _ctx_out(setup: RunSetup, buf: bytearray | None, frame) -> bytes:
    if setup.ctx_size_out is None or buf is None:
        return b""
    if setup.kind == "skb":
        keep = bytearray(SK_BUFF.size)
        for f in SK_BUFF.fields.values():
            if f.user_settable:
                keep[f.off:f.off + f.size] = buf[f.off:f.off + f.size]
        return bytes(keep)
    if setup.kind == "xdp" and frame.moved:
        return bytes(XDP_MD.pack(data=frame.data - frame.meta, data_end=frame.end - frame.meta))
    if setup.kind == "xdp":
        # 6.18 echoes the data/data_end it was given (running-kernel.md §2), even a short data_end
        data_end = setup.xdp_data_end if setup.xdp_data_end is not None else len(setup.packet)
        data_end = min(data_end, frame.end - frame.meta)
        return bytes(XDP_MD.pack(data=setup.meta_len, data_end=data_end))
    return bytes(buf)


def test_run(kernel, prog, attr: TestRunAttr) -> TestRunResult:
    cfg = kernel.config
    setup = prepare_test_run(prog.prog_type, prog.expected_attach_type, attr, cfg.nr_cpus, cfg.default_cpu,
                             prog.max_ctx_offset)
    mem = kernel_memory(kernel)
    r1, regions, buf, frame = _build_ctx(mem, setup)
    output: list[str] = []
    try:
        r0 = 0
        with Runner(kernel, setup.cpu) as runner:
            for _ in range(setup.repeat):
                if setup.live:                      # a fresh frame per packet, results dropped
                    frame.reset(xdp_frame(setup.packet, setup.meta_len))
                r0 = runner.run(prog, RunState(kernel, prog, setup.cpu, output=output, frame=frame), r1)
            if setup.live:
                r0 = 0
                frame.reset(xdp_frame(setup.packet, setup.meta_len))
        data_out = b""
        if frame is not None:
            out = frame.out()
            if setup.kind == "skb" and setup.pkt_start:
                # non-L2 types: the kernel pushes the Ethernet header back zero-filled
                out = bytes(frame.buf[:frame.end])
                out = bytes(setup.pkt_start) + out[setup.pkt_start:]
            data_out = _fit(out, setup.data_size_out, "data")
        # ctx_size_out 0 means "as large as ctx_in" (kernelapi.TestRunAttr)
        ctx_out = _fit(_ctx_out(setup, buf, frame), attr.ctx_size_out or len(attr.ctx_in or b""), "ctx")
        return TestRunResult(retval=r0 & 0xFFFFFFFF, data_out=data_out, ctx_out=ctx_out, duration=0,
                             output="".join(output))
    finally:
        for base in regions:
            mem.remove(base)
