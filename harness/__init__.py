"""BPF cross-toolchain test harness: Clang matrix, ELF/BTF inspection, a libbpf-like
loader, an emulated kernel (maps, verifier, VM with simulated CPUs) and reports."""

__version__ = "0.1.0"
