"""How 6.18 (x86-64) rewrites context accesses into accesses of the kernel's own structures.

Data measured on the running 6.18 kernel: each field access was made by a minimal program
twice (value register r2 / context r1, then r5 / r3) and the xlated program read back.
In a template `V` is the access's value register (a load's destination, a store's
source), `C` the context register, 11 the kernel's AX.  `__sk_buff` accesses become
accesses of struct sk_buff (one table for every skb program type, bpf_convert_ctx_access,
except that `ifindex` gains a NULL check of skb->dev outside tc), narrow loads of them
too; `xdp_md` ones of struct xdp_buff (whole fields only).
"""

from __future__ import annotations

from harness.uapi import ProgType

Template = tuple[tuple[int, object, object, int, int], ...]

#: __sk_buff loads: (UAPI offset, size) -> template
SKB_LOADS: dict[tuple[int, int], Template] = {
    (0, 4): ((0x61, 'V', 'C', 112, 0),), # len
    (4, 4): ((0x71, 'V', 'C', 128, 0), (0x54, 'V', 0, 0, 7),), # pkt_type
    (8, 4): ((0x61, 'V', 'C', 164, 0),), # mark
    (12, 4): ((0x69, 'V', 'C', 124, 0),), # queue_mapping
    (16, 4): ((0x69, 'V', 'C', 176, 0),), # protocol
    (20, 4): ((0x61, 'V', 'C', 152, 0), (0x15, 'V', 0, 1, 0), (0xb4, 'V', 0, 0, 1),), # vlan_present
    (24, 4): ((0x69, 'V', 'C', 154, 0),), # vlan_tci
    (28, 4): ((0x69, 'V', 'C', 152, 0),), # vlan_proto
    (32, 4): ((0x61, 'V', 'C', 140, 0),), # priority
    (36, 4): ((0x61, 'V', 'C', 144, 0),), # ingress_ifindex
    (40, 4): ((0x79, 'V', 'C', 16, 0), (0x61, 'V', 'V', 224, 0),), # ifindex
    (44, 4): ((0x69, 'V', 'C', 132, 0),), # tc_index
    (48, 4): ((0x61, 'V', 'C', 48, 0),), # cb
    (52, 4): ((0x61, 'V', 'C', 52, 0),), # cb
    (56, 4): ((0x61, 'V', 'C', 56, 0),), # cb
    (60, 4): ((0x61, 'V', 'C', 60, 0),), # cb
    (64, 4): ((0x61, 'V', 'C', 64, 0),), # cb
    (68, 4): ((0x61, 'V', 'C', 148, 0),), # hash
    (72, 4): ((0x69, 'V', 'C', 46, 0),), # tc_classid
    (76, 4): ((0x79, 'V', 'C', 200, 0),), # data
    (80, 4): ((0x79, 'V', 'C', 80, 0),), # data_end
    (84, 4): ((0x61, 'V', 'C', 156, 0), (0x35, 'V', 0, 1, 257), (0xb7, 'V', 0, 0, 0),), # napi_id
    (88, 4): ((0x79, 'V', 'C', 24, 0), (0x69, 'V', 'V', 16, 0),), # family
    (92, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 0, 0),), # remote_ip4
    (96, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 4, 0),), # local_ip4
    (100, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 56, 0),), # remote_ip6
    (104, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 60, 0),), # remote_ip6
    (108, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 64, 0),), # remote_ip6
    (112, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 68, 0),), # remote_ip6
    (116, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 72, 0),), # local_ip6
    (120, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 76, 0),), # local_ip6
    (124, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 80, 0),), # local_ip6
    (128, 4): ((0x79, 'V', 'C', 24, 0), (0x61, 'V', 'V', 84, 0),), # local_ip6
    (132, 4): ((0x79, 'V', 'C', 24, 0), (0x69, 'V', 'V', 12, 0), (0x64, 'V', 0, 0, 16),), # remote_port
    (136, 4): ((0x79, 'V', 'C', 24, 0), (0x69, 'V', 'V', 14, 0),), # local_port
    (140, 4): ((0x79, 'V', 'C', 72, 0),), # data_meta
    (152, 8): (  # tstamp
        (0x71, 11, 'C', 129, 0), (0x46, 11, 0, 1, 4), (0x05, 0, 0, 4, 0),
        (0x46, 11, 0, 1, 3), (0x05, 0, 0, 2, 0), (0xb7, 'V', 0, 0, 0),
        (0x05, 0, 0, 1, 0), (0x79, 'V', 'C', 32, 0),
    ),
    (160, 4): ((0x61, 'V', 'C', 40, 0),), # wire_len
    (164, 4): (  # gso_segs
        (0x61, 11, 'C', 188, 0), (0x79, 'V', 'C', 192, 0), (0x0f, 'V', 11, 0, 0),
        (0x69, 'V', 'V', 6, 0),
    ),
    (168, 8): ((0x79, 'V', 'C', 24, 0),), # sk
    (176, 4): (  # gso_size
        (0x61, 11, 'C', 188, 0), (0x79, 'V', 'C', 192, 0), (0x0f, 'V', 11, 0, 0),
        (0x69, 'V', 'V', 4, 0),
    ),
    (180, 1): ((0x71, 'V', 'C', 129, 0), (0x54, 'V', 0, 0, 3),), # tstamp_type
    (184, 8): (  # hwtstamp
        (0x61, 11, 'C', 188, 0), (0x79, 'V', 'C', 192, 0), (0x0f, 'V', 11, 0, 0),
        (0x79, 'V', 'V', 16, 0),
    ),
}

