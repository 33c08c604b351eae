"""toolchains.toml: every major 13..22 declared, providers consistent, errors are one line."""

import pytest

from harness.errors import ConfigError
from harness.toolchains import load_toolchains, parse_version, mcpus_for_major


def test_every_major_declared():
    majors = {tc.major for tc in load_toolchains().values()}
    assert majors == set(range(13, 23))


@pytest.mark.parametrize("major", [15, 16, 19, 22])
def test_both_providers_where_both_exist(major):
    tcs = load_toolchains()
    assert tcs[f"clang{major}"].provider.name == "apt"
    assert tcs[f"clang{major}-zig"].provider.name == "pip-ziglang"


@pytest.mark.parametrize("name,major,spec", [
    ("clang17", 17, "ziglang==0.12.1"), ("clang18", 18, "ziglang==0.13.0"),
    ("clang20", 20, "ziglang==0.15.2"), ("clang21", 21, "ziglang==0.16.0"),
])
def test_zig_only_majors(name, major, spec):
    tc = load_toolchains()[name]
    assert (tc.major, tc.package, tc.provider.name) == (major, spec, "pip-ziglang")
    assert tc.provider.target == ("-target", "bpfel-freestanding-none")
    assert "-fno-unwind-tables" in tc.base_flags()


@pytest.mark.parametrize("text,expected", [
    ("Debian clang version 16.0.6 (15~deb12u1)", (16, 0, 6)),
    ("clang version 17.0.6 (https://github.com/ziglang/zig-bootstrap 4a29)", (17, 0, 6)),
    ("clang version 21.1.0", (21, 1, 0)),
    ("gcc version 12", None),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("major,has_v4", [(13, False), (17, False), (18, True), (22, True)])
def test_v4_needs_llvm18(major, has_v4):
    assert ("v4" in mcpus_for_major(major)) == has_v4


@pytest.mark.parametrize("body,msg", [
    ("schema = 1\n[toolchain.x]\nmajor = 1\nprovider = 'nope'\n", "provider 'nope' is not declared"),
    ("[provider.apt]\ntarget=['-target','bpf']\n[toolchain.x]\nprovider='apt'\nmajor='x'\n", "'major' must be an integer"),
    ("[provider.pip-ziglang]\n[toolchain.x]\nprovider='pip-ziglang'\nmajor=17\npackage='ziglang'\n", "must pin"),
    ("not toml [", "invalid TOML"),
])
def test_bad_config_is_one_line_error(tmp_path, body, msg):
    p = tmp_path / "tc.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=msg) as exc:
        load_toolchains(p)
    assert "\n" not in str(exc.value) and str(p) in str(exc.value)
