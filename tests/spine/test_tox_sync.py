"""tox.ini must offer exactly one env per declared toolchain, with the right ziglang dep."""

import configparser
import re

from harness.toolchains import REPO_ROOT, load_toolchains


def _ini():
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(REPO_ROOT / "tox.ini")
    return cp


def _expand(spec: str) -> list[str]:
    m = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", spec)
    if not m:
        return [spec]
    return [x for part in m[2].split(",") for x in _expand(m[1] + part.strip() + m[3])]


def test_env_list_covers_every_toolchain():
    envs = [e for line in _ini()["tox"]["env_list"].split() for e in _expand(line.strip())]
    assert sorted(set(envs) - {"unit", "report"}) == sorted(load_toolchains())
    assert len(envs) == len(set(envs))


def test_ziglang_deps_match_toolchains_toml():
    deps = {}
    for line in _ini()["testenv"]["deps"].splitlines():
        if ":" in line:
            env, dep = (s.strip() for s in line.split(":", 1))
            deps[env] = dep
    want = {n: t.package for n, t in load_toolchains().items() if t.provider.name == "pip-ziglang"}
    assert deps == want


def test_report_env_depends_on_every_toolchain_env():
    depends = {d.strip() for d in _ini()["testenv:report"]["depends"].split(",")}
    assert depends == set(load_toolchains())
