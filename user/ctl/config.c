// SPDX-License-Identifier: Apache-2.0
/* xcnictl config [set]: the node configuration xcnid wrote, and its live event settings. */
#include <linux/if_link.h>
#include <net/if.h>
#include <bpf/btf.h>

#include "ctl/ctl.h"
#include "lib/system/bpfpin.h"

static const struct pt_col config_cols[] = {
	{ "ABI-VERSION", "abi_version", PT_UINT },
	{ "FLAGS", "flags", PT_HEX },
	{ "NODE-NAME", "node_name", PT_STR },
	{ "POD-CIDR", "pod_cidr", PT_STR },
	/* The config record's pod_cidr6 (ABI 17), beside the IPv4 range. */
	{ "POD-CIDR6", "pod_cidr6", PT_STR },
	{ "STARTED-NS", "started_ns", PT_UINT },
	{ "UPTIME", "uptime_s", PT_UINT },
	{ "APPLIED-GEN", "applied_gen", PT_UINT },
	{ "FAILED-GEN", "failed_gen", PT_UINT },
	{ "ERROR", "error", PT_STR },
	{ "IDENTITIES", "identities", PT_UINT },
	{ "POLICIES", "policies", PT_UINT },
	{ "POLICY-PODS", "policy_pods", PT_UINT },
	{ "NODE-IP", "node_ip", PT_STR },
	/* A node on both underlay families (mixed clusters): its IPv6 address too. */
	{ "NODE-IP6", "node_ip6", PT_STR },
	/* Which underlay reaches a node of both families (xcnid --tunnel-family):
	 * auto (IPv4) or ipv6; none without an overlay. */
	{ "TUNNEL-FAMILY", "tunnel_family", PT_STR },
	{ "UNDERLAY-IFINDEX", "underlay_ifindex", PT_UINT },
	{ "UNDERLAY-DEV", "underlay_dev", PT_STR },
	{ "VNI", "vni", PT_UINT },
	{ "UNDERLAY-MTU", "underlay_mtu", PT_UINT },
	{ "POD-MTU", "pod_mtu", PT_UINT },
	{ "XDP-MODE", "xdp_mode", PT_STR },
	{ "TRACE-SAMPLE", "trace_sample", PT_UINT },
	{ "EVENTS-RATE", "events_rate", PT_UINT },
	{ "SERVICE-CIDR", "service_cidr", PT_STR },
	/* The config record's svc_cidr6 (ABI 17), beside the IPv4 range. */
	{ "SERVICE-CIDR6", "service_cidr6", PT_STR },
	/* From from_overlay's read-only data (lb_enabled, lb_dsr): snat or dsr; none
	 * without Services in BPF on an underlay. */
	{ "NODE-PORT-MODE", "node_port_mode", PT_STR },
	/* xcni_polrev: one more after each policy change xcnid applied. */
	{ "POLICY-REV", "policy_rev", PT_UINT },
	/* The NodePort fast path at XDP (xcnid --nodeport-acceleration) as attached. */
	{ "NODEPORT-ACCEL", "nodeport_acceleration", PT_STR },
	/* Where Geneve from the nodes is taken apart (xcnid --overlay-decap), as
	 * the underlay's programs run: ctl_overlay_decap. */
	{ "OVERLAY-DECAP", "overlay_decap", PT_STR },
};

/* How xcnid attached the prefilter: the XDP_FLAGS_* mode it wrote. */
static const char *xdp_mode_name(__u32 mode)
{
	switch (mode) {
	case 0:
		return "none";
	case XDP_FLAGS_DRV_MODE:
		return "native";
	case XDP_FLAGS_SKB_MODE:
		return "generic";
	case XDP_FLAGS_HW_MODE:
		return "offload";
	case XCNI_XDP_MODE_TC:
		return "tc";
	}
	return NULL;
}

/*
 * One of the underlay's programs where xcnid attached it without a pinned
 * link (tc clsact for from_overlay; XDP through netlink, as --attach tc or
 * Linux < 5.9 has it): found by the ifindex xcni_config records, so only
 * from xcnid's network namespace. Its fd, or -1.
 */
