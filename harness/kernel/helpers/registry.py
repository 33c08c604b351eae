"""Helper id -> implementation, filled by the impl_* modules through @helper(name)."""

from __future__ import annotations

from typing import Callable

from harness.kernel.helpers.ids import FUNC_IDS

IMPLS: dict[int, Callable] = {}


def helper(name: str):
    """Register an implementation under the kernel helper name (without `bpf_`)."""
    func_id = FUNC_IDS[name]

    def register(fn: Callable) -> Callable:
        if func_id in IMPLS:
            raise RuntimeError(f"helper {name} implemented twice")
        IMPLS[func_id] = fn
        return fn
    return register
