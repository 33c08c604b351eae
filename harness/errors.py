"""User-facing errors.

Every error caused by bad input (a malformed ELF or BTF, a bad instruction, a broken TOML
file, C that does not compile) is raised as a `HarnessError` subclass whose message names
the file and the problem in one line.  The CLI prints that line and exits non-zero; it
never shows a traceback for these.
"""


class HarnessError(Exception):
    """Base class of errors that are reported to the user as a single line."""

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ConfigError(HarnessError):
    """A configuration file (toolchains.toml, expectations.toml, ...) is invalid."""


class FormatError(HarnessError):
    """A binary input (ELF, BTF, BTF.ext, instruction stream) is malformed."""