static int underlay_prog(const char *pin_dir, bool xdp)
{
	struct xcni_config cfg;
	char path[PATH_MAX];
	__u32 k = 0;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/xcni_config", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	ok = !bpf_map_lookup_elem(fd, &k, &cfg) && cfg.underlay_ifindex;
	close(fd);
	if (!ok)
		return -1;
	if (xdp) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		ok = !bpf_xdp_query((int)cfg.underlay_ifindex, 0, &q) && q.prog_id;
		return ok ? bpf_prog_get_fd_by_id(q.prog_id) : -1;
	}
	{
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)cfg.underlay_ifindex,
				    .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = XCNI_TC_HANDLE,
				    .priority = XCNI_TC_PRIO);
		libbpf_print_fn_t print = libbpf_set_print(NULL);

		ok = !bpf_tc_query(&hook, &o);
		libbpf_set_print(print);
		return ok ? bpf_prog_get_fd_by_id(o.prog_id) : -1;
	}
}

/*
 * The variables vars[] of a loaded program's data section sec (".rodata",
 * ".bss"), of the program of the link pinned as links/LINK under pin_dir (or,
 * without it, the underlay's program found by its hook), into out[] (sizes
 * len[]), found by name in the map's BTF. 0, or -ENOENT when the program,
 * its section or a variable is not there.
 */
static int prog_vars(const char *pin_dir, const char *link, const char *sec,
		     const char *const *vars, void **out, const size_t *len, size_t nvars)
{
	struct bpf_prog_info pi = {};
	/* Every map the program uses (at most 64, the kernel's MAX_USED_MAPS): with
	 * 16, xdp_underlay's .bss fell past the end once it used more. */
	__u32 ids[64], plen = sizeof(pi), zero = 0;
	char path[PATH_MAX];
	size_t found = 0;
	int lfd, pfd, err = -ENOENT;

	snprintf(path, sizeof(path), "%s/" XCNI_PIN_LINKS "/%s", pin_dir, link);
	lfd = bpf_obj_get(path);
	/* No link: the agent took the older path (tc clsact, netlink XDP). */
	pfd = lfd < 0 ? underlay_prog(pin_dir, !strcmp(link, XCNI_LINK_UNDERLAY_XDP)) : -1;
	if (lfd >= 0) {
		/* A link's info names its program; the program's names its maps. */
		struct bpf_link_info li = {};
		__u32 llen = sizeof(li);

		pfd = bpf_link_get_info_by_fd(lfd, &li, &llen) ? -1 :
								  bpf_prog_get_fd_by_id(li.prog_id);
		close(lfd);
	}
	if (pfd < 0)
		return -ENOENT;
	pi.nr_map_ids = ARRAY_SIZE(ids);
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &pi, &plen))
		goto close;
	for (__u32 i = 0; i < pi.nr_map_ids && i < ARRAY_SIZE(ids) && err; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		const struct btf_type *t;
		const struct btf_var_secinfo *v;
		struct btf *btf = NULL;
		char *val = NULL;
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		found = 0;
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) || mi.type != BPF_MAP_TYPE_ARRAY ||
		    !strstr(mi.name, sec) || !mi.btf_id || !mi.btf_value_type_id ||
		    !(btf = btf__load_from_kernel_by_id(mi.btf_id)) ||
		    !(t = btf__type_by_id(btf, mi.btf_value_type_id)) || !btf_is_datasec(t) ||
		    !(val = malloc(mi.value_size)) || bpf_map_lookup_elem(mfd, &zero, val))
			goto next;
		v = btf_var_secinfos(t);
		for (__u16 j = 0; j < btf_vlen(t); j++, v++) {
			const char *name = btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off);

			for (size_t k = 0; name && k < nvars; k++)
				if (!strcmp(name, vars[k]) && v->size == len[k] &&
				    v->offset + v->size <= mi.value_size) {
					memcpy(out[k], val + v->offset, len[k]);
					found++;
				}
		}
		if (found == nvars)
			err = 0;
