"""(being written) see harness/kernel/syscall.py."""


class BtfCommands:
    pass
