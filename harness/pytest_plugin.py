"""(being written) pytest plugin: corpus items per (case, program, toolchain, stage)."""
