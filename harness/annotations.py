"""Selftest-style program annotations (`__success`, `__msg`, `__retval`, ...).

Programs carry their expectations the way the kernel selftests do: BTF decl tags on the
program's FUNC whose string starts with "comment:" (corpus/include/bpf_misc.h).  Three
encodings exist upstream and all are accepted (upstream-spec §8.1):

  1. comment:test_expect_msg=foo              (oldest)
  2. comment:test_expect_msg=17=foo           (multi-valued tags carry a __COUNTER__)
  3. comment:17:test_expect_msg=foo           (newest: every tag is prefixed by a counter)

Clang < 14 emits no decl tags, so for those objects the same annotations are read from
the C source (`from_source`), and the caller records that the object lacks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Tags whose value may carry a "<counter>=" prefix (encoding 2).
MULTI_VALUED = frozenset({
    "test_expect_msg", "test_expect_msg_unpriv", "test_expect_not_msg", "test_expect_not_msg_unpriv",
    "test_expect_xlated", "test_expect_xlated_unpriv", "test_jited", "test_jited_unpriv",
    "test_expect_stderr", "test_expect_stderr_unpriv", "test_expect_stdout", "test_expect_stdout_unpriv",
})

# Named values accepted by __retval (bpf_misc.h / test_loader.c).
RETVAL_NAMES = {"POINTER_VALUE": 0xBADCAFE, "TEST_DATA_LEN": 64, "_INT_MIN": -2147483648,
                "INT_MIN": -2147483648, "INT_MAX": 2147483647}
# __flag names -> BPF_F_* program flags (upstream-spec §8.2).
PROG_FLAGS = {"BPF_F_STRICT_ALIGNMENT": 1, "BPF_F_ANY_ALIGNMENT": 2, "BPF_F_TEST_RND_HI32": 4,
              "BPF_F_TEST_STATE_FREQ": 8, "BPF_F_SLEEPABLE": 16, "BPF_F_XDP_HAS_FRAGS": 32,
              "BPF_F_TEST_REG_INVARIANTS": 128}

# Source macro -> (tag, how the argument becomes the tag value), for Clang < 14 objects.
#   None: no argument; "str": C string literal(s); "raw": the argument text as written.
SOURCE_MACROS: dict[str, tuple[str, str | None]] = {
    "__success": ("test_expect_success", None),
    "__success_unpriv": ("test_expect_success_unpriv", None),
    "__failure": ("test_expect_failure", None),
    "__failure_unpriv": ("test_expect_failure_unpriv", None),
    "__msg": ("test_expect_msg", "str"),
    "__msg_unpriv": ("test_expect_msg_unpriv", "str"),
    "__not_msg": ("test_expect_not_msg", "str"),
    "__not_msg_unpriv": ("test_expect_not_msg_unpriv", "str"),
    "__xlated": ("test_expect_xlated", "str"),
    "__xlated_unpriv": ("test_expect_xlated_unpriv", "str"),
    "__jited": ("test_jited", "str"),
    "__jited_unpriv": ("test_jited_unpriv", "str"),
    "__stderr": ("test_expect_stderr", "str"),
    "__stdout": ("test_expect_stdout", "str"),
    "__description": ("test_description", "str"),
    "__retval": ("test_retval", "raw"),
    "__retval_unpriv": ("test_retval_unpriv", "raw"),
    "__log_level": ("test_log_level", "raw"),
    "__flag": ("test_prog_flags", "raw"),
    "__auxiliary": ("test_auxiliary", None),
    "__auxiliary_unpriv": ("test_auxiliary_unpriv", None),
    "__arch": ("test_arch", "str"),
    "__arch_x86_64": ("test_arch=X86_64", None),
    "__arch_arm64": ("test_arch=ARM64", None),
    "__arch_riscv64": ("test_arch=RISCV64", None),
    "__arch_s390x": ("test_arch=s390x", None),
    "__caps_unpriv": ("test_caps_unpriv", "raw"),
    "__load_if_JITed": ("load_mode=jited", None),
    "__load_if_no_JITed": ("load_mode=no_jited", None),
    "__btf_path": ("test_btf_path", "str"),
    "__linear_size": ("test_linear_size", "raw"),
    "__skip": ("test_skip", "str"),
    "__log_always": ("test_log_always", None),
}

_COUNTER_PREFIX = re.compile(r"^\d+:")
_COUNTER_VALUE = re.compile(r"^\d+=")


@dataclass
class Annotations:
    """What one program's annotations ask for (None = not said)."""
    expect_success: bool | None = None          # __success -> True, __failure -> False
    expect_success_unpriv: bool | None = None
    msgs: list[str] = field(default_factory=list)
    not_msgs: list[str] = field(default_factory=list)
    msgs_unpriv: list[str] = field(default_factory=list)
    xlated: list[str] = field(default_factory=list)
    jited: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    retval: int | None = None
    retval_unpriv: int | None = None
    description: str | None = None
    log_level: int | None = None
    prog_flags: int = 0
    prog_flags_cleared: int = 0
    auxiliary: bool = False
    auxiliary_unpriv: bool = False
    arch: list[str] = field(default_factory=list)
    caps_unpriv: str | None = None
    load_mode: str | None = None
    btf_path: str | None = None
    linear_size: int | None = None
    skip: str | None = None
    unknown: list[str] = field(default_factory=list)   # tags we do not interpret
    tags: list[str] = field(default_factory=list)      # normalised "key[=value]" in order

    @property
    def has_expectations(self) -> bool:
        return bool(self.tags)

    def to_dict(self) -> dict:
        quiet = {"prog_flags": 0, "prog_flags_cleared": 0, "auxiliary": False, "auxiliary_unpriv": False}
        return {k: v for k, v in self.__dict__.items()
                if v is not None and v != [] and not (k in quiet and v == quiet[k])}