#: __sk_buff stores of a register
SKB_STORES: dict[tuple[int, int], Template] = {
    (8, 4): ((0x63, 'C', 'V', 164, 0),), # mark
    (12, 4): ((0x35, 'V', 0, 1, 65535), (0x6b, 'C', 'V', 124, 0),), # queue_mapping
    (32, 4): ((0x63, 'C', 'V', 140, 0),), # priority
    (44, 4): ((0x6b, 'C', 'V', 132, 0),), # tc_index
    (48, 4): ((0x63, 'C', 'V', 48, 0),), # cb
    (52, 4): ((0x63, 'C', 'V', 52, 0),), # cb
    (56, 4): ((0x63, 'C', 'V', 56, 0),), # cb
    (60, 4): ((0x63, 'C', 'V', 60, 0),), # cb
    (64, 4): ((0x63, 'C', 'V', 64, 0),), # cb
    (72, 4): ((0x6b, 'C', 'V', 46, 0),), # tc_classid
    (152, 8): (  # tstamp
        (0x71, 11, 'C', 129, 0), (0x46, 11, 0, 1, 4), (0x05, 0, 0, 2, 0),
        (0x54, 11, 0, 0, -4), (0x73, 'C', 11, 129, 0), (0x7b, 'C', 'V', 32, 0),
    ),
}

#: xdp_md loads
XDP_LOADS: dict[tuple[int, int], Template] = {
    (0, 4): ((0x79, 'V', 'C', 0, 0),), # data
    (4, 4): ((0x79, 'V', 'C', 8, 0),), # data_end
    (8, 4): ((0x79, 'V', 'C', 16, 0),), # data_meta
    (12, 4): ((0x79, 'V', 'C', 32, 0), (0x79, 'V', 'V', 0, 0), (0x61, 'V', 'V', 224, 0),), # ingress_ifindex
    (16, 4): ((0x79, 'V', 'C', 32, 0), (0x61, 'V', 'V', 8, 0),), # rx_queue_index
}

#: narrow loads of a 4-byte __sk_buff field: the whole field is loaded as above, then, when
#: the load is narrower than the kernel field behind it (this size), shifted and masked
#: (convert_ctx_accesses' is_narrower_load) -- `cb` words excepted, read in place
SKB_TARGET_SIZE: dict[int, int] = {
    0: 4,
    4: 1,
    8: 4,
    12: 2,
    16: 2,
    20: 4,
    24: 2,
    28: 2,
    32: 4,
    36: 4,
    40: 4,
    44: 2,
    68: 4,
    72: 2,
    84: 4,
    88: 2,
    132: 2,
    136: 2,
    160: 4,
    164: 2,
    176: 2,
}
SKB_CB = range(48, 68)

#: `ifindex` outside tc: skb->dev may be NULL there
IFINDEX_CHECKED: Template = ((0x79, 'V', 'C', 16, 0), (0x15, 'V', 0, 1, 0), (0x61, 'V', 'V', 224, 0),)

SKB_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB})
TC_TYPES = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT})


def ctx_template(prog_type: int, store: bool, off: int, size: int) -> Template | None:
    """The rewrite of a `size`-byte context access at UAPI offset `off`, or None."""
    if prog_type == ProgType.XDP:
        return None if store else XDP_LOADS.get((off, size))
    if prog_type not in SKB_TYPES:
        return None
    if store:
        return SKB_STORES.get((off, size))
    if (off, size) in SKB_LOADS and (off, size) != (40, 4):
        return SKB_LOADS[(off, size)]                     # a whole field (tstamp_type is one byte)
    if off in SKB_CB and size < 4:
        return ((0x61 | {1: 0x10, 2: 0x08}[size], "V", "C", off, 0),)
    whole = off & ~3 if size < 4 else off
    tmpl = IFINDEX_CHECKED if (whole, size) == (40, 4) and prog_type not in TC_TYPES else None
    if size < 4:
        target = SKB_TARGET_SIZE.get(whole)
        base = IFINDEX_CHECKED if whole == 40 and prog_type not in TC_TYPES else SKB_LOADS.get((whole, 4))
        if target is None or base is None:
            return None
        if size >= target:
            return base
        shift = (off - whole) * 8
        return base + (((0x74, "V", 0, 0, shift),) if shift else ()) + ((0x54, "V", 0, 0, (1 << size * 8) - 1),)
    return tmpl or SKB_LOADS.get((off, size))
