"""`toolchains list/install/check` with fake compilers (no downloads, no apt)."""

import os
import sys

import pytest

from harness.cli import main
from harness.toolchains import _version_string, load_toolchains

FAKE_TOML = """
[provider.path]
target = ["-target", "bpf"]
[provider.pip-ziglang]
target = ["-target", "bpfel-freestanding-none"]
env = {{ ZIG_GLOBAL_CACHE_DIR = "{{cache}}/zig" }}
[toolchain.good]
major = 18
provider = "path"
cc = ["{good}"]
[toolchain.liar]
major = 13
provider = "path"
cc = ["{liar}"]
[toolchain.zigfake]
major = 18
provider = "pip-ziglang"
package = "ziglang==9.9.9"
"""


def _script(path, text):
    path.write_text(f"#!/bin/sh\necho '{text}'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def fake(tmp_path, monkeypatch):
    good = _script(tmp_path / "good-clang", "clang version 18.1.6")
    liar = _script(tmp_path / "liar-clang", "Debian clang version 12.0.1")
    toml = tmp_path / "tc.toml"
    toml.write_text(FAKE_TOML.format(good=good, liar=liar))
    tcdir = tmp_path / "toolchains"
    monkeypatch.setenv("HARNESS_TOOLCHAIN_DIR", str(tcdir))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    _version_string.cache_clear()
    yield toml, tcdir
    _version_string.cache_clear()


def test_check_detects_major_mismatch(fake, capsys):
    toml, _ = fake
    assert main(["toolchains", "--file", str(toml), "check", "good"]) == 0
    assert "clang version 18.1.6" in capsys.readouterr().out
    assert main(["toolchains", "--file", str(toml), "check", "liar"]) == 1
    assert "MISMATCH  declared major 13, found Debian clang version 12.0.1" in capsys.readouterr().out


def test_check_named_missing_fails_unnamed_missing_does_not(fake, capsys):
    toml, _ = fake
    assert main(["toolchains", "--file", str(toml), "check", "zigfake"]) == 1
    assert main(["toolchains", "--file", str(toml), "check", "good"]) == 0


def test_zig_target_dir_is_found_and_driven_through_pythonpath(fake, capsys):
    toml, tcdir = fake
    pkg = tcdir / "ziglang-9.9.9" / "ziglang"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import os, sys\nprint('clang version 18.1.6 (fake zig)')\n"
        "assert os.environ['ZIG_GLOBAL_CACHE_DIR'].endswith('/zig')\n")
    tc = load_toolchains(toml)["zigfake"]
    assert tc.available() and tc.driver()[:3] == [sys.executable, "-m", "ziglang"]
    assert main(["toolchains", "--file", str(toml), "install", "zigfake"]) == 0   # idempotent: no pip
    assert "already available" in capsys.readouterr().out
    assert main(["toolchains", "--file", str(toml), "check", "zigfake"]) == 0
    assert "fake zig" in capsys.readouterr().out


def test_list_shows_every_declared_toolchain(capsys):
    assert main(["toolchains", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in load_toolchains())


def test_install_apt_as_non_root_prints_the_command(tmp_path, capsys, monkeypatch):
    import harness.toolchains_cmd as cmd
    monkeypatch.setattr(cmd.os, "geteuid", lambda: 1000)
    toml = tmp_path / "t.toml"
    toml.write_text("[provider.apt]\ntarget=['-target','bpf']\n"
                    "[toolchain.x]\nmajor=13\nprovider='apt'\npackages=['clang-99']\ncc=['clang-99-nope']\n")
    assert main(["toolchains", "--file", str(toml), "install", "x"]) == 1
    assert "apt-get install -y --no-install-recommends clang-99" in capsys.readouterr().out


def test_unknown_toolchain_is_one_line_error(capsys):
    assert main(["toolchains", "check", "clang99"]) == 2
    assert "unknown toolchain 'clang99'" in capsys.readouterr().err
