// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's command line (xcnid_opts.h): the options and their help, each
 * checked as it comes and then together; nothing here touches the node.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/un.h>

#include "xcni_shared.h"
#include "lib/system/cidr.h"
#include "lib/system/log.h"
#include "lib/system/util.h"
#include "lib/services/svc.h"
#include "lib/observe/flows.h"
#include "agent/grow.h"
#include "agent/hooks.h"
#include "agent/ipfix.h"
#include "lib/system/http.h"
#include "agent/socklb.h"
#include "agent/xcnid_opts.h"
#include "lib/policy/policy.h"

/*
 * The identity hash's key from a file of any contents (a random string in a
 * Secret): two SipHash-2-4 of it under fixed keys, so its length and form do
 * not matter. An empty file or one that cannot be read is refused.
 */
static int identity_key_read(const char *path, uint8_t key[16])
{
	static const uint8_t k0[16] = "xcni-idkey-0", k1[16] = "xcni-idkey-1";
	unsigned char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;
	uint64_t a, b;

	if (!f)
		return pr_err_ret(-1, "--identity-key-file %s: %s\n", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!n)
		return pr_err_ret(-1, "--identity-key-file %s: empty\n", path);
	a = pol_siphash(k0, buf, n);
	b = pol_siphash(k1, buf, n);
	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
	return 0;
}

/*
 * --node-ip A[,B]: this node's underlay address of each family, once per
 * family (given twice, or comma-separated as the downward API's
 * status.hostIPs is). Only IPv6: the IPv6 underlay. Both: IPv4 to the nodes
 * that have an IPv4 InternalIP, IPv6 to the IPv6-only ones. *fams collects
 * the families given (bit 4, bit 6). 0, or -EINVAL said why.
 */
static int parse_node_ip(const char *arg, struct overlay *ov, unsigned int *fams)
{
	char buf[2 * INET6_ADDRSTRLEN + 2], *save = NULL, *tok;
	struct in_addr a;
	__u8 a6[16];
	int n = 0;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return pr_err_ret(-EINVAL, "--node-ip %s: an IPv4 or IPv6 address, or one of each "
				  "comma-separated\n", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		unsigned int f = inet_pton(AF_INET6, tok, a6) == 1 ? 6 :
				 inet_pton(AF_INET, tok, &a) == 1 ? 4 : 0;

		if (!f)
			return pr_err_ret(-EINVAL, "--node-ip %s: %s is not an IPv4 or IPv6 "
					  "address\n", arg, tok);
		if (*fams & (1u << f))
			return pr_err_ret(-EINVAL, "--node-ip %s: a second IPv%u address (one per "
					  "family: IPv4, IPv6)\n", arg, f);
		*fams |= 1u << f;
		if (f == 6)
			memcpy(ov->node_ip6, a6, 16);
		else
			ov->node_ip = a.s_addr;
	}
	if (!n)
		return pr_err_ret(-EINVAL, "--node-ip %s: an IPv4 or IPv6 address, or one of each "
				  "comma-separated\n", arg);
	/* Only IPv6 given: the IPv6 underlay, as before; with IPv4 too: both
	 * (overlay_resolve sets underlay6, --tunnel-family known by then). */
	return 0;
}

/* A comma-separated ARG into buf (SIZE): strtok_r would skip an empty element, refused as a typo. */
static int list_copy(const char *arg, char *buf, size_t size)
{
	if (!*arg || strlen(arg) >= size || *arg == ',' || arg[strlen(arg) - 1] == ',' ||
	    strstr(arg, ",,"))
		return -EINVAL;
	strcpy(buf, arg);
	return 0;
}

/*
 * --service-cidr: "none", or up to one IPv4 and one IPv6 CIDR, comma-separated
 * (kube-apiserver's --service-cluster-ip-range). Replaces the default; o is
 * only written when the whole list parses. 0 or -EINVAL.
 */
static int parse_svc_cidrs(const char *arg, struct opts *o)
{
	char buf[128], *tok, *save = NULL;
	struct xcni_prefix p, got[2] = {}; /* IPv4, IPv6; len 0: none */

	if (!strcmp(arg, "none"))
		goto set;
	if (list_copy(arg, buf, sizeof(buf)))
		return -EINVAL;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		/* A /0 would take every destination for a Service. */
		if (xcni_prefix_parse(tok, XCNI_CIDR_NET, &p) || !p.len || got[p.family == 6].len)
			return -EINVAL;
		got[p.family == 6] = p;
	}
	if (!got[0].len && !got[1].len)
		return -EINVAL;
set:
	memcpy(o->svc, got, sizeof(got));
	return 0;
}

/*
 * --external-ip-cidrs: CIDR[,CIDR...], IPv4 or IPv6, added to what earlier
 * ones gave; o is only written when the whole list parses. 0, -EINVAL, or
 * -E2BIG past XCNID_EXT_ALLOW_MAX.
 */
static int parse_ext_cidrs(const char *arg, struct opts *o)
{
	char buf[1024], *tok, *save = NULL;
	size_t n = o->next_allow;

	if (list_copy(arg, buf, sizeof(buf)))
		return -EINVAL;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == XCNID_EXT_ALLOW_MAX)
			return -E2BIG;
		if (xcni_prefix_parse(tok, XCNI_CIDR_NET, &o->ext_allow[n++]))
			return -EINVAL;
	}
	o->next_allow = n;
	return 0;
}

#define S_(x) #x
#define S(x) S_(x) /* a default's literal into a help string */
_Static_assert(FLOWD_LOG_MAX_BYTES_DEFAULT == 16777216, "--flow-log-max-bytes' help");

