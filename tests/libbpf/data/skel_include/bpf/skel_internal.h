/* The slice of libbpf's skel_internal.h a generated light skeleton uses: declarations
 * only (layouts as upstream-spec §5.3 gives them), written for this harness so that
 * `gcc -fsyntax-only` can check generated headers. */
#ifndef __HARNESS_SKEL_DECLS_SKEL_INTERNAL_H
#define __HARNESS_SKEL_DECLS_SKEL_INTERNAL_H
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <linux/types.h>

struct bpf_map_desc {
	int map_fd;
	__u32 max_entries;
	__aligned_u64 initial_value;
};

struct bpf_prog_desc {
	int prog_fd;
};

struct bpf_loader_ctx {
	__u32 sz;
	__u32 flags;
	__u32 log_level;
	__u32 log_size;
	__u64 log_buf;
};

struct bpf_load_and_run_opts {
	struct bpf_loader_ctx *ctx;
	const void *data;
	const void *insns;
	__u32 data_sz;
	__u32 insns_sz;
	const char *errstr;
};

void *skel_alloc(size_t size);
void skel_free(const void *p);
void skel_closenz(int fd);
void skel_free_map_data(void *p, __u64 addr, size_t sz);
void *skel_prep_map_data(const void *val, size_t mmap_sz, size_t val_sz);
void *skel_finalize_map_data(__u64 *init_val, size_t mmap_sz, int flags, int fd);
int skel_protect_map_data(void *p, __u64 *init_val, size_t sz);
int skel_raw_tracepoint_open(const char *name, int prog_fd);
int skel_link_create(int prog_fd, int target_fd, int attach_type);
int bpf_load_and_run(struct bpf_load_and_run_opts *opts);
#endif
