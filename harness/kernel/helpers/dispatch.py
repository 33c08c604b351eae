"""Helper dispatch: find the implementation for a call instruction's helper id.

Every implemented helper has a prototype in protos.py (checked at import time, so the
verifier's table and the VM's implementations cannot drift apart).  A call to an id
without an implementation is a clean BpfError, never a Python exception.
"""

from __future__ import annotations

import errno

from harness.kernel.helpers import (  # noqa: F401
    impl_maps, impl_mem, impl_misc, impl_net, impl_print, impl_ringbuf, impl_syscall,
)
from harness.kernel.helpers.call import HelperCall
from harness.kernel.helpers.ids import func_id_name
from harness.kernel.helpers.protos import PROTOS
from harness.kernel.helpers.registry import IMPLS
from harness.kernelapi import BpfError
from harness.uapi import ENOTSUPP

_missing = sorted(set(IMPLS) - set(PROTOS))
if _missing:
    raise RuntimeError(f"helpers implemented without a prototype: {_missing}")


def implemented(func_id: int) -> bool:
    return func_id in IMPLS


def call(func_id: int, h: HelperCall) -> int:
    """Run helper `func_id`; returns r0 as an unsigned 64-bit value."""
    fn = IMPLS.get(func_id)
    if fn is None:
        if func_id in PROTOS:
            raise BpfError(ENOTSUPP, f"helper {func_id_name(func_id)}#{func_id} is not implemented by the emulator")
        raise BpfError(errno.EINVAL, f"invalid func {func_id_name(func_id)}#{func_id}")
    return fn(h) & 0xFFFFFFFFFFFFFFFF
