/* Every BTF kind, using only our own declarations (no system headers).
 * Compiled by tests/elf with every available Clang; kinds a Clang cannot emit are
 * guarded by __clang_major__ (decl/type tags need 14, ENUM64 needs 15). */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#if __clang_major__ >= 14
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __ttag(x) __attribute__((btf_type_tag(x)))
#else
#define __tag(x)
#define __ttag(x)
#endif

typedef unsigned int u32;                     /* TYPEDEF -> INT */
typedef unsigned long long u64;

struct fwd_only;                              /* FWD */
union value { int i; float f; };              /* UNION, FLOAT */
enum color { RED, GREEN = 5, NEG = -3 };      /* ENUM (signed) */
#if __clang_major__ >= 15
enum big { BIG = 0x123456789ULL };            /* ENUM64 */
enum big big_var = BIG;
#endif
struct bits { u32 a:3; u32 b:5; int c; } __tag("struct_tag");   /* kind_flag bitfields */

struct {
	__uint(type, 2);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

int data_var = 1;                             /* VAR in DATASEC .data */
const volatile int ro_var = 2;                /* CONST, VOLATILE in .rodata */
int bss_var;                                  /* .bss */
int percpu_var SEC(".percpu") = 0;            /* .percpu */
struct fwd_only *fwd_ptr;                     /* PTR -> FWD */
int arr[4];                                   /* ARRAY */
union value uv;
enum color col = GREEN;
struct bits bits_var;
int __ttag("user") *tagged_ptr;               /* TYPE_TAG */
char _license[] SEC("license") = "GPL";

struct task { int pid; int tgid; } __attribute__((preserve_access_index));

static __attribute__((noinline)) int add_restrict(int *restrict p, int n __tag("param_tag"))
{                                             /* RESTRICT, static FUNC, FUNC_PROTO */
	return *p + n;
}

SEC("xdp") __tag("comment:test") int prog(struct task *t)
{
	int v = t->tgid;                              /* CO-RE field byte offset */
	v += __builtin_preserve_type_info(*(struct task *)0, 0);  /* CO-RE type exists */
	v += bits_var.b + uv.i + data_var + ro_var + bss_var + arr[1] + col + percpu_var;
	return add_restrict(&v, 1);
}

SEC("tc") int second(void *ctx)
{
	return data_var;
}
