"""The verifier's entry point under the module name other areas probe for
(`harness.kernel.verifier.verifier`); the implementation lives in checker.py."""

from harness.kernel.verifier import verify  # noqa: F401
