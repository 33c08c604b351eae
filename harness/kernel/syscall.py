"""The emulated kernel: the `Kernel` protocol (harness.kernelapi) in pure Python.

It is assembled from one mixin per concern; each lives beside its objects:
- MapCommands (harness/kernel/maps/commands.py): map create/lookup/update/batch/freeze
- BtfCommands (harness/kernel/btfobj.py): BTF load
- ProgCommands (harness/kernel/progcmds.py): prog load (verifier + fixups), test_run,
  info, links and iterators
"""

from __future__ import annotations

from harness.kernel.btfobj import BtfCommands
from harness.kernel.core import FdTable, KernelConfig
from harness.kernel.maps.commands import MapCommands
from harness.kernel.progcmds import ProgCommands


class EmulatedKernel(MapCommands, BtfCommands, ProgCommands):
    name = "emulated"

    def __init__(self, config: KernelConfig | None = None, **overrides):
        if config is None:
            config = KernelConfig(**overrides)
        elif overrides:
            raise TypeError("pass either a KernelConfig or keyword overrides, not both")
        self.config = config
        self.fds = FdTable()

    def nr_possible_cpus(self) -> int:
        return self.config.nr_cpus

    def close(self, fd: int) -> None:
        self.fds.close(fd)
