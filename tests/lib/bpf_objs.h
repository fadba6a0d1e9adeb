/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seven BPF objects as the tools that load them themselves see them
 * (tests/attach/attach_modes.c, tests/verifier/verify_count.c): each by name with
 * the ELF bytes its skeleton embeds (xcni_bpf_objs[]), and its rodata written by
 * name before it loads (rodata_set: the variable found in the object's BTF,
 * .rodata's DATASEC, and written into the map's initial value, as xcnid's
 * skeleton writes do), without one tree's skeleton types. Header-only, the
 * skeletons from -I$(BUILD)/gen: verify_count builds against another tree's
 * skeletons too (gcc -I$TREE/build/gen ... tests/verifier/verify_count.c -lbpf).
 */
#ifndef XCNI_TESTS_BPF_OBJS_H
#define XCNI_TESTS_BPF_OBJS_H

#include <errno.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "from_overlay.skel.h"
#include "from_pod.skel.h"
#include "sock_lb.skel.h"
#include "to_overlay.skel.h"
#include "to_pod.skel.h"
#include "to_underlay.skel.h"
#include "xdp_underlay.skel.h"

#define XCNI_BPF_OBJ(n) { #n, n##__elf_bytes }

static const struct xcni_bpf_obj {
	const char *name;
	const void *(*bytes)(size_t *size);
} xcni_bpf_objs[] = {
	XCNI_BPF_OBJ(from_pod),	    XCNI_BPF_OBJ(to_pod),	 XCNI_BPF_OBJ(to_overlay),
	XCNI_BPF_OBJ(from_overlay), XCNI_BPF_OBJ(to_underlay), XCNI_BPF_OBJ(xdp_underlay),
	XCNI_BPF_OBJ(sock_lb),
};

#define XCNI_NR_BPF_OBJS (sizeof(xcni_bpf_objs) / sizeof(xcni_bpf_objs[0]))

/*
 * Writes the rodata variable name, of n bytes, to val. One the object lacks
 * (an older tree's, another object's): nothing, 0. -EINVAL when its size is
 * not n.
 */
static inline int rodata_set(struct bpf_object *obj, const char *name, const void *val, size_t n)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	size_t size;
	char *data;
	int id;

	if (!btf || !m)
		return 0;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	data = bpf_map__initial_value(m, &size);
	if (id < 0 || !data)
		return 0;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != n || vs->offset + n > size)
			return -EINVAL;
		memcpy(data + vs->offset, val, n);
		return 0;
	}
	return 0;
}

static inline int rodata_set_u32(struct bpf_object *obj, const char *name, __u32 v)
{
	return rodata_set(obj, name, &v, sizeof(v));
}

#endif
