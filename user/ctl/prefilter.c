// SPDX-License-Identifier: Apache-2.0
/* xcnictl prefilter list/add/del: the underlay's XDP deny list. */
#include "ctl/ctl.h"
#include "lib/policy/prefilter.h"

/* CIDR into p, or -EINVAL with the reason said (xcni_prefilter_parse). */
static int pf_arg_parse(const char *s, struct xcni_prefix *p)
{
	char why[192];

	if (xcni_prefilter_parse(s, p, why, sizeof(why)))
		return pr_err_ret(-EINVAL, "%s: %s\n", s, why);
	return 0;
}

/* A prefix that covers another node's underlay address (tunnel or tunnel6, by
 * p's family) drops its tunnel too: allowed (an operator may mean it), but said. */
static void prefilter_warn_nodes(const struct ctl_ctx *c, const struct xcni_prefix *p,
				 const char *arg)
{
	bool v6 = p->family == 6;
	struct xcni_in6 key, next, *prev = NULL; /* an IPv4 key in its first 4 bytes */
	struct xcni_tunnel tn;
	char buf[INET6_ADDRSTRLEN];
	int fd = map_open_quiet(c, v6 ? &m_tunnel6 : &m_tunnel);

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!xcni_prefix_has(p->addr, p->len, key.addr) ||
		    bpf_map_lookup_elem(fd, &key, &tn))
			continue;
		pr_warn("%s covers node %.*s (%s): the Geneve traffic it sends this node is "
			"dropped too\n", arg, (int)strnlen(tn.node, sizeof(tn.node)), tn.node,
			inet_ntop(v6 ? AF_INET6 : AF_INET, key.addr, buf, sizeof(buf)));
	}
	close(fd);
}

/* Puts key into trie m (fd): 0, or -errno said. NOEXIST: re-adding must not zero the
 * counters of an entry. */
static int trie_add(int fd, const struct map_spec *m, const void *key, const char *arg)
{
	struct xcni_prefilter_val v = {};
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	if (!bpf_map_update_elem(fd, key, &v, BPF_NOEXIST))
		return 0;
	err = -errno;
	if (err == -EEXIST)
		pr_err("%s: already on the deny list\n", arg);
	else if (err == -ENOSPC && !bpf_map_get_info_by_fd(fd, &info, &len))
		pr_err("%s: %s is full (%u entries); delete some, or build xcni with a larger "
		       "XCNI_MAX_PREFILTER%s\n", arg, m->name, info.max_entries,
		       m == &m_prefilter6 ? "6" : "");
	else
		pr_err("%s: adding to %s: %s\n", arg, m->name, strerror(-err));
	return err;
}

/* Takes key out of trie m (fd): 0, or -errno said. */
static int trie_del(int fd, const struct map_spec *m, const void *key, const char *arg)
{
	int err;

	/* An LPM trie deletes the exact prefix only: a /24 never takes its /25s. */
	if (!bpf_map_delete_elem(fd, key))
		return 0;
	err = -errno;
	if (err == -ENOENT)
		pr_err("%s: not on the deny list\n", arg);
	else
		pr_err("%s: deleting from %s: %s\n", arg, m->name, strerror(-err));
	return err;
}

/* IPv6 has its trie alone (no hashes in front): one map update either way. */
static int prefilter6_edit(const struct ctl_ctx *c, const struct xcni_prefix *p,
			   const struct xcni_prefilter6_key *k, const char *arg, bool add)
{
	int fd = map_open(c, &m_prefilter6), err;

	if (fd < 0)
		return fd;
	err = add ? trie_add(fd, &m_prefilter6, k, arg) : trie_del(fd, &m_prefilter6, k, arg);
	close(fd);
	if (!err && add)
		prefilter_warn_nodes(c, p, arg);
	return err;
}

enum { PF_TRIE, PF_16, PF_24, PF_NR_MAPS };

/* The IPv4 trie and its /16 and /24 marks, indexed as above: 0, or -errno with none open. */
static int pf4_open(const struct ctl_ctx *c, int fd[PF_NR_MAPS])
{
	const struct map_spec *m[PF_NR_MAPS] = { &m_prefilter, &m_pf16, &m_pf24 };

	for (int i = 0; i < PF_NR_MAPS; i++) {
		fd[i] = map_open(c, m[i]);
		if (fd[i] < 0) {
			int err = fd[i];

			while (i--)
				close(fd[i]);
			return err;
		}
	}
	return 0;
}

/*
 * prefilter add or del CIDR. IPv4: the marks are set before the trie entry
 * (the XDP program never finds the trie ahead of them) and cleared after it
 * (a stale mark only costs a trie lookup).
 */
