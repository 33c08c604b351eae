/* Helper declarations and section/map macros for corpus programs.
 *
 * Written for this harness (not a copy of libbpf's header) but with the same names, so a
 * program written against libbpf's <bpf/bpf_helpers.h> builds here with -nostdinc and
 * -I corpus/include.  Helper numbers are the kernel's BPF_FUNC_* ids: a helper is a
 * function pointer whose "address" is its id, which clang turns into `call <id>`.
 */
#ifndef __HARNESS_BPF_HELPERS_H
#define __HARNESS_BPF_HELPERS_H

#include <linux/types.h>
#include <linux/bpf.h>

/* Place a program or a global in an ELF section; `used` keeps unreferenced ones. */
#define SEC(name) __attribute__((section(name), used))

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
#ifndef __hidden
#define __hidden __attribute__((visibility("hidden")))
#endif
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))

/* BTF-defined maps: each field's *type* carries the number (libbpf reads it from BTF). */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#define ___bpf_concat(a, b) a##b

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#define barrier() asm volatile("" ::: "memory")
#define barrier_var(var) asm volatile("" : "+r"(var))

/* ---- helpers (id = kernel BPF_FUNC_* number) ----------------------------------- */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *) 2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *) 3;
static long (*bpf_probe_read)(void *dst, __u32 size, const void *unsafe_ptr) = (void *) 4;
static __u64 (*bpf_ktime_get_ns)(void) = (void *) 5;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *) 6;
static __u32 (*bpf_get_prandom_u32)(void) = (void *) 7;
static __u32 (*bpf_get_smp_processor_id)(void) = (void *) 8;
static long (*bpf_tail_call)(void *ctx, void *prog_array_map, __u32 index) = (void *) 12;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *) 14;
static __u64 (*bpf_get_current_uid_gid)(void) = (void *) 15;
static long (*bpf_get_current_comm)(void *buf, __u32 size_of_buf) = (void *) 16;
static long (*bpf_perf_event_output)(void *ctx, void *map, __u64 flags, void *data, __u64 size) = (void *) 25;
static long (*bpf_get_numa_node_id)(void) = (void *) 42;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *unsafe_ptr) = (void *) 112;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *) 113;
static __u64 (*bpf_jiffies64)(void) = (void *) 118;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *) 130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *) 131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *) 132;
static void (*bpf_ringbuf_discard)(void *data, __u64 flags) = (void *) 133;
static void *(*bpf_per_cpu_ptr)(const void *percpu_ptr, __u32 cpu) = (void *) 153;
static void *(*bpf_this_cpu_ptr)(const void *percpu_ptr) = (void *) 154;
static long (*bpf_for_each_map_elem)(void *map, void *callback_fn, void *callback_ctx, __u64 flags) = (void *) 164;
static long (*bpf_snprintf)(char *str, __u32 str_size, const char *fmt, __u64 *data, __u32 data_len) = (void *) 165;
static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *) 181;
static long (*bpf_strncmp)(const char *s1, __u32 s1_sz, const char *s2) = (void *) 182;
static void *(*bpf_map_lookup_percpu_elem)(void *map, const void *key, __u32 cpu) = (void *) 195;

/* bpf_printk("fmt", args...): the format lives on the stack (no .rodata needed). */
#define bpf_printk(fmt, ...)                                                  \
	({                                                                    \
		char ____fmt[] = fmt;                                         \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);    \
	})

#endif
