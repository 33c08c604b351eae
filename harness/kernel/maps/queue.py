"""BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (kernel/bpf/queue_stack_maps.c behaviour).

No keys: user space pushes with map_update_elem(key=None), peeks with map_lookup_elem
and pops with map_lookup_and_delete_elem.  Programs use bpf_map_push_elem /
bpf_map_pop_elem / bpf_map_peek_elem, i.e. `prog_push`, `prog_pop`, `prog_peek` here.
A push into a full map fails with E2BIG unless BPF_EXIST asks to overwrite the oldest
element (for both the queue and the stack, as in the kernel).
"""

from __future__ import annotations

import errno
from collections import deque

from harness.kernel.maps.base import BpfMap
from harness.kernelapi import BpfError
from harness.uapi import BPF_EXIST, BPF_NOEXIST


class QueueMap(BpfMap):
    lifo = False

    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._items: deque[bytes] = deque()

    def _push(self, value: bytes, flags: int) -> int:
        if flags & BPF_NOEXIST or flags > BPF_EXIST:
            return -errno.EINVAL
        if len(self._items) >= self.max_entries:
            if not flags & BPF_EXIST:
                return -errno.E2BIG
            self._items.popleft()                 # the oldest goes, queue or stack
        self._items.append(bytes(value[:self.value_size]))
        return 0

    def _take(self, remove: bool) -> bytes | None:
        if not self._items:
            return None
        if not remove:
            return self._items[-1] if self.lifo else self._items[0]
        return self._items.pop() if self.lifo else self._items.popleft()

    # ---------------------------------------------------------------- syscall
    def sys_lookup(self, key, flags):
        got = self._take(False)
        if got is None:
            raise BpfError(errno.ENOENT, "empty")
        return got

    def sys_update(self, key, value, flags):
        err = self._push(value, flags)
        if err:
            raise BpfError(-err, "push rejected")

    def sys_delete(self, key):
        raise BpfError(errno.EINVAL, "queue/stack elements are removed by popping")

    def sys_get_next_key(self, key):
        raise BpfError(errno.EINVAL, "queue/stack maps have no keys")

    def sys_lookup_and_delete(self, key, flags):
        if flags:
            raise BpfError(errno.EINVAL, "pop takes no flags")
        got = self._take(True)
        if got is None:
            raise BpfError(errno.ENOENT, "empty")
        return got

    # ---------------------------------------------------------------- program side
    def prog_push(self, value: bytes, flags: int) -> int:
        """bpf_map_push_elem: 0 or -errno."""
        return self._push(value, flags)

    def prog_pop(self) -> bytes | None:
        """bpf_map_pop_elem: the value, or None (-ENOENT) when empty."""
        return self._take(True)

    def prog_peek(self) -> bytes | None:
        """bpf_map_peek_elem: the value, or None (-ENOENT) when empty."""
        return self._take(False)

    def prog_update(self, key, value, flags, cpu):
        return -errno.EINVAL

    def meta(self) -> tuple:
        return super().meta() + (self.max_entries,)


class StackMap(QueueMap):
    lifo = True