def normalise_tag(raw: str) -> str | None:
    """'comment:…' in any of the three encodings -> 'key[=value]'; None if not ours."""
    if not raw.startswith("comment:"):
        return None
    tag = _COUNTER_PREFIX.sub("", raw[len("comment:"):], count=1)
    key, sep, value = tag.partition("=")
    if sep and key in MULTI_VALUED and _COUNTER_VALUE.match(value):
        value = _COUNTER_VALUE.sub("", value, count=1)
    return f"{key}={value}" if sep else key


def parse_int(text: str, names: dict[str, int] = RETVAL_NAMES) -> int:
    t = text.strip().strip("()").strip()
    neg = t.startswith("-")
    body = t[1:].strip() if neg else t
    if body in names:
        v = names[body]
    else:
        v = int(body, 0)
    return -v if neg else v


def build(tags: list[str]) -> Annotations:
    """Annotations from normalised tags (order kept; unknown tags recorded, not fatal)."""
    a = Annotations(tags=list(tags))
    lists = {"test_expect_msg": a.msgs, "test_expect_not_msg": a.not_msgs,
             "test_expect_msg_unpriv": a.msgs_unpriv, "test_expect_xlated": a.xlated,
             "test_jited": a.jited, "test_expect_stderr": a.stderr, "test_expect_stdout": a.stdout}
    for tag in tags:
        key, _, value = tag.partition("=")
        try:
            if key in lists:
                lists[key].append(value)
            elif key == "test_expect_success":
                a.expect_success = True
            elif key == "test_expect_failure":
                a.expect_success = False
            elif key == "test_expect_success_unpriv":
                a.expect_success_unpriv = True
            elif key == "test_expect_failure_unpriv":
                a.expect_success_unpriv = False
            elif key == "test_retval":
                a.retval = parse_int(value)
            elif key == "test_retval_unpriv":
                a.retval_unpriv = parse_int(value)
            elif key == "test_description":
                a.description = value
            elif key == "test_log_level":
                a.log_level = parse_int(value, {})
            elif key == "test_prog_flags":
                clear = value.startswith("!")
                v = value[1:] if clear else value
                bits = PROG_FLAGS[v] if v in PROG_FLAGS else parse_int(v, {})
                if clear:
                    a.prog_flags_cleared |= bits
                else:
                    a.prog_flags |= bits
            elif key == "test_auxiliary":
                a.auxiliary = True
            elif key == "test_auxiliary_unpriv":
                a.auxiliary_unpriv = True
            elif key == "test_arch":
                a.arch.append(value)
            elif key == "test_caps_unpriv":
                a.caps_unpriv = value
            elif key == "load_mode":
                a.load_mode = value
            elif key == "test_btf_path":
                a.btf_path = value
            elif key == "test_linear_size":
                a.linear_size = parse_int(value, {})
            elif key == "test_skip":
                a.skip = value
            else:
                a.unknown.append(tag)
        except (ValueError, KeyError):
            a.unknown.append(tag)
    return a


def from_decl_tags(pairs) -> dict[str, Annotations]:
    """{func: Annotations} from (func_name, decl_tag_string) pairs read from BTF.

    Only tags on the function itself (component_idx -1) should be passed in.
    """
    per: dict[str, list[str]] = {}
    for func, raw in pairs:
        tag = normalise_tag(raw)
        if tag is not None:
            per.setdefault(func, []).append(tag)
    return {f: build(t) for f, t in per.items()}


