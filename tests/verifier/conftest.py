"""Prints the verifier's agreement with the running kernel in the terminal summary.

test_verifier_realkernel.py::test_agreement_figure measures it (bench/verifier_agreement.py)
and attaches the summary line and the disagreements to its report as user properties; the
controller (also under pytest-xdist, which ships user properties back) collects them here.
"""

_LINES: list[str] = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        for key, value in report.user_properties:
            if key == "verifier_agreement":
                _LINES.extend(value)


def pytest_terminal_summary(terminalreporter):
    if _LINES:
        terminalreporter.section("verifier agreement")
        for line in _LINES:
            terminalreporter.write_line(line)