next:
		free(val);
		btf__free(btf);
		close(mfd);
	}
close:
	close(pfd);
	return err;
}

/* An IPv6 range of the config record (ABI 17) as ADDR/LEN, or NULL for none. */
static const char *cidr6_str(const __u8 net[16], __u8 len, char *buf, size_t buflen)
{
	return len && len <= 128 ? xcni_cidr_str(AF_INET6, net, len, buf, buflen) : NULL;
}

int ctl_node_port_dsr(const char *pin_dir, bool *dsr)
{
	static const char *const vars[] = { "lb_dsr" };
	static const size_t lens[] = { 4 };
	__u32 v = 0;
	void *out[] = { &v };
	int err;

	err = prog_vars(pin_dir, XCNI_LINK_UNDERLAY_IN, ".rodata", vars, out, lens, 1);
	if (!err)
		*dsr = v != 0;
	return err;
}

const char *ctl_tunnel_family(const struct xcni_config *cfg)
{
	if (!cfg->underlay_ifindex)
		return NULL;
	return cfg->flags & XCNI_CFG_F_TUN6 ? "ipv6" : "auto";
}

const char *ctl_overlay_decap(const char *pin_dir, bool *torn)
{
	static const char *const in_vars[] = { "vni", "decap_cookie" };
	static const char *const xdp_vars[] = { "decap_cookie_xdp" };
	static const size_t in_lens[] = { 4, 8 }, xdp_lens[] = { 8 };
	__u32 vni = 0, want[2] = {}, run[2] = {};
	void *in_out[] = { &vni, want }, *xdp_out[] = { run };
	int err;

	*torn = false;
	err = prog_vars(pin_dir, XCNI_LINK_UNDERLAY_IN, ".rodata", in_vars, in_out, in_lens, 2);
	if (err) /* a from_overlay older than the switch decapsulates in tc */
		return prog_vars(pin_dir, XCNI_LINK_UNDERLAY_IN, ".rodata", in_vars, in_out, in_lens,
				 1) ? NULL : "tc";
	if (!(want[0] | want[1]))
		return "tc";
	/* xcnid writes xdp_underlay's cookie only once it runs native. */
	if (prog_vars(pin_dir, XCNI_LINK_UNDERLAY_XDP, ".bss", xdp_vars, xdp_out, xdp_lens, 1) ||
	    !(run[0] | run[1]))
		return "tc (xdp asked, XDP not native)";
	*torn = run[0] != want[0] || run[1] != want[1];
	return "xdp";
}

/* How this node answers NodePort clients through another node's backend:
 * "snat", "dsr", or NULL (no overlay, or Services not in BPF). */
static const char *node_port_mode(const char *pin_dir)
{
	static const char *const vars[] = { "lb_enabled", "lb_dsr" };
	static const size_t lens[] = { 4, 4 };
	__u32 lb = 0, dsr = 0;
	void *out[] = { &lb, &dsr };

	if (prog_vars(pin_dir, XCNI_LINK_UNDERLAY_IN, ".rodata", vars, out, lens, 2) || !lb)
		return NULL;
	return dsr ? "dsr" : "snat";
}

