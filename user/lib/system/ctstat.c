// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/system/bpfpin.h"
#include "lib/system/ctstat.h"

int ctstat_read(int fd, struct xcni_ctstat *out)
{
	struct xcni_ctstat v;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (__u32 slot = XCNI_CTSTAT_BPF; slot <= XCNI_CTSTAT_USER && !err; slot++) {
		err = xcni_percpu_sum(fd, &slot, &v, sizeof(v));
		out->created += v.created;
		out->deleted += v.deleted;
		out->pickups += v.pickups;
	}
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
	err = bpf_map_lookup_elem(fd, &slot, v) ? -errno : 0;
	if (!err) {
		v[0].deleted += n;
		err = bpf_map_update_elem(fd, &slot, v, BPF_EXIST) ? -errno : 0;
	}
	free(v);
	return err;
}

uint64_t ctstat_evicted(const struct xcni_ctstat *st, long entries)
{
	uint64_t gone = st->deleted + (entries > 0 ? (uint64_t)entries : 0);

	return st->created > gone ? st->created - gone : 0;
}
