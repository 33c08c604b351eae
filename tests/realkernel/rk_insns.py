"""Small instruction builders for the real-kernel tests (harness.isa.Insn is the model;
these only name the opcodes the tests use)."""

from harness.isa.insn import Insn, encode
import errno

from harness.uapi import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, ProgType

EXIT = Insn(0x95)


def mov_imm(dst, imm):
    return Insn(0xB7, dst=dst, imm=imm)


def mov_reg(dst, src):
    return Insn(0xBF, dst=dst, src=src)


def add_imm(dst, imm):
    return Insn(0x07, dst=dst, imm=imm)


def add_reg(dst, src):
    return Insn(0x0F, dst=dst, src=src)


def mul_imm(dst, imm):
    return Insn(0x27, dst=dst, imm=imm)


def ldx(size, dst, src, off):
    return Insn({1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79}[size], dst=dst, src=src, off=off)


def stx(size, dst, src, off):
    return Insn({1: 0x73, 2: 0x6B, 4: 0x63, 8: 0x7B}[size], dst=dst, src=src, off=off)


def st_imm(size, dst, off, imm):
    return Insn({1: 0x72, 2: 0x6A, 4: 0x62, 8: 0x7A}[size], dst=dst, off=off, imm=imm)


def jeq_imm(dst, imm, off):
    return Insn(0x15, dst=dst, imm=imm, off=off)


def jgt_reg(dst, src, off):
    return Insn(0x2D, dst=dst, src=src, off=off)


def jne_imm(dst, imm, off):
    return Insn(0x55, dst=dst, imm=imm, off=off)


def ja(off):
    return Insn(0x05, off=off)


def call(helper_id):
    return Insn(0x85, imm=helper_id)


def ld_imm64(dst, value, src=0):
    return [Insn(0x18, dst=dst, src=src, imm=value & 0xFFFFFFFF), Insn(0, imm=(value >> 32) & 0xFFFFFFFF)]


def ld_map_fd(dst, fd):
    return ld_imm64(dst, fd, BPF_PSEUDO_MAP_FD)


def ld_map_idx(dst, idx):
    return ld_imm64(dst, idx, BPF_PSEUDO_MAP_IDX)


def prog(*parts):
    """Flatten instructions and lists of instructions into program bytes."""
    out = []
    for p in parts:
        out.extend(p if isinstance(p, list) else [p])
    return encode(out)


R0_42 = prog(mov_imm(0, 42), EXIT)

BPF_FUNC_map_lookup_elem = 1
BPF_FUNC_get_smp_processor_id = 8
BPF_FUNC_seq_write = 127


def percpu_counter(map_fd):
    """`v = bpf_map_lookup_elem(map, &(u32){0}); if (v) *v += 1; return v ? *v : 0;`"""
    return prog(
        st_imm(4, 10, -4, 0), mov_reg(2, 10), add_imm(2, -4), ld_map_fd(1, map_fd),
        call(BPF_FUNC_map_lookup_elem), jeq_imm(0, 0, 4),
        ldx(8, 1, 0, 0), add_imm(1, 1), stx(8, 0, 1, 0), mov_reg(0, 1),
        EXIT)


# (what, program, prog_type, prog_flags, errno, reason line) -- running-kernel.md §1 tables
REJECTED = [
    ("exit without r0", prog(EXIT), ProgType.SOCKET_FILTER, 0, errno.EACCES, "R0 !read_ok"),
    ("r0 = r2", prog(mov_reg(0, 2), EXIT), ProgType.SOCKET_FILTER, 0, errno.EACCES, "R2 !read_ok"),
    ("ja +5 out of range", prog(ja(5), EXIT), ProgType.SOCKET_FILTER, 0, errno.EINVAL,
     "jump out of range from insn 0 to 6"),
    ("opcode 0xff", prog(Insn(0xFF), EXIT), ProgType.SOCKET_FILTER, 0, errno.EINVAL, "unknown opcode ff"),
    ("unreachable exit", prog(mov_imm(0, 0), ja(-1), EXIT), ProgType.SOCKET_FILTER, 0, errno.EINVAL,
     "unreachable insn 2"),
    ("infinite loop", prog(mov_imm(0, 0), jeq_imm(0, 0, -1), EXIT), ProgType.SOCKET_FILTER, 0,
     errno.EINVAL, "infinite loop detected at insn 1"),
    ("ctx store out of bounds", prog(st_imm(8, 1, 4096, 0), mov_imm(0, 0), EXIT), ProgType.SOCKET_FILTER, 0,
     errno.EACCES, "invalid bpf_context access off=4096 size=8"),
    ("no exit", prog(mov_imm(0, 0)), ProgType.SOCKET_FILTER, 0, errno.EINVAL, "last insn is not an exit or jmp"),
    ("percpu mov from user space", prog(mov_imm(1, 0), Insn(0xBF, dst=0, src=1, off=-1), EXIT),
     ProgType.SOCKET_FILTER, 0, errno.EINVAL, "BPF_MOV uses reserved fields"),
    ("syscall prog not sleepable", R0_42, ProgType.SYSCALL, 0, errno.EINVAL,
     "Syscall programs can only be sleepable"),
]