/* The node's columns: ABI, name, pod CIDRs, start, generations, policy counts. */
static void config_node_cols(struct ptable *t, const struct xcni_config *cfg)
{
	char buf[INET_ADDRSTRLEN], pod6[INET6_ADDRSTRLEN + 12];

	pt_uint(t, cfg->abi_version);
	pt_uint(t, cfg->flags);
	pt_strf(t, "%.*s", (int)strnlen(cfg->node_name, sizeof(cfg->node_name)), cfg->node_name);
	/* An IPv6-only node has no IPv4 pod CIDR: none, not 0.0.0.0/0. */
	if (cfg->pod_cidr_len)
		pt_strf(t, "%s/%u", xcni_ip4_str(cfg->pod_cidr, buf), cfg->pod_cidr_len);
	else
		pt_null(t);
	pt_str(t, cidr6_str(cfg->pod_cidr6, cfg->pod_cidr6_len, pod6, sizeof(pod6)));
	if (cfg->started_ns) {
		pt_uint(t, cfg->started_ns);
		pt_uint(t, secs_since(xcni_mono_ns(), cfg->started_ns));
	} else {
		pt_nulls(t, 2);
	}
	pt_uint(t, cfg->applied_gen);
	pt_uint(t, cfg->failed_gen);
	pt_field(t, cfg->error, sizeof(cfg->error));
	pt_uint(t, cfg->nr_identities);
	pt_uint(t, cfg->nr_policies);
	pt_uint(t, cfg->nr_endpoints_policy);
}

/* The underlay's columns: addresses, device, VNI, MTUs, XDP mode. */
static void config_underlay_cols(struct ptable *t, const struct xcni_config *cfg)
{
	/* No overlay (no --underlay-dev): no address and no device, not "0.0.0.0".
	 * The IPv6 underlay (ABI 9): its address, node_ip6, in the same column;
	 * NODE-IP6 is node_ip6 whatever the IPv4 one (a node on both families). */
	static const __u8 none6[16];
	char buf[INET_ADDRSTRLEN], buf6[INET6_ADDRSTRLEN];

	if (cfg->node_ip)
		pt_str(t, xcni_ip4_str(cfg->node_ip, buf));
	else if (memcmp(cfg->node_ip6, none6, 16))
		pt_str(t, inet_ntop(AF_INET6, cfg->node_ip6, buf6, sizeof(buf6)));
	else
		pt_null(t);
	pt_str(t, memcmp(cfg->node_ip6, none6, 16) ?
		  inet_ntop(AF_INET6, cfg->node_ip6, buf6, sizeof(buf6)) : NULL);
	pt_str(t, ctl_tunnel_family(cfg));
	if (cfg->underlay_ifindex) {
		char ifname[IF_NAMESIZE];

		pt_uint(t, cfg->underlay_ifindex);
		/* Only resolvable from xcnid's network namespace. */
		pt_str(t, if_indextoname(cfg->underlay_ifindex, ifname));
	} else {
		pt_nulls(t, 2);
	}
	pt_uint(t, cfg->vni);
	pt_uint(t, cfg->underlay_mtu);
	pt_uint(t, cfg->pod_mtu);
	pt_name(t, xdp_mode_name(cfg->xdp_mode), "0x%x", cfg->xdp_mode);
}

/* Events, the Service CIDRs and NodePort mode, the policy revision, the fast path. */
static void config_svc_cols(struct ptable *t, const struct ctl_ctx *c,
			    const struct xcni_config *cfg)
{
	char buf[INET_ADDRSTRLEN], svc6[INET6_ADDRSTRLEN + 12];
	__u32 zero = 0, rev = 0;
	int rfd;

	pt_uint(t, cfg->trace_sample);
	pt_uint(t, cfg->events_rate);
	if (cfg->svc_cidr_len)
		pt_strf(t, "%s/%u", xcni_ip4_str(cfg->svc_cidr, buf), cfg->svc_cidr_len);
	else
		pt_null(t);
	pt_str(t, cidr6_str(cfg->svc_cidr6, cfg->svc_cidr6_len, svc6, sizeof(svc6)));
	pt_str(t, node_port_mode(c->pin_dir));
	rfd = map_open_quiet(c, &m_polrev);
	if (rfd >= 0 && !bpf_map_lookup_elem(rfd, &zero, &rev))
		pt_uint(t, rev);
	else
		pt_null(t);
	xcni_close(&rfd);
	/* How the NodePort fast path is attached. */
	pt_str(t, cfg->np_accel == XCNI_NPA_NATIVE ? "native" :
		  cfg->np_accel == XCNI_NPA_GENERIC ? "generic" : "off");
}

