"""(being written) see harness/kernel/syscall.py."""


class MapCommands:
    pass
