// SPDX-License-Identifier: Apache-2.0
/* xcnictl ipcache list/get: address prefix -> identity, the pod, the tunnel. */
#include "ctl/ctl.h"

static const struct pt_col ipcache_cols[] = {
	{ "PREFIX", "prefix", PT_STR },
	{ "IDENTITY", "identity", PT_UINT },
	{ "POD", "pod", PT_STR },
	{ "TUNNEL", "tunnel", PT_STR },
};

struct ipc_rec {
	struct xcni_ipcache_key k;
	struct xcni_ipcache_val v;
};

struct ipc6_rec {
	struct xcni_ipcache6_key k;
	struct xcni_ipcache_val v;
};

struct ipc_list {
	const struct filter *f;
	const struct ctl_addr *want; /* ipcache get's IP; NULL: list */
	int pfd; /* xcni_podname; -1: none */
	struct polkey6_maps k6;
	__u8 best_fam; /* get: the family of best, 0 until a prefix holds want */
	struct ipc6_rec best; /* get: the longest prefix holding want so far */
};

_Static_assert(offsetof(struct xcni_ipcache_key, addr) == 4 &&
		       offsetof(struct xcni_ipcache6_key, addr) == 4,
	       "ipcache keys: the prefix length, then the address");

/* The cells of one entry (rec: an ipc_rec or ipc6_rec), and its values. */
static void ipc_cells(struct ptable *t, const struct ipc_list *l, __u8 fam, const void *rec)
{
	const struct xcni_ipcache_val *v = fam == XCNI_AF_INET6 ? &((const struct ipc6_rec *)rec)->v :
								   &((const struct ipc_rec *)rec)->v;
	const __u8 *addr = (const __u8 *)rec + 4;
	char buf[INET6_ADDRSTRLEN + 4], pod[340];
	__u32 plen;

	memcpy(&plen, rec, 4);
	pt_str(t, xcni_cidr_str(fam == XCNI_AF_INET6 ? AF_INET6 : AF_INET, addr, plen, buf,
				sizeof(buf)));
	pt_uint(t, v->identity);
	pt_str(t, plen == fam_len(fam) * 8 && pod_of_addr(l->pfd, &l->k6, fam, addr, pod, sizeof(pod)) ?
		  pod : xcni_reserved_identity(v->identity));
	pt_str(t, tunnel_str(v, buf) ? buf : NULL);
}

/* list: an entry passing the filters; get: kept if the longest prefix holding want yet. */
static void ipc_row(struct ptable *t, __u8 fam, const void *rec, void *arg)
{
	struct ipc_list *l = arg;
	const struct xcni_ipcache_val *v = fam == XCNI_AF_INET6 ? &((const struct ipc6_rec *)rec)->v :
								   &((const struct ipc_rec *)rec)->v;
	const __u8 *addr = (const __u8 *)rec + 4;
	struct frow r = { .id = { v->identity }, .nid = 1 };
	__u32 plen;

	memcpy(&plen, rec, 4);
	if (l->want) {
		/* An IPv4 address in the first 4 bytes of want's. */
		if (l->want->family == fam && xcni_prefix_has(addr, plen, l->want->addr) &&
		    (!l->best_fam || plen > l->best.k.prefixlen)) {
			memcpy(&l->best, rec, fam == XCNI_AF_INET6 ? sizeof(struct ipc6_rec) :
								    sizeof(struct ipc_rec));
			l->best_fam = fam;
		}
		return;
	}
	frow_addr(&r, fam, addr, plen);
	if (filter_match(l->f, &r))
		ipc_cells(t, l, fam, rec);
}

/*
 * ipcache list (get NULL), and ipcache get IP: the entry the programs' lookup
 * finds for IP, the longest prefix holding it (an IPv6 IP: in the ipcache6).
 */
static int cmd_ipcache_show(const struct ctl_ctx *c, char **argv)
{
	const char *get = argv[0]; /* list and get: argv ends in NULL, list's at [0] */
	static const struct fam_map m[2] = {
		FAM_MAP(m_ipcache, ipc_rec, k, v, prefix_cmp, XCNI_AF_INET),
		FAM_MAP(m_ipcache6, ipc6_rec, k, v, prefix6_cmp, XCNI_AF_INET6),
	};
	struct ctl_addr want;
	struct ipc_list l = { .want = get ? &want : NULL };
	struct ptable *t;
	struct filter f;
	int err;

	if (get && parse_ip_any(get, &want))
		return pr_err_ret(-EINVAL, "\"%s\": not an IPv4 or IPv6 address\n", get);
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	l.f = &f;
	l.pfd = map_open_quiet(c, &m_podname);
	polsync_key6_open(&l.k6, c->pin_dir, ctl_map_open);
	t = pt_new(ipcache_cols, ARRAY_SIZE(ipcache_cols), get ? PT_RECORD : 0);
	err = fam_rows(c, t, m, ipc_row, &l);
	if (!err && get && !l.best_fam) {
		err = pr_err_ret(-ENOENT, "%s: no %s entry holds it (the data plane sees "
				 "reserved:world)\n", get,
				 want.family == XCNI_AF_INET6 ? "ipcache6" : "ipcache");
	} else if (!err && get) {
		ipc_cells(t, &l, l.best_fam, &l.best);
	}
	polsync_key6_close(&l.k6);
	xcni_close(&l.pfd);
	filter_close(&f);
	return show_read(c, t, err);
}

const struct cmd ipcache_cmds[] = {
	{ "ipcache", "list", cmd_ipcache_show, 0, OPT_FILTERS, "[filters]",
	  "List the ipcache: address prefix -> identity (and the pod it is).", NULL },
	{ "ipcache", "get", cmd_ipcache_show, 1, 0, "IP",
	  "Show the ipcache entry the data plane finds for IP (IPv4 or IPv6).", NULL },
	{}
};
