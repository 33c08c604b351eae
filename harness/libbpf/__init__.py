"""A libbpf-equivalent loader in Python: open BPF objects, create their maps (global and
per-CPU data included), relocate and load their programs into any `Kernel`
(harness.kernelapi), Python skeletons and C skeleton headers.  See docs/loader.md."""

from harness.libbpf.maps import Map
from harness.libbpf.object import Object, open_object
from harness.libbpf.programs import Program
from harness.libbpf.skeleton import Skeleton

__all__ = ["Map", "Object", "Program", "Skeleton", "open_object"]
