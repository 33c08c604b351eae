"""Corrupted objects: `python -m harness inspect` prints one error line and exits non-zero.

Variants are derived from kinds.c compiled with the newest available Clang: truncations at
many offsets, ELF header fields, section header fields, BTF and BTF.ext header fields (all
of which must be rejected), plus seeded random byte flips over the section table and the
BTF type data (which may stay valid, but must never crash or hang).
"""

from __future__ import annotations

import random
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import cli
from harness.elf.object import BpfObject, object_name

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def deadline(seconds: float):
    """Fail instead of hanging: SIGALRM raises inside the code under test."""
    def expired(signum, frame):
        raise TimeoutError(f"inspect took more than {seconds}s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_inspect(path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    with deadline(10):
        rc = cli.main(["inspect", str(path), *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_error_line(rc: int, err: str, path: Path) -> None:
    assert rc != 0, "corrupted object was accepted"
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: ") and str(path) in lines[0]
    assert "Traceback" not in err


def _shdrs(data: bytes) -> list[dict]:
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        base = shoff + i * shentsize
        name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", data, base)
        out.append(dict(index=i, base=base, type=typ, offset=off, size=size))
    return out


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, value)
    return bytes(buf)


def must_fail_variants(data: bytes, obj: BpfObject) -> list[tuple[str, bytes]]:
    v = []
    step = max(1, len(data) // 60)
    for n in sorted({0, 1, 3, 4, 16, 52, 63, 64, *range(65, len(data), step), len(data) - 1}):
        v.append((f"truncate-{n}", data[:n]))
    v += [("elf-magic", b"\x7fELG" + data[4:]),
          ("elf-class-32", data[:4] + b"\x01" + data[5:]),
          ("elf-big-endian", data[:5] + b"\x02" + data[6:]),
          ("e_machine-x86", _patch(data, 0x12, "<H", 62)),
          ("e_shoff-huge", _patch(data, 0x28, "<Q", 1 << 40)),
          ("e_shnum-huge", _patch(data, 0x3C, "<H", 0xFFF0))]
    for sh in _shdrs(data):
        if sh["type"] in (0, 8) or sh["size"] == 0:      # SHT_NULL / SHT_NOBITS carry no file data
            continue
        v.append((f"sh{sh['index']}-offset-past-eof", _patch(data, sh["base"] + 0x18, "<Q", len(data) + 64)))
        v.append((f"sh{sh['index']}-size-huge", _patch(data, sh["base"] + 0x20, "<Q", 1 << 33)))
    for sec_name, fields in ((".BTF", [(0, "<H", 0x1234), (2, "<B", 9), (3, "<B", 1), (4, "<I", 3),
                                       (12, "<I", 1 << 30), (20, "<I", 1 << 30), (8, "<I", 2)]),
                             (".BTF.ext", [(0, "<H", 0x1234), (2, "<B", 9), (3, "<B", 1), (4, "<I", 1 << 30),
                                           (12, "<I", 1 << 30), (20, "<I", 1 << 30)])):
        base = _shdrs(data)[obj.section(sec_name).index]["offset"]
        for off, fmt, value in fields:
            v.append((f"{sec_name}-hdr+{off}={value:#x}", _patch(data, base + off, fmt, value)))
    return v


def fuzz_variants(data: bytes, obj: BpfObject, count: int = 120) -> list[tuple[str, bytes]]:
    rng = random.Random(20260521)
    shdr = _shdrs(data)
    btf = shdr[obj.section(".BTF").index]
    regions = [(shdr[0]["base"], shdr[-1]["base"] + 64), (btf["offset"], btf["offset"] + btf["size"]),
               (0, 64)]
    out = []
    for i in range(count):
        lo, hi = regions[i % len(regions)]
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(lo, hi)] ^= rng.randint(1, 255)
        out.append((f"fuzz-{i}", bytes(buf)))
    return out


@pytest.fixture(scope="module")
def original(any_kinds_obj) -> tuple[bytes, BpfObject]:
    data = any_kinds_obj.read_bytes()
    obj = BpfObject.from_bytes(data, str(any_kinds_obj))
    last = _shdrs(data)[-1]
    assert struct.unpack_from("<Q", data, 0x28)[0] + 64 * len(_shdrs(data)) == len(data), \
        "expected the section header table at the end of the file (so every truncation is fatal)"
    assert last["index"] == len(obj.sections) - 1
    return data, obj


def test_must_fail_variants(original, tmp_path, capsys):
    data, obj = original
    variants = must_fail_variants(data, obj)
    assert len(variants) > 100
    for label, blob in variants:
        path = tmp_path / f"{label}.o"
        path.write_bytes(blob)
        rc, out, err = run_inspect(path, capsys)
        assert_one_error_line(rc, err, path)
        assert out == "", label


@pytest.mark.parametrize("mode", [(), ("--json",), ("--btf",)], ids=["summary", "json", "btf"])
def test_fuzzed_objects_never_crash(original, tmp_path, capsys, mode):
    data, obj = original
    outcomes = set()
    for label, blob in fuzz_variants(data, obj):
        path = tmp_path / f"{label}.o"
        path.write_bytes(blob)
        rc, out, err = run_inspect(path, capsys, *mode)
        if rc == 0:
            assert err == "", label
            outcomes.add("ok")
        else:
            assert_one_error_line(rc, err, path)
            outcomes.add("error")
    assert "error" in outcomes


@pytest.mark.parametrize("label", ["truncate-64", "sh1-size-huge"])
def test_subprocess_prints_one_line(original, tmp_path, label):
    data, obj = original
    blob = dict(must_fail_variants(data, obj))[label]
    path = tmp_path / "bad.o"
    path.write_bytes(blob)
    proc = subprocess.run([sys.executable, "-m", "harness", "inspect", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and proc.stdout == ""
    assert_one_error_line(proc.returncode, proc.stderr, path)


def test_not_elf_and_missing_file(tmp_path, capsys):
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"hello world" * 10)
    rc, _, err = run_inspect(junk, capsys)
    assert_one_error_line(rc, err, junk)
    assert "not an ELF file" in err
    missing = tmp_path / "missing.o"
    rc, _, err = run_inspect(missing, capsys)
    assert_one_error_line(rc, err, missing)


@pytest.mark.parametrize("path,name", [
    ("prog.o", "prog"), ("dir/prog.bpf.o", "prog"), ("/a/b/test_global_percpu_data.bpf.o", "test_global_per"),
    ("x", "x"), ("abcdefghijklmno.o", "abcdefghijklmno"), ("abcdefghijklmnop.o", "abcdefghijklmno"),
    (".hidden.o", ""), ("dir/", ""),
])
def test_object_name_like_libbpf(path, name):
    assert object_name(path) == name
