"""The emulated kernel (maps, verifier, VM with simulated CPUs, helpers, program types).

User space must not import anything from here but `EmulatedKernel` and `KernelConfig`.
"""

from harness.kernel.core import KernelConfig  # noqa: F401
from harness.kernel.syscall import EmulatedKernel  # noqa: F401
