"""The running kernel as a differential oracle for the emulated one.

- kernels.py: the emulated kernel configured like the running one; test runs on a CPU.
- observe.py: what a kernel did (verdict, reason, processed count, runs, maps); compare().
- objects.py: an ELF object through harness.libbpf into both kernels (the `differential` stage).
- progedit.py: instruction units with absolute jump targets (delete / insert keep jumps right).
- fuzz.py: random well-formed programs on both kernels, delta-debugged reproducers.
- conformance.py: the ISA conformance suite on the running kernel, against our VM.
"""