static int cmd_config(const struct ctl_ctx *c, char **argv)
{
	struct xcni_config cfg;
	struct ptable *t;
	bool torn;
	int err;

	(void)argv;
	err = ctl_config_read(c, &cfg);
	if (err)
		return err;
	if (cfg.abi_version != XCNI_ABI_VERSION)
		pr_warn("%s: written by ABI version %u, xcnictl speaks %u%s\n", m_config.name,
			cfg.abi_version, XCNI_ABI_VERSION,
			cfg.abi_version ? "" : " (xcnid has not written it yet?)");
	t = pt_new(config_cols, ARRAY_SIZE(config_cols), PT_RECORD);
	config_node_cols(t, &cfg);
	config_underlay_cols(t, &cfg);
	config_svc_cols(t, c, &cfg);
	pt_str(t, ctl_overlay_decap(c->pin_dir, &torn)); /* none without an overlay */
	return show(c, t);
}

/* The settings `config set` may change: the ones the programs read per packet. */
static const struct config_key {
	const char *name;
	size_t off; /* of a __u32 in struct xcni_config */
} config_keys[] = {
	{ "trace-sample", offsetof(struct xcni_config, trace_sample) },
	{ "events-rate", offsetof(struct xcni_config, events_rate) },
};

static const struct config_key *config_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (!strcmp(name, config_keys[i].name))
			return &config_keys[i];
	return NULL;
}

/* Usage check (exit 2): a known key and a number that fits. */
static int check_config_set(char **argv)
{
	unsigned long v;

	if (!config_key(argv[0]))
		return pr_err_ret(-EINVAL, "config set %s: no such setting (trace-sample, "
				  "events-rate)\n", argv[0]);
	if (parse_uint(argv[1], UINT32_MAX, &v))
		return pr_err_ret(-EINVAL, "config set %s %s: not a number (0 to %u)\n", argv[0],
				  argv[1], UINT32_MAX);
	return 0;
}

/*
 * Changes one setting in place. xcnid rewrites the config only at start (from
 * its options) and when it records a generation, where it keeps these fields:
 * the new value holds until xcnid restarts. Both rewrite the whole value, each
 * under the pin directory's lock, so neither loses what the other wrote.
 */
static int cmd_config_set(const struct ctl_ctx *c, char **argv)
{
	const struct config_key *k = config_key(argv[0]);
	struct xcni_config cfg;
	__u32 zero = 0, v = (__u32)strtoul(argv[1], NULL, 10);
	int fd, err = 0, lock;

	fd = map_open(c, &m_config);
	if (fd < 0)
		return fd;
	lock = xcni_config_lock(c->pin_dir);
	if (lock < 0) {
		err = lock;
		pr_err("%s: locking it for the change: %s\n", c->pin_dir, strerror(-err));
		goto close;
	}
	if (bpf_map_lookup_elem(fd, &zero, &cfg)) {
		err = -errno;
		pr_err("%s: lookup: %s\n", m_config.name, strerror(-err));
		goto close;
	}
	if (cfg.abi_version != XCNI_ABI_VERSION) {
		err = pr_err_ret(-EPROTO, "%s: written by ABI version %u, xcnictl speaks %u: not "
				 "changing it\n", m_config.name, cfg.abi_version, XCNI_ABI_VERSION);
		goto close;
	}
	memcpy((char *)&cfg + k->off, &v, sizeof(v));
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST)) {
		err = -errno;
		pr_err("%s: update: %s\n", m_config.name, strerror(-err));
	}
close:
	xcni_close(&lock);
	close(fd);
	return err;
}

const struct cmd config_cmds[] = {
	{ "config", "set", cmd_config_set, 2, 0, "KEY VALUE",
	  "Change a data-plane setting of this node, live.\n\n"
	  "  trace-sample N   trace one forwarded packet in N (0: off, the default)\n"
	  "  events-rate N    at most N events per CPU per second (0: no limit)",
	  check_config_set },
	{ "config", NULL, cmd_config, 0, 0, "",
	  "Show the node configuration xcnid wrote.", NULL },
	{}
};
