"""The emulated kernel's maps.

base.py          BpfMap: attributes, syscall hooks and the documented program-side API
flags.py         bpf_map_check_op_flags, per-command masks, user value sizes (spec §1.4-1.6)
percpu.py        lazy per-CPU element storage and the per-CPU copy rules (spec §2)
array.py         ARRAY, PERCPU_ARRAY          hash.py     HASH, PERCPU_HASH, LRU_*
fdmaps.py        PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS
ringbuf.py       RINGBUF                      cgroup_storage.py  PERCPU_CGROUP_STORAGE
queue.py         QUEUE, STACK
create.py        BPF_MAP_CREATE validation and the map-type table
btfcheck.py      map_check_btf (key/value types, keyless DATASEC, bpf_spin_lock)
commands.py      MapCommands: the map half of bpf(2) (mixed into EmulatedKernel)
See docs/emulated-maps.md for the modelling decisions.
"""
