"""Bad objects never escape as Python tracebacks: open and load raise HarnessError
(malformed input, one line naming the file) or BpfError (libbpf/kernel refusal)."""

from __future__ import annotations

import random

import pytest

from harness.errors import HarnessError
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError
from harness.libbpf.object import Object

KCONFIG = {"CONFIG_HZ": "1", "CONFIG_BPF_SYSCALL": "y"}


@pytest.mark.parametrize("seed", range(4))
def test_mutated_objects(build, tmp_path, seed):
    base = build("loader_features.c").read_bytes()
    rnd = random.Random(seed)
    for i in range(12):
        data = bytearray(base)
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        path = tmp_path / f"m{i}.o"
        path.write_bytes(bytes(data))
        try:
            obj = Object.open(str(path), EmulatedKernel(), kconfig=KCONFIG)
            obj.load(keep_going=True)
        except HarnessError as exc:
            assert "\n" not in str(exc)
        except BpfError as exc:
            assert exc.errno > 0


@pytest.mark.parametrize("blob", [b"", b"\x7fELF", b"not an object at all", bytes(64)])
def test_garbage(tmp_path, blob):
    path = tmp_path / "g.o"
    path.write_bytes(blob)
    with pytest.raises(HarnessError) as ei:
        Object.open(str(path), EmulatedKernel())
    assert str(path) in str(ei.value)


def test_missing_file():
    with pytest.raises(HarnessError, match="cannot read"):
        Object.open("/nonexistent/x.o", EmulatedKernel())
