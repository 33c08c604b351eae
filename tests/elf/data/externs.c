/* Object features beyond plain types: externs (.kconfig, .ksyms), global and static
 * subprograms, several programs in one section, custom data sections, string literals
 * (.rodata.str1.1) and named per-CPU sections.  Only our own declarations. */
#define SEC(name) __attribute__((section(name), used))
#define __kconfig __attribute__((section(".kconfig")))
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))

extern int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_MISSING __kconfig __weak;
extern void bpf_rcu_read_lock(void) __ksym;
extern int some_kernel_var __ksym __weak;

static long (*bpf_trace_printk)(const char *fmt, unsigned int fmt_size, ...) = (void *)6;

int custom_data SEC(".data.custom") = 7;
const char custom_ro[8] SEC(".rodata.custom") = "abc";
long percpu_long SEC(".percpu.data") = 3;
int _version SEC("version") = 0x060100;
char _license[] SEC("license") = "Dual BSD/GPL";

__attribute__((noinline)) int global_sub(int x)
{
	return x * 3 + custom_data;
}

static __attribute__((noinline)) int static_sub(int x)
{
	return x + LINUX_KERNEL_VERSION + CONFIG_MISSING;
}

SEC("xdp") int first(void *ctx)
{
	bpf_trace_printk("hello %d\n", sizeof("hello %d\n"), 1);
	return global_sub(1) + static_sub(2) + custom_ro[1];
}

SEC("xdp") int second_in_xdp(void *ctx)
{
	bpf_rcu_read_lock();
	return global_sub(2) + (int)percpu_long + (&some_kernel_var ? 1 : 0);
}
