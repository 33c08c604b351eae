"""Prints the conformance score ('BPF conformance: N/313') after the run, counting the
reports of tests/vm/test_vm_conformance.py::test_file (works with pytest-xdist too)."""


def pytest_terminal_summary(terminalreporter):
    def count(kind):
        return sum(1 for r in terminalreporter.stats.get(kind, [])
                   if getattr(r, "when", "call") == "call"
                   and "test_vm_conformance.py::test_file[" in getattr(r, "nodeid", ""))
    passed, failed = count("passed"), count("failed")
    if passed or failed:
        terminalreporter.write_line(f"BPF conformance: {passed}/{passed + failed} passed "
                                    f"(suite has 313 files)")
