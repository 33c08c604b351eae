"""validate_map_op: libbpf's order of checks and its messages (upstream-spec §1.8)."""

import errno

import pytest

from harness.kernelapi import BpfError
from harness.libbpf.validate import MapOpTarget, validate_map_op
from harness.uapi import BPF_F_ALL_CPUS, BPF_F_CPU, BPF_F_LOCK, MapType

PCPU = MapOpTarget(".percpu", MapType.PERCPU_ARRAY, 4, 76, True, 5)
ARR = MapOpTarget("arr", MapType.ARRAY, 4, 8, True, 6)
NCPU = 4

CASES = [
    # target, key_sz, value_sz, check, flags, errno, message (None = accepted)
    (MapOpTarget("m", MapType.ARRAY, 4, 8, False, -1), 8, 8, True, 0, errno.ENOENT, ""),
    (MapOpTarget("m", MapType.ARRAY, 4, 8, True, -1), 8, 8, True, 0, errno.EINVAL,
     "map 'm': unexpected key size 8 provided, expected 4"),
    (MapOpTarget("m", MapType.ARRAY, 4, 8, True, -1), 4, 8, True, 0, errno.EINVAL,
     "map 'm': can't use BPF map without FD (was it created?)"),
    (PCPU, 4, 76, True, BPF_F_CPU | BPF_F_ALL_CPUS, errno.EINVAL,
     "map '.percpu': BPF_F_CPU and BPF_F_ALL_CPUS are mutually exclusive"),
    (PCPU, 4, 80, True, BPF_F_CPU | (1 << 32), errno.EINVAL,
     "map '.percpu': unexpected value size 80 provided for either BPF_F_CPU or BPF_F_ALL_CPUS, expected 76"),
    (PCPU, 4, 76, True, 0, errno.EINVAL,
     "map '.percpu': unexpected value size 76 provided for per-CPU map, expected 4 * 80 = 320"),
    (ARR, 4, 4, True, 0, errno.EINVAL, "map 'arr': unexpected value size 4 provided, expected 8"),
    (PCPU, 4, 76, True, BPF_F_CPU | (7 << 32), None, None),          # CPU range is the kernel's job
    (PCPU, 4, 76, True, BPF_F_ALL_CPUS, None, None),                 # ALL_CPUS on lookup passes too
    (PCPU, 4, 320, True, 0, None, None),
    (PCPU, 4, 76, True, BPF_F_LOCK | BPF_F_CPU, None, None),
    (ARR, 4, 8, True, BPF_F_CPU, None, None),                        # kernel says EINVAL, not libbpf
    (ARR, 4, 0, False, 0, None, None),
]


@pytest.mark.parametrize("target,key_sz,value_sz,check,flags,err,msg", CASES)
def test_validate_map_op(target, key_sz, value_sz, check, flags, err, msg):
    if err is None:
        validate_map_op(target, key_sz, value_sz, check, flags, NCPU)
        return
    with pytest.raises(BpfError) as ei:
        validate_map_op(target, key_sz, value_sz, check, flags, NCPU)
    assert ei.value.errno == err
    assert ei.value.message == msg
