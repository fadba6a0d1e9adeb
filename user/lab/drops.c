// SPDX-License-Identifier: Apache-2.0
/* Every lab node's drop counters, before and after a probe (lab/drops.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lab/drops.h"
#include "lab/state.h"
#include "lib/observe/reasons.h"
#include "lib/system/bpfpin.h"
#include "lib/system/util.h"
#include "xcni_shared.h"

/* Every node's drop counters: packets [node][XCNI_METRIC_IDX(reason, dir)] (drops only). */
int lab_drops_open(struct lab *lab, struct lab_drops *d, const char *who)
{
	char path[PATH_MAX * 2];

	d->nnodes = lab->nnodes;
	d->fd = calloc(lab->nnodes, sizeof(*d->fd));
	d->pk = calloc(lab->nnodes * XCNI_NR_METRICS, sizeof(*d->pk));
	if (!d->fd || !d->pk)
		return -ENOMEM;
	for (size_t i = 0; i < lab->nnodes; i++) {
		const struct lab_node *n = &lab->nodes[i];

		snprintf(path, sizeof(path), "%s/xcni_metrics", n->pin);
		d->fd[i] = bpf_obj_get(path);
		if (d->fd[i] < 0 && who)
			fprintf(stderr, "%s: node %s: %s: %s (its drops are not "
					"watched)\n", who, n->name, path, strerror(errno));
	}
	return 0;
}

void lab_drops_close(struct lab_drops *d)
{
	for (size_t i = 0; d->fd && i < d->nnodes; i++)
		xcni_close(&d->fd[i]);
	free(d->fd);
	free(d->pk);
}

/* The counters now, into out[node * XCNI_NR_METRICS + idx]. */
int lab_drops_read(const struct lab_drops *d, __u64 *out)
{
	memset(out, 0, d->nnodes * XCNI_NR_METRICS * sizeof(*out));
	for (size_t n = 0; n < d->nnodes; n++)
		for (int r = XCNI_DROP_NON_IP; d->fd[n] >= 0 && r >= XCNI_REASON_MIN; r--)
			for (unsigned int dir = 0; dir < XCNI_NR_DIRS; dir++) {
				__u32 idx = XCNI_METRIC_IDX(r, dir);
				struct xcni_metric sum;

				if (!xcni_percpu_sum(d->fd[n], &idx, &sum, sizeof(sum)))
					out[n * XCNI_NR_METRICS + idx] = sum.packets;
			}
	return 0;
}

/*
 * Waits (at most 1 s) until no node's drop counters move for 200 ms: the
 * probe pods' own start (a node's first packets to pods whose tunnel it is
 * still learning: drop-no-tunnel) is not the first test's.
 */
void lab_drops_settle(const struct lab_drops *d, __u64 *prev)
{
	const size_t sz = d->nnodes * XCNI_NR_METRICS * sizeof(*prev);

	if (lab_drops_read(d, prev))
		return;
	/* At most 1 s: traffic that goes on (a flood) is the tests' to see. */
	for (int i = 0; i < 5; i++) {
		usleep(200 * 1000);
		if (lab_drops_read(d, d->pk))
			return;
		if (!memcmp(prev, d->pk, sz))
			return;
		memcpy(prev, d->pk, sz);
	}
}

size_t lab_drops_seen(const struct lab *lab, const struct lab_drops *d, const __u64 *before,
		      long node, struct lab_drops_seen *s, char *buf, size_t len)
{
	size_t off = 0, kinds = 0;

	*s = (struct lab_drops_seen){};
	if (len)
		buf[0] = '\0';
	for (size_t n = 0; n < d->nnodes; n++)
		for (int r = XCNI_DROP_NON_IP; r >= XCNI_REASON_MIN; r--)
			for (unsigned int dir = 0; dir < XCNI_NR_DIRS; dir++) {
				size_t i = n * XCNI_NR_METRICS + XCNI_METRIC_IDX(r, dir);
				const struct xcni_reason_info *ri = xcni_reason_info(r);

				if (d->pk[i] <= before[i] || (node != -1 && node != (long)n))
					continue;
				kinds++;
				s->policy |= ri && !strncmp(ri->name, "drop-policy", 11);
				s->no_backend |= r == XCNI_DROP_NO_BACKEND;
				if (off < len)
					off += snprintf(buf + off, len - off, "%s%s %s %s x%llu",
							off ? ", " : "", lab->nodes[n].name,
							ri ? ri->name : "?", xcni_dir_name(dir) ?: "?",
							(unsigned long long)(d->pk[i] - before[i]));
			}
	return kinds;
}