static int prefilter_edit(const struct ctl_ctx *c, const char *arg, bool add)
{
	/* The map keys: both a length, then the address (an IPv4 one in its first 4 bytes). */
	union {
		struct xcni_prefilter_key k4;
		struct xcni_prefilter6_key k6;
	} k;
	_Static_assert(offsetof(struct xcni_prefilter_key, addr) ==
		       offsetof(struct xcni_prefilter6_key, addr), "one key for both tries");
	struct xcni_prefix p;
	int fd[PF_NR_MAPS], err;

	err = pf_arg_parse(arg, &p);
	if (err)
		return err;
	k.k6.prefixlen = p.len;
	memcpy(k.k6.addr, p.addr, sizeof(k.k6.addr));
	if (p.family == 6)
		return prefilter6_edit(c, &p, &k.k6, arg, add);
	err = pf4_open(c, fd);
	if (err)
		return err;
	if (add && (err = xcni_prefilter_mark(fd[PF_16], fd[PF_24], &k.k4, 1)))
		pr_err("%s: marking its networks in %s/%s: %s\n", arg, m_pf16.name,
		       m_pf24.name, strerror(-err));
	else if (add && (err = trie_add(fd[PF_TRIE], &m_prefilter, &k.k4, arg)))
		xcni_prefilter_mark(fd[PF_16], fd[PF_24], &k.k4, -1);
	else if (add)
		prefilter_warn_nodes(c, &p, arg);
	else if (!(err = trie_del(fd[PF_TRIE], &m_prefilter, &k.k4, arg)) &&
		 (err = xcni_prefilter_mark(fd[PF_16], fd[PF_24], &k.k4, -1)))
		pr_err("%s: unmarking its networks: %s\n", arg, strerror(-err));
	for (int i = 0; i < PF_NR_MAPS; i++)
		close(fd[i]);
	return err;
}

/*
 * After the lists' write, the XDP NodePort flow cache's generation: a hit
 * skips the prefilter (bpf/lib/nodeport_cache.h), so a source listed
 * mid-flow is dropped from its next packet on. No map: no XDP fast path.
 */
static int prefilter_change(const struct ctl_ctx *c, const char *arg, bool add)
{
	int err = prefilter_edit(c, arg, add), fd;

	if (err || (fd = map_open_quiet(c, &m_npgen)) == -ENOENT)
		return err;
	if (fd >= 0) {
		err = xcni_npgen_bump(fd);
		close(fd);
	} else {
		err = fd;
	}
	if (err)
		pr_err("%s: %s: %s (the XDP flow cache keeps its flows up to a second)\n", arg,
		       m_npgen.name, strerror(-err));
	return err;
}

static int cmd_prefilter_add(const struct ctl_ctx *c, char **argv)
{
	return prefilter_change(c, argv[0], true);
}

static int cmd_prefilter_del(const struct ctl_ctx *c, char **argv)
{
	return prefilter_change(c, argv[0], false);
}

static const struct pt_col prefilter_cols[] = {
	{ "CIDR", "cidr", PT_STR },
	{ "PACKETS", "packets", PT_UINT },
	{ "BYTES", "bytes", PT_UINT },
};

struct prefilter_rec {
	struct xcni_prefilter_key k;
	struct xcni_prefilter_val v;
};

struct prefilter6_rec {
	struct xcni_prefilter6_key k;
	struct xcni_prefilter_val v;
};

/* One entry (rec: a prefilter_rec or prefilter6_rec) of family fam. */
static void prefilter_row(struct ptable *t, __u8 fam, const void *rec, void *arg)
{
	const struct prefilter6_rec *r6 = rec;
	const struct prefilter_rec *r4 = rec;
	bool v6 = fam == XCNI_AF_INET6;
	struct xcni_prefix p = { .family = v6 ? 6 : 4,
				 .len = (uint8_t)(v6 ? r6->k.prefixlen : r4->k.prefixlen) };
	const struct xcni_prefilter_val *v = v6 ? &r6->v : &r4->v;
	char buf[INET6_ADDRSTRLEN + 8];

	(void)arg;
	memcpy(p.addr, v6 ? (const void *)r6->k.addr : (const void *)&r4->k.addr, v6 ? 16 : 4);
	pt_str(t, xcni_prefix_str(&p, buf, sizeof(buf)));
	pt_uint(t, v->packets);
	pt_uint(t, v->bytes);
}

/* IPv4 prefixes, then IPv6 (maps of an agent from before IPv6 have no xcni_prefilter6). */
static int cmd_prefilter_list(const struct ctl_ctx *c, char **argv)
{
	static const struct fam_map m[2] = {
		FAM_MAP(m_prefilter, prefilter_rec, k, v, prefix_cmp, XCNI_AF_INET),
		FAM_MAP(m_prefilter6, prefilter6_rec, k, v, prefix6_cmp, XCNI_AF_INET6),
	};
	struct ptable *t = pt_new(prefilter_cols, ARRAY_SIZE(prefilter_cols), 0);

	(void)argv;
	_Static_assert(sizeof(struct xcni_prefilter_key) == sizeof(struct xcni_ipcache_key) &&
		       offsetof(struct xcni_prefilter_key, addr) ==
			       offsetof(struct xcni_ipcache_key, addr) &&
		       sizeof(struct xcni_prefilter6_key) == sizeof(struct xcni_ipcache6_key) &&
		       offsetof(struct xcni_prefilter6_key, addr) ==
			       offsetof(struct xcni_ipcache6_key, addr),
		       "prefilter keys sort like ipcache keys");
	return show_read(c, t, fam_rows(c, t, m, prefilter_row, NULL));
}

const struct cmd prefilter_cmds[] = {
	{ "prefilter", "list", cmd_prefilter_list, 0, 0, "",
	  "List the underlay's prefilter deny list, with what each entry dropped.", NULL },
	{ "prefilter", "add", cmd_prefilter_add, 1, 0, "CIDR",
	  "Add a source prefix to the underlay's deny list.\n\n"
	  "CIDR: A.B.C.D[/LEN] or ADDRESS/LEN for IPv6 (no LEN: one address). Host bits\n"
	  "must be zero: 10.1.2.3/24 is refused, not widened.", NULL },
	{ "prefilter", "del", cmd_prefilter_del, 1, 0, "CIDR",
	  "Remove a source prefix from the underlay's deny list.", NULL },
	{}
};
