// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/system/ctstat.h"

static int slot_read(int fd, __u32 slot, struct xcni_ctstat *v)
{
	return bpf_map_lookup_elem(fd, &slot, v) ? -errno : 0;
}

int ctstat_read(int fd, struct xcni_ctstat *out)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct xcni_ctstat *v;

	if (ncpu < 1)
		return ncpu < 0 ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	for (__u32 slot = XCNI_CTSTAT_BPF; slot <= XCNI_CTSTAT_USER && !err; slot++) {
		err = slot_read(fd, slot, v);
		for (int i = 0; i < ncpu && !err; i++) {
			out->created += v[i].created;
			out->deleted += v[i].deleted;
			out->pickups += v[i].pickups;
		}
	}
	free(v);
	return err;
}

int ctstat_add_deleted(int fd, uint64_t n)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	__u32 slot = XCNI_CTSTAT_USER;
	struct xcni_ctstat *v;

	if (!n)
		return 0;
	if (ncpu < 1)
		return ncpu < 0 ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = slot_read(fd, slot, v);
	if (!err) {
		v[0].deleted += n;
		err = bpf_map_update_elem(fd, &slot, v, BPF_EXIST) ? -errno : 0;
	}
	free(v);
	return err;
}

long ctstat_entries(int ct_fd, long cap)
{
	struct xcni_ct_key k, cur, *prev = NULL;
	long n = 0;

	while (n < cap && !bpf_map_get_next_key(ct_fd, prev, &k)) {
		cur = k;
		prev = &cur;
		n++;
	}
	return n == cap || errno == ENOENT ? n : -errno;
}

uint64_t ctstat_evicted(const struct xcni_ctstat *st, long entries)
{
	uint64_t gone = st->deleted + (entries > 0 ? (uint64_t)entries : 0);

	return st->created > gone ? st->created - gone : 0;
}
