"""The running Linux kernel as a `Kernel` (harness.kernelapi): bpf(2) through ctypes.

- RealKernel (kernel.py): every Kernel method over syscall 321 (x86_64 only).
- probe() / prog_type_supported() / feature() (probe.py): may this process use bpf(2),
  and what does the running kernel support; they never raise.
- check_layouts() (layouts.py): our ctypes layouts (attrs.py) against the kernel's BTF.
"""

from harness.realkernel.kernel import RealKernel

__all__ = ["RealKernel"]
