"""The running Linux kernel as a `Kernel` (harness.kernelapi): bpf(2) through ctypes.

- RealKernel (kernel.py): every Kernel method over syscall 321 (x86_64 only).
- probe() / prog_type_supported() / feature() (availability.py): may this process use bpf(2),
  and what does the running kernel support; they never raise.
- check_layouts() (layouts.py): our ctypes layouts (attrs.py) against the kernel's BTF.
- reason_line() (verifier_log.py): which log line is the reason a load failed.
"""

from harness.realkernel.kernel import RealKernel
from harness.realkernel.layouts import LayoutMismatch, check_layouts, check_running_kernel
from harness.realkernel.availability import Availability, feature, features, probe, prog_type_supported
from harness.realkernel.verifier_log import reason_line

__all__ = ["Availability", "LayoutMismatch", "RealKernel", "check_layouts", "check_running_kernel",
           "feature", "features", "probe", "prog_type_supported", "reason_line"]
