"""Registers the harness's pytest plugin: `pytest corpus --toolchain clang17,clang18`
yields one item per (case, program, toolchain, stage); see harness/pytest_plugin.py."""

pytest_plugins = ["harness.pytest_plugin"]
