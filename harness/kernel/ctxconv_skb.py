"""How 6.18 (x86-64) rewrites loads of `__sk_buff` fields into loads of struct sk_buff.

Data measured on the running 6.18 kernel: each readable field was loaded by a minimal
program (one with dst r2 / src r1, one with dst r5 / src r3) and the xlated program read
back; `D` and `S` stand for the load's destination and source (context) registers, 11
is the kernel's AX.  One table serves every skb program type (bpf_convert_ctx_access);
`ifindex` gains a NULL check of skb->dev outside tc.  Only loads of a whole field, at
its natural size, are covered; narrow loads and stores keep the UAPI offsets.
"""

from __future__ import annotations

from harness.uapi import ProgType

#: (UAPI offset, size) -> (field, ((code, dst, src, off, imm), ...))
SKB_LOADS = {
    (0, 4): ('len', ((0x61, 'D', 'S', 112, 0),)),
    (4, 4): ('pkt_type', ((0x71, 'D', 'S', 128, 0), (0x54, 'D', 0, 0, 7),)),
    (8, 4): ('mark', ((0x61, 'D', 'S', 164, 0),)),
    (12, 4): ('queue_mapping', ((0x69, 'D', 'S', 124, 0),)),
    (16, 4): ('protocol', ((0x69, 'D', 'S', 176, 0),)),
    (20, 4): ('vlan_present', ((0x61, 'D', 'S', 152, 0), (0x15, 'D', 0, 1, 0), (0xb4, 'D', 0, 0, 1),)),
    (24, 4): ('vlan_tci', ((0x69, 'D', 'S', 154, 0),)),
    (28, 4): ('vlan_proto', ((0x69, 'D', 'S', 152, 0),)),
    (32, 4): ('priority', ((0x61, 'D', 'S', 140, 0),)),
    (36, 4): ('ingress_ifindex', ((0x61, 'D', 'S', 144, 0),)),
    (40, 4): ('ifindex', ((0x79, 'D', 'S', 16, 0), (0x61, 'D', 'D', 224, 0),)),
    (44, 4): ('tc_index', ((0x69, 'D', 'S', 132, 0),)),
    (48, 4): ('cb', ((0x61, 'D', 'S', 48, 0),)),
    (52, 4): ('cb', ((0x61, 'D', 'S', 52, 0),)),
    (56, 4): ('cb', ((0x61, 'D', 'S', 56, 0),)),
    (60, 4): ('cb', ((0x61, 'D', 'S', 60, 0),)),
    (64, 4): ('cb', ((0x61, 'D', 'S', 64, 0),)),
    (68, 4): ('hash', ((0x61, 'D', 'S', 148, 0),)),
    (72, 4): ('tc_classid', ((0x69, 'D', 'S', 46, 0),)),
    (76, 4): ('data', ((0x79, 'D', 'S', 200, 0),)),
    (80, 4): ('data_end', ((0x79, 'D', 'S', 80, 0),)),
    (84, 4): ('napi_id', ((0x61, 'D', 'S', 156, 0), (0x35, 'D', 0, 1, 257), (0xb7, 'D', 0, 0, 0),)),
    (88, 4): ('family', ((0x79, 'D', 'S', 24, 0), (0x69, 'D', 'D', 16, 0),)),
    (92, 4): ('remote_ip4', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 0, 0),)),
    (96, 4): ('local_ip4', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 4, 0),)),
    (100, 4): ('remote_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 56, 0),)),
    (104, 4): ('remote_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 60, 0),)),
    (108, 4): ('remote_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 64, 0),)),
    (112, 4): ('remote_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 68, 0),)),
    (116, 4): ('local_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 72, 0),)),
    (120, 4): ('local_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 76, 0),)),
    (124, 4): ('local_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 80, 0),)),
    (128, 4): ('local_ip6', ((0x79, 'D', 'S', 24, 0), (0x61, 'D', 'D', 84, 0),)),
    (132, 4): ('remote_port', ((0x79, 'D', 'S', 24, 0), (0x69, 'D', 'D', 12, 0), (0x64, 'D', 0, 0, 16),)),
    (136, 4): ('local_port', ((0x79, 'D', 'S', 24, 0), (0x69, 'D', 'D', 14, 0),)),
    (140, 4): ('data_meta', ((0x79, 'D', 'S', 72, 0),)),
    (152, 8): ('tstamp', ((0x71, 11, 'S', 129, 0), (0x46, 11, 0, 1, 4), (0x05, 0, 0, 4, 0), (0x46, 11, 0, 1, 3), (0x05, 0, 0, 2, 0), (0xb7, 'D', 0, 0, 0), (0x05, 0, 0, 1, 0), (0x79, 'D', 'S', 32, 0),)),
    (160, 4): ('wire_len', ((0x61, 'D', 'S', 40, 0),)),
    (164, 4): ('gso_segs', ((0x61, 11, 'S', 188, 0), (0x79, 'D', 'S', 192, 0), (0x0f, 'D', 11, 0, 0), (0x69, 'D', 'D', 6, 0),)),
    (168, 8): ('sk', ((0x79, 'D', 'S', 24, 0),)),
    (176, 4): ('gso_size', ((0x61, 11, 'S', 188, 0), (0x79, 'D', 'S', 192, 0), (0x0f, 'D', 11, 0, 0), (0x69, 'D', 'D', 4, 0),)),
    (180, 1): ('tstamp_type', ((0x71, 'D', 'S', 129, 0), (0x54, 'D', 0, 0, 3),)),
    (184, 8): ('hwtstamp', ((0x61, 11, 'S', 188, 0), (0x79, 'D', 'S', 192, 0), (0x0f, 'D', 11, 0, 0), (0x79, 'D', 'D', 16, 0),)),
}

#: bpf_convert_ctx_access checks skb->dev for NULL where the device may be missing
IFINDEX_CHECKED = ((40, 4), ('ifindex', ((0x79, 'D', 'S', 16, 0), (0x15, 'D', 0, 1, 0), (0x61, 'D', 'D', 224, 0),)))

#: program types whose context is a struct sk_buff (the table above is theirs)
SKB_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB})
TC_TYPES = frozenset({ProgType.SCHED_CLS, ProgType.SCHED_ACT})


def skb_load_template(prog_type: int, off: int, size: int):
    """The rewrite of a `size`-byte load at UAPI offset `off`, or None."""
    if prog_type not in SKB_TYPES:
        return None
    if (off, size) == IFINDEX_CHECKED[0] and prog_type not in TC_TYPES:
        return IFINDEX_CHECKED[1][1]
    entry = SKB_LOADS.get((off, size))
    return entry[1] if entry is not None else None
