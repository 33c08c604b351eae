/* The slice of libbpf's API a generated full skeleton uses: declarations only, written
 * for this harness so `gcc -fsyntax-only` can check generated headers without libbpf. */
#ifndef __HARNESS_SKEL_DECLS_LIBBPF_H
#define __HARNESS_SKEL_DECLS_LIBBPF_H
#include <stddef.h>

struct bpf_object;
struct bpf_map;
struct bpf_program;
struct bpf_link;
struct bpf_object_open_opts;

struct bpf_map_skeleton {
	const char *name;
	struct bpf_map **map;
	void **mmaped;
	struct bpf_link **link;
};

struct bpf_prog_skeleton {
	const char *name;
	struct bpf_program **prog;
	struct bpf_link **link;
};

struct bpf_object_skeleton {
	size_t sz;
	const char *name;
	const void *data;
	size_t data_sz;
	struct bpf_object **obj;
	int map_cnt;
	int map_skel_sz;
	struct bpf_map_skeleton *maps;
	int prog_cnt;
	int prog_skel_sz;
	struct bpf_prog_skeleton *progs;
};

int bpf_object__open_skeleton(struct bpf_object_skeleton *s, const struct bpf_object_open_opts *opts);
int bpf_object__load_skeleton(struct bpf_object_skeleton *s);
int bpf_object__attach_skeleton(struct bpf_object_skeleton *s);
void bpf_object__detach_skeleton(struct bpf_object_skeleton *s);
void bpf_object__destroy_skeleton(struct bpf_object_skeleton *s);
#endif
