"""(being written) see harness/kernel/syscall.py."""


class ProgCommands:
    pass
