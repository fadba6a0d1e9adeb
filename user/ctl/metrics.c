// SPDX-License-Identifier: Apache-2.0
/* xcnictl metrics [list|get]: packets by verdict reason and direction, and lost events. */
#include "ctl/ctl.h"
#include "lib/system/bpfpin.h"
#include "lib/system/ctstat.h"
#include "lib/observe/vocab.h"

static const struct pt_col metric_cols[] = {
	{ "REASON", "reason", PT_STR },
	{ NULL, "code", PT_INT },
	{ "DIRECTION", "direction", PT_STR },
	{ "PACKETS", "packets", PT_UINT },
	{ "BYTES", "bytes", PT_UINT },
	{ NULL, "description", PT_STR },
};

/* A row that counts something other than a reason's packets: its name and count
 * (no code, direction or bytes); its meaning follows. */
static void count_row(struct ptable *t, const char *name, __u64 n)
{
	pt_str(t, name);
	pt_nulls(t, 2);
	pt_uint(t, n);
	pt_null(t);
}

/*
 * Events the data plane could not report (xcni_evrate): rows of their own
 * after the reasons, with no code or direction, so a reader of monitor knows
 * it saw less than happened. Absent before xcnid had the map: no rows.
 */
static int metrics_events(const struct ctl_ctx *c, struct ptable *t)
{
	static const struct {
		const char *name, *desc;
		size_t off;
	} rows[] = {
		{ "events-lost-rate-limit",
		  "events over their pod's share of the budget (xcnid --events-rate, config set "
		  "events-rate, per CPU): "
		  "monitor output is incomplete", offsetof(struct xcni_evrate, lost_rate) },
		{ "events-lost-ring-full",
		  "events the ring had no room for (its reader lags): monitor output is incomplete",
		  offsetof(struct xcni_evrate, lost_full) },
	};
	struct xcni_evrate sum;
	__u32 zero = 0;
	int fd = map_open_quiet(c, &m_evrate), err;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = xcni_percpu_sum(fd, &zero, &sum, sizeof(sum));
	close(fd);
	if (err)
		return pr_err_ret(err, "%s: lookup: %s\n", m_evrate.name, strerror(-err));
	for (size_t r = 0; r < ARRAY_SIZE(rows); r++) {
		__u64 n = *(const __u64 *)((const char *)&sum + rows[r].off);

		if (!n && !(c->opts & OPT_ALL))
			continue;
		count_row(t, rows[r].name, n);
		pt_str(t, rows[r].desc);
	}
	return 0;
}

/*
 * What became of conntrack entries (xcni_ctstat): rows of their own after the
 * events, the count in PACKETS. Evicted entries (created - deleted - present)
 * say the table is too small for the flows; pickups, how many TCP flows were
 * met again without their entry and judged anew. Absent before xcnid had the
 * map: no rows.
 */
static int metrics_ct(const struct ctl_ctx *c, struct ptable *t)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct xcni_ctstat st;
	long entries = -1;
	int fd = map_open_quiet(c, &m_ctstat), ct_fd, err;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = ctstat_read(fd, &st);
	close(fd);
	if (err)
		return pr_err_ret(err, "%s: lookup: %s\n", m_ctstat.name, strerror(-err));
	ct_fd = map_open_quiet(c, &m_ct);
	if (ct_fd >= 0) {
		if (!bpf_map_get_info_by_fd(ct_fd, &info, &len))
			entries = xcni_map_entries(ct_fd, info.key_size, 2 * (long)info.max_entries);
		close(ct_fd);
	}
	/* By default only what signals pressure, and only when it happened. */
	const struct {
		const char *name, *desc;
		__u64 n;
		bool pressure;
	} rows[] = {
		{ "ct-created", "conntrack entries created", st.created, false },
		{ "ct-deleted", "conntrack entries deleted (refused flows, flushed UDP flows)",
		  st.deleted, false },
		{ "ct-evicted",
		  "conntrack entries evicted by a full table (created - deleted - present): "
		  "the table is under pressure", entries < 0 ? 0 : ctstat_evicted(&st, entries), true },
		{ "ct-pickups", "TCP flows met mid-stream without their entry, judged again",
		  st.pickups, true },
	};
	for (size_t r = 0; r < ARRAY_SIZE(rows); r++) {
		if (!(c->opts & OPT_ALL) && (!rows[r].n || !rows[r].pressure))
			continue;
		count_row(t, rows[r].name, rows[r].n);
		pt_str(t, rows[r].desc);
	}
	if (entries >= 0 && (c->opts & OPT_ALL || entries >= (long)info.max_entries)) {
		count_row(t, "ct-entries", (__u64)entries);
		pt_strf(t, "entries in the conntrack table, of %u it holds", info.max_entries);
	}
	return 0;
}

