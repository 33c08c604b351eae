/* Test annotations for corpus programs, with the kernel selftests' macro names.
 *
 * Each macro becomes a BTF decl tag on the program's FUNC whose string starts with
 * "comment:", exactly as upstream's bpf_misc.h encodes them (multi-valued tags carry a
 * __COUNTER__ so identical tags are not merged: "comment:test_expect_msg=<N>=<msg>").
 * harness/annotations.py reads these tags back from BTF (all historical encodings) and,
 * for Clang < 14 which emits no decl tags, from the C source.
 */
#ifndef __HARNESS_BPF_MISC_H
#define __HARNESS_BPF_MISC_H

#define XSTR(s) STR(s)
#define STR(s) #s

#if defined(__has_attribute)
#if __has_attribute(btf_decl_tag)
#define __harness_tag(tag) __attribute__((btf_decl_tag("comment:" tag)))
#endif
#endif
#ifndef __harness_tag
#define __harness_tag(tag) /* Clang < 14: no decl tags; annotations are read from source */
#endif

/* multi-valued tags: the counter keeps identical messages apart */
#define __harness_mtag(tag, msg) __harness_tag(tag "=" XSTR(__COUNTER__) "=" msg)

#define __success               __harness_tag("test_expect_success")
#define __success_unpriv        __harness_tag("test_expect_success_unpriv")
#define __failure               __harness_tag("test_expect_failure")
#define __failure_unpriv        __harness_tag("test_expect_failure_unpriv")
#define __msg(msg)              __harness_mtag("test_expect_msg", msg)
#define __msg_unpriv(msg)       __harness_mtag("test_expect_msg_unpriv", msg)
#define __not_msg(msg)          __harness_mtag("test_expect_not_msg", msg)
#define __not_msg_unpriv(msg)   __harness_mtag("test_expect_not_msg_unpriv", msg)
#define __xlated(msg)           __harness_mtag("test_expect_xlated", msg)
#define __xlated_unpriv(msg)    __harness_mtag("test_expect_xlated_unpriv", msg)
#define __jited(msg)            __harness_mtag("test_jited", msg)
#define __jited_unpriv(msg)     __harness_mtag("test_jited_unpriv", msg)
#define __stderr(msg)           __harness_mtag("test_expect_stderr", msg)
#define __stdout(msg)           __harness_mtag("test_expect_stdout", msg)
#define __description(desc)     __harness_tag("test_description=" desc)
#define __retval(val)           __harness_tag("test_retval=" XSTR(val))
#define __retval_unpriv(val)    __harness_tag("test_retval_unpriv=" XSTR(val))
#define __log_level(lvl)        __harness_tag("test_log_level=" #lvl)
#define __flag(flag)            __harness_tag("test_prog_flags=" #flag)
#define __auxiliary             __harness_tag("test_auxiliary")
#define __auxiliary_unpriv      __harness_tag("test_auxiliary_unpriv")
#define __arch(arch)            __harness_tag("test_arch=" arch)
#define __arch_x86_64           __arch("X86_64")
#define __arch_arm64            __arch("ARM64")
#define __arch_riscv64          __arch("RISCV64")
#define __arch_s390x            __arch("s390x")
#define __caps_unpriv(caps)     __harness_tag("test_caps_unpriv=" XSTR(caps))
#define __load_if_JITed()       __harness_tag("load_mode=jited")
#define __load_if_no_JITed()    __harness_tag("load_mode=no_jited")
#define __btf_path(path)        __harness_tag("test_btf_path=" path)
#define __linear_size(sz)       __harness_tag("test_linear_size=" XSTR(sz))
#define __skip(reason)          __harness_tag("test_skip=" reason)

/* Values __retval understands besides plain numbers. */
#define POINTER_VALUE   0xbadcafe
#define TEST_DATA_LEN   64
#define _INT_MIN        -2147483648

#endif
