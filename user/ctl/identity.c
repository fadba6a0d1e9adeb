// SPDX-License-Identifier: Apache-2.0
/* xcnictl identity list/get: security identities and their label sets. */
#include "ctl/ctl.h"
#include "lib/observe/vocab.h"

static const struct pt_col id_cols[] = {
	{ "IDENTITY", "identity", PT_UINT },
	{ "LABELS", "labels", PT_STR },
};

struct id_rec {
	__u32 id;
	struct xcni_idlabels l;
};

/* identity list (get NULL) and identity get ID. */
static int cmd_identity_show(const struct ctl_ctx *c, char **argv)
{
	const char *get = argv[0]; /* list and get: argv ends in NULL, list's at [0] */
	static const __u32 reserved[] = { XCNI_ID_HOST, XCNI_ID_WORLD, XCNI_ID_UNMANAGED,
					  XCNI_ID_REMOTE_NODE };
	struct id_rec *recs = NULL;
	struct ptable *t;
	struct filter f;
	__u32 want = 0;
	char e[200];
	size_t n, i;
	int err;

	/* An identity: a number, or a reserved one by name ("reserved:world"). */
	if (get && vocab_identity(get, &want, e, sizeof(e)))
		return pr_err_ret(-EINVAL,
				  "%s: not an identity (a number or reserved:NAME)\n", get);
	err = filter_open(c, &f, FILTER_BY_IDENTITY);
	if (err)
		return err;
	err = map_read(c, &m_identity, sizeof(*recs), offsetof(struct id_rec, id),
		       offsetof(struct id_rec, l), u32_cmp, (void **)&recs, &n);
	if (err)
		goto out;
	t = pt_new(id_cols, ARRAY_SIZE(id_cols), get ? PT_RECORD : 0);
	for (i = 0; i < ARRAY_SIZE(reserved); i++) {
		struct frow r = { .id = { reserved[i] }, .nid = 1 };

		if ((get && reserved[i] != want) || !filter_match(&f, &r))
			continue;
		pt_uint(t, reserved[i]);
		pt_str(t, xcni_reserved_identity(reserved[i]));
	}
	for (i = 0; i < n; i++) {
		char labels[sizeof(recs[i].l.labels) + 1];
		struct frow r = { .id = { recs[i].id }, .nid = 1, .labels = labels };

		snprintf(labels, sizeof(labels), "%.*s",
			 (int)strnlen(recs[i].l.labels, sizeof(recs[i].l.labels)), recs[i].l.labels);
		if ((get && recs[i].id != want) || !filter_match(&f, &r))
			continue;
		pt_uint(t, recs[i].id);
		pt_str(t, labels);
	}
	free(recs);
	if (get && !pt_rows(t)) {
		pt_free(t);
		err = pr_err_ret(-ENOENT, "%s: no such identity\n", get);
		goto out;
	}
	err = show(c, t);
out:
	filter_close(&f);
	return err;
}

const struct cmd identity_cmds[] = {
	{ "identity", "list", cmd_identity_show, 0, OPT_FILTERS, "[filters]",
	  "List the security identities: reserved ones, then one per label set.", NULL },
	{ "identity", "get", cmd_identity_show, 1, 0, "ID",
	  "Show identity ID (a number or reserved:NAME) and its labels.", NULL },
	{}
};