/* only: NULL, every reason (non-zero rows unless --all); else that reason's rows, zeros too. */
static int metrics_show(const struct ctl_ctx *c, const int *only)
{
	struct ptable *t;
	int fd, err = 0, reason;
	unsigned int dir;

	fd = map_open(c, &m_metrics);
	if (fd < 0)
		return fd;
	t = pt_new(metric_cols, ARRAY_SIZE(metric_cols), 0);
	/* Reasons in enum order, fwd-local first. */
	for (reason = XCNI_REASON_MAX; reason >= XCNI_REASON_MIN && !err; reason--) {
		const struct xcni_reason_info *ri = xcni_reason_info(reason);

		for (dir = 0; dir < XCNI_NR_DIRS && (!only || reason == *only) && !err; dir++) {
			__u32 idx = XCNI_METRIC_IDX(reason, dir);
			struct xcni_metric sum;

			if ((err = xcni_percpu_sum(fd, &idx, &sum, sizeof(sum)))) {
				pr_err("%s[%u]: %s\n", m_metrics.name, idx, strerror(-err));
				break;
			}
			if (!sum.packets && !sum.bytes && !(c->opts & OPT_ALL) && !only)
				continue;
			pt_name(t, ri ? ri->name : NULL, "reason%d", reason);
			pt_int(t, reason);
			pt_str(t, xcni_dir_name(dir));
			pt_uint(t, sum.packets);
			pt_uint(t, sum.bytes);
			pt_str(t, ri ? ri->desc : NULL);
		}
	}
	close(fd);
	if (!err && !only)
		err = metrics_events(c, t) ?: metrics_ct(c, t);
	return show_read(c, t, err);
}

static int cmd_metrics(const struct ctl_ctx *c, char **argv)
{
	(void)argv;
	return metrics_show(c, NULL);
}

static int check_metrics_get(char **argv)
{
	char e[200];
	int reason;

	if (vocab_reason(argv[0], &reason, e, sizeof(e)))
		return pr_err_ret(-EINVAL, "REASON %s: no such reason (xcnictl metrics --all lists "
				  "them)\n", argv[0]);
	return 0;
}

static int cmd_metrics_get(const struct ctl_ctx *c, char **argv)
{
	char e[200];
	int reason;

	if (vocab_reason(argv[0], &reason, e, sizeof(e)))
		return -EINVAL;
	return metrics_show(c, &reason);
}

const struct cmd metrics_cmds[] = {
	{ "metrics", "list", cmd_metrics, 0, OPT_ALL, "[--all]",
	  "Count packets by verdict reason and direction (the same as metrics).", NULL },
	{ "metrics", "get", cmd_metrics_get, 1, 0, "REASON",
	  "Show one reason's packets and bytes, in every direction (zeros too).",
	  check_metrics_get },
	{ "metrics", NULL, cmd_metrics, 0, OPT_ALL, "[--all]",
	  "Count packets by verdict reason and direction.", NULL },
	{}
};
