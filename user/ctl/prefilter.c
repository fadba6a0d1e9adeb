// SPDX-License-Identifier: Apache-2.0
/* xcnictl prefilter list/add/del: the underlay's XDP deny list. */
#include "ctl.h"
#include "lib/prefilter.h"

/*
 * "A.B.C.D/LEN", or a bare address for /32, into a prefilter key. Host bits
 * are refused rather than cleared: "10.1.2.3/24" may mean the /32 as well as
 * the /24, and guessing wide on a deny list cuts off whole subnets. /0 is
 * refused too: it would drop everything the underlay receives, the other
 * nodes' Geneve included.
 */
static int parse_cidr(const char *s, struct xcni_prefilter_key *k)
{
	const char *sl = strchr(s, '/');
	size_t alen = sl ? (size_t)(sl - s) : strlen(s);
	char addr[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	unsigned long len = 32;
	struct in_addr a;
	__u32 host;

	if (strchr(s, ':')) {
		pr_err("%s: IPv6 is not supported: the underlay prefilter is IPv4 only\n", s);
		return -EINVAL;
	}
	if (alen < sizeof(addr)) {
		memcpy(addr, s, alen);
		addr[alen] = '\0';
	}
	if (alen >= sizeof(addr) || inet_pton(AF_INET, addr, &a) != 1) {
		pr_err("%s: not an IPv4 prefix (A.B.C.D/LEN)\n", s);
		return -EINVAL;
	}
	if (sl) {
		if (parse_uint(sl + 1, 32, &len)) {
			pr_err("%s: bad prefix length \"%s\" (1 to 32)\n", s, sl + 1);
			return -EINVAL;
		}
	}
	if (!len) {
		pr_err("%s: a /0 would drop every packet the underlay receives, the other nodes' "
		       "Geneve included; refused\n", s);
		return -EINVAL;
	}
	host = ntohl(a.s_addr);
	if (host & ~xcni_prefix_mask(len)) {
		__u32 n = htonl(host & xcni_prefix_mask(len));

		pr_err("%s: host bits set: the /%lu network is %s/%lu (or give %s/32 for the one "
		       "address)\n", s, len, ip_str(n, net), len, addr);
		return -EINVAL;
	}
	k->prefixlen = len;
	k->addr = a.s_addr;
	return 0;
}

/* A prefix that covers another node's underlay address drops its tunnel too:
 * allowed (an operator may mean it), but said. */
static void prefilter_warn_nodes(const struct ctx *c, const struct xcni_prefilter_key *k,
				 const char *arg)
{
	__u32 key, next, *prev = NULL, mask = xcni_prefix_mask(k->prefixlen);
	struct xcni_tunnel tn;
	char buf[INET_ADDRSTRLEN];
	int fd = map_open_quiet(c, &m_tunnel);

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if ((ntohl(key) & mask) != ntohl(k->addr) || bpf_map_lookup_elem(fd, &key, &tn))
			continue;
		pr_warn("%s covers node %.*s (%s): the Geneve traffic it sends this node is "
			"dropped too\n", arg, (int)strnlen(tn.node, sizeof(tn.node)), tn.node,
			ip_str(key, buf));
	}
	close(fd);
}

static int cmd_prefilter_add(const struct ctx *c, char **argv)
{
	struct xcni_prefilter_key k;
	struct xcni_prefilter_val v = {};
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, fd16 = -1, fd24 = -1, err;

	err = parse_cidr(argv[0], &k);
	if (err)
		return err;
	fd = map_open(c, &m_prefilter);
	if (fd < 0)
		return fd;
	if ((fd16 = map_open(c, &m_pf16)) < 0 || (fd24 = map_open(c, &m_pf24)) < 0) {
		err = fd16 < 0 ? fd16 : fd24;
		goto close;
	}
	/* The marks first: the XDP program never finds the trie ahead of them. */
	err = xcni_prefilter_mark(fd16, fd24, &k, 1);
	if (err) {
		pr_err("%s: marking its networks in %s/%s: %s\n", argv[0], m_pf16.name,
		       m_pf24.name, strerror(-err));
		goto close;
	}
	/* NOEXIST: re-adding must not zero the counters of an entry. */
	if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
		err = -errno;
		if (err == -EEXIST)
			pr_err("%s: already on the deny list\n", argv[0]);
		else if (err == -ENOSPC && !bpf_map_get_info_by_fd(fd, &info, &len))
			pr_err("%s: %s is full (%u entries); delete some, or build xcni with a "
			       "larger XCNI_MAX_PREFILTER\n", argv[0], m_prefilter.name,
			       info.max_entries);
		else
			pr_err("%s: adding to %s: %s\n", argv[0], m_prefilter.name, strerror(-err));
		xcni_prefilter_mark(fd16, fd24, &k, -1);
		goto close;
	}
	prefilter_warn_nodes(c, &k, argv[0]);