# ---------------------------------------------------------------- source fallback

_STR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def c_string(text: str) -> str:
    """Concatenate the C string literals in `text` (escapes decoded)."""
    out = []
    for m in _STR_RE.finditer(text):
        out.append(re.sub(r"\\(.)", lambda e: _ESCAPES.get(e[1], e[1]), m[1]))
    return "".join(out)


def strip_comments(src: str) -> str:
    """Remove /* */ and // comments, keeping string literals and line structure."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j) or " ")
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _balanced(text: str, i: int) -> int:
    """Index just past the ')' matching the '(' at text[i] (string-aware)."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


_WORD_RE = re.compile(r"[A-Za-z_]\w*")


def _decl_end(text: str, i: int) -> int:
    """Index of the first '{' or ';' after i that is outside strings and parentheses."""
    while i < len(text):
        c = text[i]
        if c == "(":
            i = _balanced(text, i)
            continue
        if c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "{;":
            return i
        i += 1
    return -1


@dataclass
class SourceProgram:
    name: str
    section: str
    tags: list[str]
    line: int


def scan_programs(src: str) -> list[SourceProgram]:
    """Programs defined in C source: `SEC("name") [annotations] type name(...) {`.

    Annotations may come before or after SEC(); sections starting with '.' and the
    license/version/maps sections are data, not programs.
    """
    text = strip_comments(src)
    progs: list[SourceProgram] = []
    for m in re.finditer(r'\bSEC\s*\(\s*"([^"]*)"\s*\)', text):
        section = m[1]
        if section.startswith(".") or section in ("license", "version", "maps"):
            continue
        # the declaration spans from the previous top-level ';' or '}' to the next '{' or ';'
        start = max(text.rfind(";", 0, m.start()), text.rfind("}", 0, m.start())) + 1
        end_brace = _decl_end(text, m.end())
        if end_brace < 0 or text[end_brace] != "{":
            continue  # a declaration, not a definition
        header = text[start:end_brace]
        tags, name = [], None
        i = 0
        while i < len(header):
            w = _WORD_RE.match(header, i)
            if not w:
                if header[i] == "(":
                    i = _balanced(header, i)
                else:
                    i += 1
                continue
            word, i = w[0], w.end()
            j = i
            while j < len(header) and header[j].isspace():
                j += 1
            has_args = j < len(header) and header[j] == "("
            args_end = _balanced(header, j) if has_args else i
            args = header[j + 1:args_end - 1] if has_args else ""
            if word in SOURCE_MACROS:
                tag, kind = SOURCE_MACROS[word]
                if kind == "str":
                    tags.append(f"{tag}={c_string(args)}")
                elif kind == "raw":
                    tags.append(f"{tag}={args.strip()}")
                else:
                    tags.append(tag)
                i = args_end
            elif word == "SEC":
                i = args_end
            elif has_args and name is None and not word.startswith("__attribute"):
                name = word
                i = args_end
            elif has_args:
                i = args_end
        if name:
            progs.append(SourceProgram(name, section, tags, text.count("\n", 0, m.start()) + 1))
    return progs


def from_source(src: str) -> dict[str, Annotations]:
    """{program: Annotations} read from the C text (for objects without decl tags)."""
    return {p.name: build(p.tags) for p in scan_programs(src)}


# ---------------------------------------------------------------- from an object's BTF

BTF_KIND_FUNC, BTF_KIND_DECL_TAG = 12, 17   # UAPI btf.h kind numbers


def from_object(path) -> tuple[dict[str, Annotations] | None, str]:
    """({func: Annotations}, note) from the object's BTF decl tags.

    Returns (None, reason) when the object cannot be read (no BTF, or harness.elf is not
    available); ({}, note) when it has BTF but no "comment:" decl tags.
    """
    try:
        from harness.elf.object import BpfObject
    except ImportError as exc:
        return None, f"harness.elf not available ({exc.name})"
    try:
        obj = BpfObject.open(str(path))
    except Exception as exc:  # FormatError or anything a broken object raises
        return None, f"cannot read object: {exc}"
    btf = getattr(obj, "btf", None)
    if btf is None:
        return None, "object has no .BTF"
    pairs = []
    for tid in range(1, btf.nr_types):
        t = btf.type_by_id(tid)
        if t.kind != BTF_KIND_DECL_TAG or t.component_idx != -1:
            continue
        target = btf.type_by_id(t.size_type)
        if target.kind == BTF_KIND_FUNC:
            pairs.append((btf.name_of(target), btf.string_at(t.name_off)))
    ann = from_decl_tags(pairs)
    return ann, f"{sum(len(a.tags) for a in ann.values())} decl tags on {len(ann)} functions"
