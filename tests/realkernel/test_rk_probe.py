"""The availability probe never raises and explains itself; feature()/prog_type_supported()."""

import errno

import pytest

from harness.kernelapi import BpfError
from harness.realkernel import availability as probe_mod
from harness.realkernel import sys as rksys
from harness.realkernel.kernel import parse_cpu_list
from harness.realkernel.availability import Availability, feature, prog_type_supported, probe
from harness.uapi import ProgType


def test_probe_returns_availability_with_reason():
    a = probe()
    assert isinstance(a, Availability)
    assert bool(a) is a.ok
    assert a.reason == "ok" if a.ok else a.reason.strip()


@pytest.mark.parametrize("value", ["0", "off", "no"])
def test_env_switch_disables(monkeypatch, value):
    monkeypatch.setenv(probe_mod.DISABLE_ENV, value)
    a = probe.__wrapped__()
    assert not a.ok and probe_mod.DISABLE_ENV in a.reason


@pytest.mark.parametrize("platform_name, machine, fragment", [
    ("darwin", "x86_64", "needs Linux"),
    ("linux", "aarch64", "x86_64-only"),
    ("win32", "AMD64", "needs Linux"),
])
def test_other_platforms_are_unavailable(monkeypatch, platform_name, machine, fragment):
    monkeypatch.delenv(probe_mod.DISABLE_ENV, raising=False)
    monkeypatch.setattr(rksys.sys, "platform", platform_name)
    monkeypatch.setattr(rksys.platform, "machine", lambda: machine)
    a = probe.__wrapped__()
    assert not a.ok and fragment in a.reason
    # ... and the syscall wrapper refuses instead of calling a wrong syscall number
    with pytest.raises(BpfError) as exc:
        rksys.bpf(0, rksys.ctypes.c_int())
    assert exc.value.errno == errno.ENOSYS


def test_probe_failure_is_reported_not_raised(monkeypatch):
    def boom(*a, **kw):
        raise BpfError(errno.EPERM, "BPF_MAP_CREATE: Operation not permitted")
    monkeypatch.setattr("harness.realkernel.kernel.RealKernel.map_create", boom)
    a = probe_mod.probe_in_process()
    assert not a.ok and a.reason.startswith("bpf(): EPERM") and "unprivileged_bpf_disabled=" in a.reason


def test_probe_unexpected_exception_is_reported(monkeypatch):
    monkeypatch.delenv(probe_mod.DISABLE_ENV, raising=False)
    monkeypatch.setattr(probe_mod, "platform_problem", lambda: 1 / 0)
    a = probe.__wrapped__()
    assert not a.ok and "ZeroDivisionError" in a.reason


@pytest.mark.parametrize("text, cpus", [
    ("0-1\n", [0, 1]), ("0", [0]), ("0-3,5", [0, 1, 2, 3, 5]), ("0,2-3", [0, 2, 3]),
])
def test_parse_cpu_list(text, cpus):
    assert parse_cpu_list(text) == cpus


def test_unknown_feature_name():
    with pytest.raises(ValueError, match="unknown feature"):
        feature("no_such_feature")


@pytest.mark.skipif(not probe().ok, reason=f"kernel BPF oracle unavailable: {probe().reason}")
class TestOnThisKernel:
    @pytest.mark.parametrize("name", ["btf_func", "btf_datasec", "global_data"])
    def test_old_features_present(self, name):
        # all of these predate 5.2; any kernel the backend runs on has them
        assert feature(name) is True

    def test_cpu_flags_agrees_with_a_map_lookup(self, kernel):
        from harness.kernelapi import MapCreateAttr
        from harness.uapi import BPF_F_CPU, MapType
        fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1))
        try:
            kernel.map_lookup_elem(fd, bytes(4), BPF_F_CPU)
            works = True
        except BpfError as exc:
            assert exc.errno == errno.EINVAL
            works = False
        assert feature("cpu_flags") is works

    @pytest.mark.parametrize("prog_type, expected", [
        (ProgType.SOCKET_FILTER, True),
        (ProgType.UNSPEC, False),          # never loadable
        (999, False),                      # unknown type: EINVAL with an empty log
    ])
    def test_prog_type_supported(self, prog_type, expected):
        assert prog_type_supported(prog_type) is expected


def test_feature_names_are_the_emulated_kernels():
    """feature() names mirror KernelConfig.features so a matrix can configure the emulated
    kernel like the running one."""
    try:
        from harness.kernel.core import ALL_FEATURES
    except ImportError as exc:
        pytest.skip(f"emulated kernel not importable: {exc}")
    assert set(probe_mod.FEATURES) <= set(ALL_FEATURES)


@pytest.mark.skipif(not probe().ok, reason=f"kernel BPF oracle unavailable: {probe().reason}")
def test_percpu_insn_on_x86_64_jit():
    """x86-64's JIT has supported the percpu mov since 6.7; running-kernel.md §3 saw it inlined."""
    import platform
    release = tuple(int(x) for x in platform.release().split(".")[:2])
    assert feature("jit_percpu_insn") is (release >= (6, 7))