close:
	if (fd16 >= 0)
		close(fd16);
	if (fd24 >= 0)
		close(fd24);
	close(fd);
	return err;
}

static int cmd_prefilter_del(const struct ctx *c, char **argv)
{
	struct xcni_prefilter_key k;
	int fd, fd16 = -1, fd24 = -1, err;

	err = parse_cidr(argv[0], &k);
	if (err)
		return err;
	fd = map_open(c, &m_prefilter);
	if (fd < 0)
		return fd;
	if ((fd16 = map_open(c, &m_pf16)) < 0 || (fd24 = map_open(c, &m_pf24)) < 0) {
		err = fd16 < 0 ? fd16 : fd24;
		goto close;
	}
	/* An LPM trie deletes the exact prefix only: a /24 never takes its /25s. */
	if (bpf_map_delete_elem(fd, &k)) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("%s: not on the deny list\n", argv[0]);
		else
			pr_err("%s: deleting from %s: %s\n", argv[0], m_prefilter.name,
			       strerror(-err));
		goto close;
	}
	/* The marks after the entry: a stale mark only costs a trie lookup. */
	err = xcni_prefilter_mark(fd16, fd24, &k, -1);
	if (err)
		pr_err("%s: unmarking its networks: %s\n", argv[0], strerror(-err));
close:
	if (fd16 >= 0)
		close(fd16);
	if (fd24 >= 0)
		close(fd24);
	close(fd);
	return err;
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

static int prefilter_cmp(const void *a, const void *b)
{
	return prefix_cmp(a, b); /* the same {prefixlen, addr} layout */
}

static int cmd_prefilter_list(const struct ctx *c, char **argv)
{
	struct prefilter_rec *recs = NULL;
	struct ptable *t;
	char buf[INET_ADDRSTRLEN];
	size_t n, i;
	int fd, err;

	(void)argv;
	_Static_assert(sizeof(struct xcni_prefilter_key) == sizeof(struct xcni_ipcache_key) &&
		       offsetof(struct xcni_prefilter_key, addr) ==
			       offsetof(struct xcni_ipcache_key, addr),
		       "prefilter keys sort like ipcache keys");
	fd = map_open(c, &m_prefilter);
	if (fd < 0)
		return fd;
	err = map_collect(fd, &m_prefilter, sizeof(*recs), offsetof(struct prefilter_rec, k),
			  offsetof(struct prefilter_rec, v), (void **)&recs, &n);
	close(fd);
	if (err)
		return err;
	n = sort_unique(recs, n, sizeof(*recs), prefilter_cmp);
	t = pt_new(prefilter_cols, ARRAY_SIZE(prefilter_cols), 0);
	for (i = 0; i < n; i++) {
		pt_strf(t, "%s/%u", ip_str(recs[i].k.addr, buf), recs[i].k.prefixlen);
		pt_uint(t, recs[i].v.packets);
		pt_uint(t, recs[i].v.bytes);
	}
	free(recs);
	return show(c, t);
}

const struct cmd prefilter_cmds[] = {
	{ "prefilter", "list", cmd_prefilter_list, 0, 0, "",
	  "List the underlay's prefilter deny list, with what each entry dropped.\n\n"
	  "Packets from a listed source are dropped in XDP on the underlay device,\n"
	  "before the stack sees them. PACKETS and BYTES count per entry (the longest\n"
	  "matching prefix).", NULL },
	{ "prefilter", "add", cmd_prefilter_add, 1, 0, "CIDR",
	  "Add a source prefix to the underlay's deny list.\n\n"
	  "CIDR is A.B.C.D/LEN (LEN 1 to 32) or A.B.C.D (a /32). Host bits must be\n"
	  "zero: 10.1.2.3/24 is refused, not widened to 10.1.2.0/24. Fails if the\n"
	  "prefix is listed already (its counters stay) or the list is full. Warns\n"
	  "when the prefix covers another node's underlay address.", NULL },
	{ "prefilter", "del", cmd_prefilter_del, 1, 0, "CIDR",
	  "Remove a source prefix from the underlay's deny list.\n\n"
	  "Exactly that prefix: deleting a /24 leaves /25s inside it listed. Fails\n"
	  "if the prefix is not listed.", NULL },
	{}
};