/*
 * Every option once: getopt_long's row and its line of help; a row without a
 * name is a heading. xcnid(8) says more of each.
 */
static const struct xopt {
	const char *name;
	int val;
	const char *arg, *help; /* arg: NULL none, "[=...]" optional, else required */
} xopts[] = {
	{ .help = "cluster source" },
	{ "manifests", 'm', "DIR", "cluster state from DIR's YAML/JSON manifests (inotify)" },
	{ "kubeconfig", 'K', "PATH", "cluster state from the API server of PATH's context" },
	{ "k8s-api", 'k', "in-cluster", "the same through the pod's service account" },
	{ "sync-delay", 1009, "MS",
	  "one compile for what comes within MS ms (default " S(XCNID_SYNC_DELAY_DEFAULT) ")" },
	{ "ns-churn-burst", 1080, "N",
	  "a namespace's changes at once (default " S(XCNID_CHURN_BURST_DEFAULT) ") ..." },
	{ "ns-churn-rate", 1081, "N",
	  "... and a second (default " S(XCNID_CHURN_RATE_DEFAULT) "; 0: no bound); the rest ..." },
	{ "ns-churn-interval", 1082, "MS",
	  "... go in together every MS ms (default " S(XCNID_CHURN_INTERVAL_DEFAULT) ")" },
	{ .help = "this node and its pods" },
	{ "node-name", 'n', "NAME", "this node's name (default: the host name)" },
	{ "pod-cidr", 'c', "CIDR", "this node's IPv4 pod CIDR" },
	{ "gateway", 'g', "IP", "the pods' gateway (default: the CIDR's first address)" },
	{ "pod-cidr6", 1006, "CIDR", "this node's IPv6 pod CIDR" },
	{ .help = "data plane" },
	{ "pin-dir", 'p', "DIR", "where programs and maps are pinned (default " XCNI_PIN_ROOT ")" },
	{ "attach", 1010, "MODE", "auto (default), tcx or tc; also XCNI_ATTACH=MODE" },
	{ "xdp-mode", 'X', "MODE", "auto (default), native, generic, off or tc" },
	{ "overlay-decap", 1061, "WHERE", "tc (default) or xdp: where Geneve is taken off" },
	{ "hook-check", 1015, "S",
	  "programs before xcni's looked for every S s (default " S(HOOKS_CHECK_S_DEFAULT) ")" },
	{ "map-max", 1002, "MAP=N[,MAP=N]...", "size map MAP for N entries" },
	{ "map-grow", 1020, "PCT",
	  "double xcni_ct, xcni_ct6 online PCT% full, the maps xcnid writes when full (default "
	  S(GROW_PCT_DEFAULT) "; 0: never)" },
	{ "once", 'o', NULL, "load and pin, then exit" },
	{ "uninstall", 1011, NULL, "remove what xcnid made on this node, then exit" },
	{ .help = "policy" },
	{ "policy-ns-share", 1013, "PCT",
	  "a namespace's most of each policy map (default " S(XCNID_NS_SHARE_DEFAULT) ")" },
	{ "identity-key-file", 1014, "FILE", "key the identity hash with FILE" },
	{ .help = "Services" },
	{ "service-cidr", 's', "CIDR[,CIDR6]", "the Service ranges (default 10.96.0.0/12; none)" },
	{ "external-ip-cidrs", 1016, "CIDR[,CIDR...]", "where externalIPs may point" },
	{ "kube-proxy-replacement", 1003, NULL, "translate Services in BPF" },
	{ "lb-algorithm", 1004, "ALG", "random (default) or maglev" },
	{ "service-ns-share", 1021, "PCT",
	  "a namespace's most of each Service map (default " S(XCNID_NS_SHARE_DEFAULT) ")" },
	{ "cgroup-root", 1005, "DIR", "socket-level load balancing below DIR" },
	{ "node-port-range", 1007, "MIN-MAX", "the NodePorts served (default 30000-32767)" },
	{ "node-port-mode", 1008, "MODE", "snat (default) or dsr" },
	{ "nodeport-acceleration", 1060, "MODE", "native, generic or off (default)" },
	{ "snat-client-burst", 1017, "N",
	  "NodePort SNAT tuples a client opens at once (default " S(XCNI_SNAT_CL_BURST) ") ..." },
	{ "snat-client-rate", 1018, "N[/s]", "... a second (default " S(XCNI_SNAT_CL_RATE) ")" },
	{ "snat-client-max", 1019, "N",
	  "... and holds (default " S(XCNI_SNAT_CL_MAX) ", counted each " S(XCNI_SNAT_HELD_S)
	  " s)" },
	{ "external-clusterip", 1012, NULL, "serve ClusterIPs to clients outside" },
	{ "fqdn-policy", 1070, NULL, "ClusterNetworkPolicy domainNames (Linux 5.17)" },
	{ .help = "overlay" },
	{ "underlay-dev", 'u', "DEV", "the device to the other nodes (Geneve in BPF)" },
	{ "node-ip", 'N', "IP[,IP]", "this node's underlay address, one per family" },
	{ "tunnel-family", 1062, "FAM", "auto (default) or ipv6" },
	{ "vni", 'V', "N", "Geneve VNI (default 1)" },
	{ .help = "leaving the cluster" },
	{ "masquerade", 'M', NULL, "masquerade pods' traffic leaving the cluster (default)" },
	{ "no-masquerade", 1001, NULL, "do not; removes the tables" },
	{ "cluster-cidr", 'C', "CIDR[,CIDR...]", "more destinations never masqueraded" },
	{ .help = "observability" },
	{ "metrics-addr", 'A', "HOST:PORT", "Prometheus metrics (loopback)" },
	{ "http-allow-remote", 1047, NULL, "let --metrics-addr or --ui be another address" },
	{ "ui", 1048, "HOST:PORT", "the service map (a web page; implies --flows)" },
	{ "trace-sample", 'S', "N", "trace one forwarded packet in N (default 0: off)" },
	{ "events-rate", 'R', "N",
	  "events a CPU a second a pod (default " S(XCNI_EVENTS_RATE_DEFAULT) "; 0: no limit)" },
	{ "flows", 1040, "[=BOOL]", "keep flow records (default true)" },
	{ "no-flows", 1099, NULL, "no flow records (--flows=false)" },
	{ "flows-window", 1041, "N", "at most N records (default " S(FLOWS_WINDOW_DEFAULT) ")" },
	{ "flows-socket", 1046, "PATH", "where xcnictl flows asks" },
	{ "flows-listen", 1104, "ADDR:PORT", "answer xcnictl flows --agent (mTLS)" },
	{ "flows-tls", 1105, "DIR", "its tls.crt, tls.key and ca.crt" },
	{ "flow-log", 1042, "PATH", "changed records as JSON lines (\"{node}\": its name)" },
	{ "flow-log-interval", 1045, "S", "every S s (default " S(FLOWD_LOG_INTERVAL_DEFAULT) ")" },
	{ "flow-log-max-bytes", 1043, "N", "rotate past N bytes (default 16777216)" },
	{ "flow-log-files", 1044, "K", "keep K files (default " S(FLOWD_LOG_FILES_DEFAULT) ")" },
	{ "ipfix", 1100, "URL", "export flow records: udp://HOST:PORT or tcp://HOST:PORT" },
	{ "ipfix-active-timeout", 1101, "S",
	  "and every S s while a flow lasts (default " S(FLOWD_IPFIX_ACTIVE_DEFAULT) ")" },
	{ "ipfix-idle-timeout", 1102, "S",
	  "a denied flow ends after S s idle (default " S(FLOWD_IPFIX_IDLE_DEFAULT) ")" },
	{ "ipfix-all-nodes", 1103, NULL, "export a connection from both its nodes" },
	{ "log-format", 'L', "FMT", "text (default) or json" },
	{ "verbose", 'v', NULL, "more logging (twice: libbpf debug, verifier logs)" },
	{ "help", 'h', NULL, "this text" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xcnid [options] (xcnid(8) says more of each)\n");
	for (const struct xopt *x = xopts; x < xopts + ARRAY_SIZE(xopts); x++) {
		int n = x->val && strchr("vh", x->val) ? fprintf(f, "  -%c, --%s", x->val, x->name) :
			x->name ? fprintf(f, "  --%s%s%s", x->name, x->arg && *x->arg != '[' ? " " : "",
					  x->arg ?: "") : fprintf(f, "\n%s:\n", x->help);

		if (x->name)
			fprintf(f, "%s%*s%s\n", n > 26 ? "\n" : "", n > 26 ? 27 : 27 - n, "", x->help);
	}
	fprintf(f, "\n  --version [-o json|yaml]  version, git commit, build date, libbpf, "
		   "BPF ABI\n");
}

/* What the options said that the checks of them together need. */
struct given {
	unsigned int node_ip_fams; /* --node-ip's families (bit 4, bit 6) */
	int tun_fam;               /* --tunnel-family given */
	int lb_alg;                /* --lb-algorithm given */
	int np_mode;               /* --node-port-mode given */
	int snat_cl;               /* --snat-client-burst or --snat-client-rate given */
	int xdp;                   /* --xdp-mode given */
	const char *gw;            /* --gateway */
};

/*
 * ARG as one of WORDS (NULL-terminated; VALS their values) into *out; else
 * "--NAME ARG: a, b or c" said and 2.
 */
static int opt_word(const char *name, const char *arg, const char *const *words, const int *vals,
		    int *out)
{
	char say[96] = "";
	size_t n = 0;

	for (size_t i = 0; words[i]; i++, n++)
		if (!strcmp(arg, words[i])) {
			*out = vals[i];
			return 0;
		}
	for (size_t i = 0; i < n; i++)
		snprintf(say + strlen(say), sizeof(say) - strlen(say), "%s%s",
			 i == 0 ? "" : i == n - 1 ? " or " : ", ", words[i]);
	pr_err("--%s %s: %s\n", name, arg, say);
	return 2;
}

#define OFF(f) offsetof(struct xcnid_cmdline, f)
/*
 * The numeric options: a decimal number MIN to MAX into the unsigned int at
 * OFF (--flows-window, --flow-log-max-bytes: 8 bytes). The flows' (1040 on)
 * ask for flows.
 */
static const struct numopt {
	int c;
	const char *name, *what;
	unsigned long min, max;
	size_t off;
} numopts[] = {
	{ 1009, "sync-delay", "milliseconds", 0, 1000, OFF(o.sync_delay_ms) },
	{ 1080, "ns-churn-burst", "changes", 1, 1000000, OFF(o.churn_burst) },
	{ 1081, "ns-churn-rate", "changes a second", 0, 1000000, OFF(o.churn_rate) },
	{ 1082, "ns-churn-interval", "milliseconds", 10, 60000, OFF(o.churn_interval_ms) },
	{ 1015, "hook-check", "seconds", 0, 86400, OFF(o.hook_check_s) },
	{ 1020, "map-grow", "a percentage", 0, 99, OFF(o.map_grow_pct) },
	{ 1013, "policy-ns-share", "a percentage", 1, 100, OFF(o.ns_share) },
	{ 1021, "service-ns-share", "a percentage", 1, 100, OFF(o.svc_ns_share) },
	{ 'S', "trace-sample", "a number", 0, UINT32_MAX, OFF(o.trace_sample) },
	{ 'R', "events-rate", "a number", 0, UINT32_MAX, OFF(o.events_rate) },
	{ 1017, "snat-client-burst", "tuples a client may open at once", 1, 1u << 20,
	  OFF(ov.snat_cl_burst) },
	{ 1019, "snat-client-max", "tuples a client may hold", 1, 1u << 20, OFF(ov.snat_cl_max) },
	{ 1041, "flows-window", "a number", 1, FLOWS_WINDOW_MAX, OFF(o.flows.window) },
	{ 1043, "flow-log-max-bytes", "a number", 4096, UINT64_MAX / 2, OFF(o.flows.log_max_bytes) },
	{ 1044, "flow-log-files", "a number", 1, FLOWD_LOG_FILES_MAX, OFF(o.flows.log_files) },
	{ 1045, "flow-log-interval", "a number", 1, 3600, OFF(o.flows.log_interval_s) },
	{ 1101, "ipfix-active-timeout", "a number", 1, 86400, OFF(o.flows.ipfix_active_s) },
	{ 1102, "ipfix-idle-timeout", "a number", 1, 86400, OFF(o.flows.ipfix_idle_s) },
};
_Static_assert(sizeof(size_t) == 8 && sizeof(uint64_t) == 8, "8-byte rows");

/* A numeric option (numopts); else "--NAME ARG: WHAT, MIN to MAX" and 2. Others: 1. */
static int opt_num(int c, const char *arg, struct xcnid_cmdline *cl, struct given *g)
{
	for (const struct numopt *n = numopts; n < numopts + ARRAY_SIZE(numopts); n++) {
		char *end;
		unsigned long v;

		if (n->c != c)
			continue;
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (!*arg || *end || *arg == '-' || errno || v < n->min || v > n->max)
			return pr_err_ret(2, "--%s %s: %s, %lu to %lu\n", n->name, arg, n->what,
					  n->min, n->max);
		if (c == 1041 || c == 1043)
			*(uint64_t *)((char *)cl + n->off) = v;
		else
			*(unsigned int *)((char *)cl + n->off) = (unsigned int)v;
		g->snat_cl |= c == 1017 || c == 1019;
		cl->o.flows.asked |= c >= 1040;
		return 0;
	}
	return 1;
}

/* A CIDR list's parse (E: 0, -E2BIG, else not a list) said for --NAME ARG: 0 or 2. */
static int cidrs_said(const char *name, const char *arg, int e, const char *too_many)
{
	if (e)
		pr_err("--%s %s: %s\n", name, arg,
		       e == -E2BIG ? too_many : "not CIDR[,CIDR...] (IPv4 or IPv6 CIDRs)");
	return e ? 2 : 0;
}

/* --map-max MAP=N, or several: MAP=N,MAP=N (a later one for a map wins). */
static int opt_map_max(const char *arg, struct xcnid_cmdline *cl)
{
	struct overlay *ov = &cl->ov;

	for (const char *it = arg; it;) {
		const char *comma = strchr(it, ',');
		size_t len = comma ? (size_t)(comma - it) : strlen(it);
		const char *eq = memchr(it, '=', len);
		char num[16] = "", *end = num;
		unsigned long v = 0;

		if (eq && (size_t)(it + len - eq - 1) < sizeof(num)) {
			snprintf(num, sizeof(num), "%.*s", (int)(it + len - eq - 1), eq + 1);
			errno = 0;
			v = strtoul(num, &end, 10);
		}
		if (!eq || eq == it || (size_t)(eq - it) >= sizeof(cl->map_max[0].name) || !num[0] ||
		    end == num || *end || errno || v == 0 || v > (1ul << 28) ||
		    ov->nmap_max == MAP_MAX_OVERRIDES) {
			pr_err("--map-max %s: '%.*s' is not MAP=N (N from 1 to %lu, at most %d maps "
			       "in all; e.g. xcni_ipcache=524288)\n",
			       arg, (int)len, it, 1ul << 28, MAP_MAX_OVERRIDES);
			return 2;
		}
		snprintf(cl->map_max[ov->nmap_max].name, sizeof(cl->map_max[0].name), "%.*s",
			 (int)(eq - it), it);
		cl->map_max[ov->nmap_max].user = true;
		cl->map_max[ov->nmap_max++].n = (__u32)v;
		it = comma ? comma + 1 : NULL;
	}
	return 0;
}

/*
 * The option groups, as usage() lists them: each takes its own options (0,
 * or 2 after saying what is wrong) and leaves the rest (1).
 */
static int opt_cluster(int c, const char *arg, struct xcnid_cmdline *cl, struct given *g)
{
	struct opts *o = &cl->o;

	switch (c) {
	case 'm': o->manifests = arg; return 0;
	case 'K': o->kubeconfig = arg; return 0;
	case 'k':
		if (strcmp(arg, "in-cluster"))
			return pr_err_ret(2, "--k8s-api %s: only \"in-cluster\" (the pod's service "
					  "account); for a kubeconfig use --kubeconfig PATH\n",
					  arg);
		o->in_cluster = 1;
		return 0;
	case 'n': o->node_name = arg; return 0;
	case 'c':
		/* Host bits off: the CIDR is the network (an IPv4 /0 is one, an IPv6 /0 not). */
		if (xcni_prefix_parse(arg, XCNI_CIDR_NET, &cl->mq.pod) || cl->mq.pod.family != 4)
			return pr_err_ret(2, "--pod-cidr %s: not an IPv4 CIDR\n", arg);
		return 0;
	case 'g': g->gw = arg; return 0;
	case 1006:
		if (xcni_prefix_parse(arg, XCNI_CIDR_NET, &cl->mq.pod6) || cl->mq.pod6.family != 6 ||
		    !cl->mq.pod6.len) {
			pr_err("--pod-cidr6 %s: not an IPv6 CIDR (e.g. fd00:10:244:1::/64)\n", arg);
			return 2;
		}
		return 0;
	}
	return 1;
}

static int opt_dataplane(int c, const char *arg, struct xcnid_cmdline *cl, struct given *g)
{
	static const char *const xdp_words[] = { "auto", "native", "generic", "tc", "off", NULL };
	static const int xdp_vals[] = { XDP_WANT_AUTO, XDP_WANT_NATIVE, XDP_WANT_GENERIC,
					XDP_WANT_TC, XDP_WANT_OFF };
	static const char *const decap_words[] = { "tc", "xdp", NULL };
	static const int decap_vals[] = { 0, 1 };
	struct opts *o = &cl->o;
	struct overlay *ov = &cl->ov;
	int v;

	switch (c) {
	case 'p': o->pin_dir = arg; return 0;
	case 1010:
		if (xcni_attach_parse(arg, &ov->attach))
			return pr_err_ret(2, "--attach %s: auto, tcx or tc\n", arg);
		return 0;
	case 'X':
		g->xdp = 1;
		if (opt_word("xdp-mode", arg, xdp_words, xdp_vals, &v))
			return 2;
		ov->xdp_want = v;
		return 0;
	case 1061:
		if (opt_word("overlay-decap", arg, decap_words, decap_vals, &v))
			return 2;
		ov->decap_xdp = v;
		return 0;
	case 1002: return opt_map_max(arg, cl);
	case 'o': o->once = 1; return 0;
	case 1011: o->uninstall = 1; return 0;
	case 1014: return identity_key_read(arg, o->id_key) ? 2 : 0;
	}
	return 1;
}

static int opt_services(int c, const char *arg, struct xcnid_cmdline *cl, struct given *g)
{
	static const char *const accel_words[] = { "native", "generic", "off", NULL };
	static const int accel_vals[] = { XCNI_NPA_NATIVE, XCNI_NPA_GENERIC, XCNI_NPA_OFF };
	static const char *const np_words[] = { "snat", "dsr", NULL };
	static const int np_vals[] = { 0, 1 };
	static const char *const lb_words[] = { "random", "maglev", NULL };
	static const int lb_vals[] = { 0, SVC_BUILD_MAGLEV };
	struct opts *o = &cl->o;
	int v;

	switch (c) {
	case 's':
		if (parse_svc_cidrs(arg, o))
			return pr_err_ret(2, "--service-cidr %s: one CIDR of each family at most, "
					  "comma-separated (e.g. 10.96.0.0/12,fd00:10:96::/108), "
					  "or none\n", arg);
		return 0;
	case 1003: o->kpr = 1; return 0;
	case 1004:
		if (opt_word("lb-algorithm", arg, lb_words, lb_vals, &v))
			return 2;
		o->lb_flags = (o->lb_flags & ~SVC_BUILD_MAGLEV) | v;
		g->lb_alg = 1;
		return 0;
	case 1005: o->cgroup_root = arg; return 0;
	case 1007:
		if (svc_nodeport_range_parse(arg, &o->np_min, &o->np_max))
			return pr_err_ret(2, "--node-port-range %s: MIN-MAX, 1 <= MIN <= MAX <= "
					  "65535 (e.g. 30000-32767)\n", arg);
		return 0;
	case 1008:
		if (opt_word("node-port-mode", arg, np_words, np_vals, &v))
			return 2;
		o->np_dsr = v;
		g->np_mode = 1;
		return 0;
	case 1060:
		if (opt_word("nodeport-acceleration", arg, accel_words, accel_vals, &v))
			return 2;
		cl->ov.np_accel = v;
		return 0;
	case 1012: o->ext_cip = 1; return 0;
	case 1018: {
		/* N or N/s: a rate is a second's, said so or not. */
		char *end;
		unsigned long r;

		errno = 0;
		r = strtoul(arg, &end, 10);
		if (!strcmp(end, "/s"))
			end += 2;
		if (!*arg || *arg == '-' || *end || errno || r < 1 || r > 1000000000)
			return pr_err_ret(2, "--snat-client-rate %s: tuples a second (N or N/s), 1 "
					  "to 1000000000\n", arg);
		cl->ov.snat_cl_tok_ns = (__u32)(1000000000ul / r);
		g->snat_cl = 1;
		return 0;
	}
	case 1070: o->fqdn = 1; return 0;
	case 1016:
		return cidrs_said("external-ip-cidrs", arg, parse_ext_cidrs(arg, o),
				  "more than 64 CIDRs in all");
	}
	return 1;
}

static int opt_overlay(int c, const char *arg, struct xcnid_cmdline *cl, struct given *g)
{
	struct overlay *ov = &cl->ov;

	switch (c) {
	case 'u': ov->underlay = arg; return 0;
	case 'N': return parse_node_ip(arg, ov, &g->node_ip_fams) ? 2 : 0;
	case 1062: {
		static const char *const words[] = { "auto", "ipv6", NULL };
		static const int vals[] = { 0, 1 };
		int v;

		if (opt_word("tunnel-family", arg, words, vals, &v))
			return 2;
		ov->prefer6 = v;
		g->tun_fam = 1;
		return 0;
	}
	case 'V': {
		char *end;
		unsigned long v = strtoul(arg, &end, 0);

		if (!*arg || *end || v == 0 || v > 0xffffff)
			return pr_err_ret(2, "--vni %s: a Geneve VNI is 1 to 16777215\n", arg);
		ov->vni = (__u32)v;
		return 0;
	}
	case 'M': cl->masquerade = 1; return 0;
	case 1001: cl->masquerade = 0; return 0;
	case 'C':
		return cidrs_said("cluster-cidr", arg, masq_add_cluster_cidrs(&cl->mq, arg),
				  "more than 32 CIDRs of a family in all");
	}
	return 1;
}

static int opt_observe(int c, const char *arg, struct xcnid_cmdline *cl, struct given *g)
{
	static const char *const bool_words[] = { "true", "yes", "on", "1",
						  "false", "no", "off", "0", NULL };
	static const int bool_vals[] = { 0, 0, 0, 0, 1, 1, 1, 1 }; /* --flows=BOOL: off */
	struct opts *o = &cl->o;
	struct flowd_opts *fl = &o->flows;
	enum xlog_format f;
	int v;

	(void)g;
	switch (c) {
	case 'A':
	case 1048:
		if (http_check_addr(arg, true))
			return pr_err_ret(2, "--%s %s: HOST:PORT, e.g. 127.0.0.1:%s or [::1]:%s\n",
					  c == 'A' ? "metrics-addr" : "ui", arg,
					  c == 'A' ? "9962" : "9963", c == 'A' ? "9962" : "9963");
		*(c == 'A' ? &o->metrics_addr : &o->ui_addr) = arg;
		return 0;
	case 1047: o->http_remote = 1; return 0;
	case 1099: fl->off = true; return 0;
	case 1040: /* --flows[=BOOL] */
		fl->asked = true;
		if (arg && opt_word("flows", arg, bool_words, bool_vals, &v))
			return 2;
		fl->off = arg && v;
		return 0;
	case 1042:
	case 1105: /* --flow-log, --flows-tls */
		if (!*arg)
			return pr_err_ret(2, "--%s: an empty path\n",
					  c == 1042 ? "flow-log" : "flows-tls");
		fl->asked = true;
		*(c == 1042 ? &fl->log_path : &fl->tls_dir) = arg;
		return 0;
	case 1046:
		if (!*arg || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return pr_err_ret(2, "--flows-socket %s: a path of 1 to %zu bytes\n", arg,
					  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		fl->asked = true;
		fl->sock_path = arg;
		return 0;
	case 1100: {
		char err[128];

		if (ipfix_check_url(arg, err, sizeof(err)))
			return pr_err_ret(2, "--ipfix %s: %s\n", arg, err);
		fl->asked = true;
		fl->ipfix_url = arg;
		return 0;
	}
	case 1103: fl->asked = fl->ipfix_all_nodes = true; return 0;
	case 1104:
		if (http_check_addr(arg, true))
			return pr_err_ret(2, "--flows-listen %s: HOST:PORT with an IPv4 or [IPv6] "
					  "address\n", arg);
		fl->asked = true;
		fl->listen = arg;
		return 0;
	case 'L':
		if (xlog_parse_format(arg, &f))
			return pr_err_ret(2, "--log-format %s: text or json\n", arg);
		xlog_set_format(f);
		return 0;
	case 'v': xlog_max = xlog_max < XLOG_INFO ? XLOG_INFO : XLOG_DEBUG; return 0;
	}
	return 1;
}

/* The flow options together: what needs what, then the defaults. */
static int check_flows(struct flowd_opts *o)
{
	if (o->off) {
		static const char *const need[] = { "--flows-window", "--flow-log",
						    "--flows-socket", "--ipfix", "--flows-listen",
						    "--flows-tls" };
		const void *given[] = { o->window ? &o->window : NULL, o->log_path, o->sock_path,
					o->ipfix_url, o->listen, o->tls_dir };

		for (size_t i = 0; i < ARRAY_SIZE(need); i++)
			if (given[i])
				return pr_err_ret(2, "%s is the flow records': it does nothing "
						  "with --flows=false (--no-flows)\n", need[i]);
		if (o->log_max_bytes || o->log_files || o->log_interval_s)
			return pr_err_ret(2,
					  "--flow-log-* are the flow log's: they do nothing with "
					  "--flows=false (--no-flows)\n");
		o->window = 0;
		return 0;
	}
	if (!o->log_path && (o->log_max_bytes || o->log_files))
		return pr_err_ret(2, "--flow-log-max-bytes and --flow-log-files are the flow "
				  "log's: give --flow-log PATH too\n");
	if (!o->log_path && o->log_interval_s)
		return pr_err_ret(2, "--flow-log-interval is the flow log's: give --flow-log PATH "
				  "too (IPFIX's records go by --ipfix-active-timeout and when "
				  "flows end)\n");
	if (!o->ipfix_url && (o->ipfix_active_s || o->ipfix_idle_s || o->ipfix_all_nodes))
		return pr_err_ret(2, "--ipfix-active-timeout, --ipfix-idle-timeout and "
				  "--ipfix-all-nodes are IPFIX's: give --ipfix URL too\n");
	/* No plaintext flows leave a node: the network listener is TLS or nothing. */
	if (o->listen && !o->tls_dir)
		return pr_err_ret(2, "--flows-listen %s: give --flows-tls DIR too (tls.crt, "
				  "tls.key, ca.crt): flows are served over the network only with "
				  "TLS and client certificates\n", o->listen);
	if (o->tls_dir && !o->listen)
		return pr_err_ret(2, "--flows-tls %s is the network listener's: give "
				  "--flows-listen ADDR:PORT too\n", o->tls_dir);
	/* The defaults after the checks (0 there: not given). On by default: a
	 * bounded window (FLOWS_WINDOW_DEFAULT records). */
	o->ipfix_active_s = o->ipfix_active_s ?: FLOWD_IPFIX_ACTIVE_DEFAULT;
	o->ipfix_idle_s = o->ipfix_idle_s ?: FLOWD_IPFIX_IDLE_DEFAULT;
	o->window = o->window ?: FLOWS_WINDOW_DEFAULT;
	o->log_max_bytes = o->log_max_bytes ?: FLOWD_LOG_MAX_BYTES_DEFAULT;
	o->log_files = o->log_files ?: FLOWD_LOG_FILES_DEFAULT;
	o->log_interval_s = o->log_interval_s ?: FLOWD_LOG_INTERVAL_DEFAULT;
	return 0;
}

/* The HTTP server's options together: one address, loopback unless allowed. */
static int check_http(const struct opts *o)
{
	if (o->ui_addr && http_check_addr(o->ui_addr, o->http_remote))
		return pr_err_ret(2, "--ui %s: not a loopback address: every client that reaches "
				  "it reads the cluster's flows; give --http-allow-remote to mean "
				  "that\n", o->ui_addr);
	if (o->ui_addr && o->metrics_addr && strcmp(o->ui_addr, o->metrics_addr))
		return pr_err_ret(2, "--ui %s and --metrics-addr %s: one HTTP server serves both; "
				  "give them the same address\n", o->ui_addr, o->metrics_addr);
	/* The map is drawn from the flow records. */
	if (o->ui_addr && o->flows.off)
		return pr_err_ret(2,
				  "--ui %s: the service map is drawn from the flow records: drop "
				  "--flows=false (--no-flows)\n", o->ui_addr);
	if (o->metrics_addr && http_check_addr(o->metrics_addr, o->http_remote))
		return pr_err_ret(2, "--metrics-addr %s: not a loopback address: every client that "
				  "reaches it reads the page; give --http-allow-remote to mean "
				  "that\n", o->metrics_addr);
	return 0;
}

/* The Service options together: each one's prerequisites given. */
static int check_services(const struct opts *o, struct overlay *ov, const struct given *g)
{
	/* Each needs --kube-proxy-replacement; those with .ov the overlay too. */
	const struct { bool given, ov; const char *say; } needs[] = {
		{ o->np_max, false, "--node-port-range is the NodePorts --kube-proxy-replacement "
				    "serves: give both" },
		{ g->lb_alg, false, "--lb-algorithm chooses backends for --kube-proxy-replacement: "
				    "give both" },
		{ g->np_mode, true, "--node-port-mode is how --kube-proxy-replacement sends NodePort "
				    "requests to other nodes' backends, through the overlay "
				    "(--underlay-dev): give all three" },
		{ o->ext_cip, true, "--external-clusterip is for ClusterIPs --kube-proxy-replacement "
				    "serves on the underlay (--underlay-dev): give all three" },
		{ ov->np_accel != XCNI_NPA_OFF, true,
		  "--nodeport-acceleration translates --kube-proxy-replacement's NodePorts at XDP on "
		  "the underlay (--underlay-dev): give all three" },
		{ g->snat_cl, true, "--snat-client-burst, --snat-client-rate and --snat-client-max bound "
				    "outside clients' NodePort SNAT tuples of --kube-proxy-replacement "
				    "on the overlay (--underlay-dev): give all three" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(needs); i++)
		if (needs[i].given && (!o->kpr || (needs[i].ov && !ov->underlay)))
			return pr_err_ret(2, "%s\n", needs[i].say);
	if (o->cgroup_root && !o->kpr)
		return pr_err_ret(2, "--cgroup-root %s: socket-level load balancing needs "
				  "--kube-proxy-replacement (the Service maps it reads): give "
				  "both\n", o->cgroup_root);
	if (o->cgroup_root && socklb_check_cgroup(o->cgroup_root))
		return 2;
	if (ov->np_accel != XCNI_NPA_OFF && g->xdp &&
	    (ov->xdp_want == XDP_WANT_OFF || ov->xdp_want == XDP_WANT_TC ||
	     (ov->xdp_want == XDP_WANT_NATIVE) != (ov->np_accel == XCNI_NPA_NATIVE))) {
		pr_err("--nodeport-acceleration %s runs in the underlay's XDP program, which "
		       "--xdp-mode attaches otherwise: drop --xdp-mode, or give the same mode\n",
		       ov->np_accel == XCNI_NPA_NATIVE ? "native" : "generic");
		return 2;
	}
	if (ov->decap_xdp && (!ov->underlay || (g->xdp && ov->xdp_want != XDP_WANT_AUTO &&
						  ov->xdp_want != XDP_WANT_NATIVE))) {
		pr_err("--overlay-decap xdp takes Geneve apart in the underlay's native XDP program "
		       "(--underlay-dev, --xdp-mode auto or native)\n");
		return 2;
	}
	/* Its mode is the XDP program's (native falls back to generic: overlay.c). */
	if (ov->np_accel == XCNI_NPA_NATIVE && !g->xdp)
		ov->xdp_want = XDP_WANT_AUTO;
	else if (ov->np_accel == XCNI_NPA_GENERIC)
		ov->xdp_want = XDP_WANT_GENERIC;
	return 0;
}

/*
 * --tunnel-family with the overlay's options: an overlay to choose for, and
 * (ipv6) an IPv6 underlay address where --node-ip names the addresses; an
 * underlay device's own are checked once found (overlay_resolve).
 */
static int check_overlay(const struct overlay *ov, const struct given *g)
{
	if (g->tun_fam && !ov->underlay)
		return pr_err_ret(2, "--tunnel-family chooses the family of the overlay's tunnels "
				  "(--underlay-dev): give both\n");
	if (ov->prefer6 && g->node_ip_fams && !(g->node_ip_fams & (1u << 6)))
		return pr_err_ret(2, "--tunnel-family ipv6: --node-ip gives this node no IPv6 "
				  "underlay address (give one of each family, e.g. --node-ip "
				  "192.168.1.1,fd00::1)\n");
	return 0;
}

/* The node's options together: one cluster source, the gateway, masquerading. */
static int check_node(struct xcnid_cmdline *cl, const struct given *g)
{
	struct opts *o = &cl->o;
	struct masq *mq = &cl->mq;

	if (!!o->manifests + !!o->kubeconfig + o->in_cluster > 1)
		return pr_err_ret(2, "--manifests, --kubeconfig and --k8s-api in-cluster are "
				  "alternative sources of cluster state: give one\n");
	if (g->gw) {
		struct in_addr a;

		if (inet_pton(AF_INET, g->gw, &a) != 1)
			return pr_err_ret(2, "--gateway %s: not an IPv4 address\n", g->gw);
		o->gateway = a.s_addr;
	} else if (mq->pod.len) {
		memcpy(&o->gateway, mq->pod.addr, 4);
		o->gateway = htonl(ntohl(o->gateway) + 1);
	}
	if (cl->masquerade == 1 && !mq->pod.len && !mq->pod6.len)
		return pr_err_ret(2, "--masquerade needs --pod-cidr or --pod-cidr6: it masquerades "
				  "traffic from the pod CIDR\n");
	/* Without a pod CIDR there is nothing to masquerade, and nothing to remove either. */
	mq->on = cl->masquerade != 0 && (mq->pod.len || mq->pod6.len);
	if (cl->masquerade != 0 && !mq->on)
		mq->table = NULL;
	mq->node_ip = cl->ov.node_ip;
	if (!o->node_name) {
		gethostname(cl->host, sizeof(cl->host) - 1);
		o->node_name = cl->host;
	}
	return 0;
}

/* The defaults, before the options: kubeadm's Service range, VNI 1, masquerading by the pod CIDR. */
static void defaults(struct xcnid_cmdline *cl)
{
	struct opts *o = &cl->o;

	cl->ov = (struct overlay){ .vni = 1, .map_max = cl->map_max };
	cl->mq = (struct masq){ .table = MASQ_TABLE, .pod.family = 4 };
	*o = (struct opts){ .pin_dir = XCNI_PIN_ROOT, .ov = &cl->ov, .mq = &cl->mq,
		.events_rate = XCNI_EVENTS_RATE_DEFAULT, .sync_delay_ms = XCNID_SYNC_DELAY_DEFAULT,
		.churn_burst = XCNID_CHURN_BURST_DEFAULT, .churn_rate = XCNID_CHURN_RATE_DEFAULT,
		.churn_interval_ms = XCNID_CHURN_INTERVAL_DEFAULT, .ns_share = XCNID_NS_SHARE_DEFAULT,
		.svc_ns_share = XCNID_NS_SHARE_DEFAULT,
		.hook_check_s = HOOKS_CHECK_S_DEFAULT, .map_grow_pct = GROW_PCT_DEFAULT };
	cl->masquerade = -1;
	snprintf(cl->host, sizeof(cl->host), "node");
	/* kubeadm's and kind's default --service-cluster-ip-range. */
	xcni_prefix_parse(XCNI_DEFAULT_SVC_CIDR, XCNI_CIDR_NET, &o->svc[0]);
	/* No IPv6 default: kube-apiserver has none either. */
}

int xcnid_cmdline(int argc, char **argv, struct xcnid_cmdline *cl)
{
	static int (*const groups[])(int, const char *, struct xcnid_cmdline *, struct given *) = {
		opt_num, opt_cluster, opt_dataplane, opt_services, opt_overlay, opt_observe,
	};
	static struct option lo[ARRAY_SIZE(xopts)]; /* the rows with a name, then zeros */
	struct given g = {};
	size_t n = 0;
	int c, r;

	for (const struct xopt *x = xopts; x < xopts + ARRAY_SIZE(xopts); x++)
		if (x->name)
			lo[n++] = (struct option){ x->name, !x->arg ? no_argument : *x->arg == '[' ?
							     optional_argument : required_argument, NULL, x->val };
	defaults(cl);
	xlog_set_prefix("xcnid");
	xlog_max = XLOG_WARN;
	if (xcni_attach_from_env(&cl->ov.attach))
		return 2;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		r = 1;
		for (size_t i = 0; r == 1 && i < ARRAY_SIZE(groups); i++)
			r = groups[i](c, optarg, cl, &g);
		if (r == 1)
			usage(stderr);
		if (r)
			return 2;
	}
	if (check_flows(&cl->o.flows) || check_http(&cl->o) ||
	    check_services(&cl->o, &cl->ov, &g) || check_overlay(&cl->ov, &g) ||
	    check_node(cl, &g))
		return 2;
	return -1;
}
