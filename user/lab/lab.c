// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: a Kubernetes cluster made of network namespaces on one machine.
 *
 *   netns xcl-out: 198.51.100.1 (the outside, a listener telling peers' addresses)
 *                  │
 *   netns xcl-ul: router 192.168.77.254, bridge br0 (the underlay switch) ── ul-n1, ul-n2, ...
 *                                                      │
 *   netns xcl-n1 (node n1: 10.244.1.0/24, xcnid, pins under /sys/fs/bpf/xcni-lab/n1)
 *     ul0 192.168.77.1/24 (xcnid --underlay-dev: Geneve to the other nodes, in BPF)
 *     xc<hash> ──veth── eth0   netns xcl-<ns>.<pod>   (a listener per containerPort)
 *     ...
 *   netns xcl-n2 ...  ul0 192.168.77.2/24
 *
 * (An ipv6 lab's underlay is IPv6 alone: fd00:77::<i>/64, router ::254, the
 * outside 2001:db8:100::1; underlay.h. A dual stack lab's --ipv6-only-nodes
 * have that alone, the other nodes both.)
 *
 * Pods come from real manifests and are wired by the real xcni binary, called
 * the way a runtime calls it. The cluster state xcnid watches is a manifest
 * directory, <labdir>/manifests, one object per file, written the way the API
 * server would store them (pods with spec.nodeName and status.podIP). The
 * lab's own bookkeeping (which process, netns and IP belong to what) lives in
 * <labdir>/lab.json (state.c), so every invocation sees it; changes hold
 * <labdir>/.lock.
 *
 * This file, the top layer (lab.h lists them all): the command table, up, down and get.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/lab.h"
#include "lab/apply.h"
#include "lab/node.h"
#include "lab/pod.h"
#include "lab/probe.h"
#include "lab/serve.h"
#include "lab/ui.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/sys.h"
#include "lab/underlay.h"
#include "lib/system/bpfpin.h"
#include "lib/services/svc.h"
#include "lib/system/print.h"
#include "lib/system/util.h"


/* ---- up / down ------------------------------------------------------------ */

/* What the lab keeps in its directory, lab.json and its lock last. */
static const char *const lab_files[] = {
	"outside.log", "manifests", "pods", "services", "slices", "dns",
	"kproxy-udp", "kproxy-udp6", "lab.json", ".lock",
};

/* Removes everything the lab made, as far as lab.json knows it; goes on past failures. */
static int lab_teardown(struct lab *lab)
{
	char path[PATH_MAX];
	int err = 0;

	while (lab->npods) {
		struct lab_pod *p = &lab->pods[lab->npods - 1];

		if (lab_pod_teardown(lab, p))
			err = -EIO;
		lab_pod_clear(p);
		lab->npods--;
	}
	for (size_t i = 0; i < lab->nnodes; i++)
		if (lab_node_remove(lab, &lab->nodes[i]))
			err = -EIO;
	if (lab_outside_delete(lab))
		err = -EIO;
	if (lab_underlay_delete(lab))
		err = -EIO;
	if (rmdir(LAB_PIN_ROOT) && errno != ENOENT && errno != ENOTEMPTY)
		fprintf(stderr, "lab: rmdir %s: %s\n", LAB_PIN_ROOT, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(lab_files); i++) {
		lab_path(lab, path, sizeof(path), "%s", lab_files[i]);
		if (lab_rm_tree(path))
			err = -EIO;
	}
	if (lab->created_dir && rmdir(lab->dir) && errno != ENOENT)
		fprintf(stderr, "lab: rmdir %s: %s\n", lab->dir, strerror(errno));
	return err;
}

/* The cluster's DNS, applied like any manifest (the lab stays up if it fails: down removes it). */
static const char dns_manifest[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n"
	"---\n"
	"apiVersion: v1\nkind: Pod\n"
	"metadata:\n  name: dns\n  namespace: kube-system\n  labels: {k8s-app: kube-dns}\n"
	"  annotations: {" LAB_DNS_ANNOTATION ": dnsmasq}\n"
	"spec:\n  containers:\n  - name: dnsmasq\n    image: dnsmasq\n    ports:\n"
	"    - {name: dns, containerPort: 53, protocol: UDP}\n"
	"    - {name: dns-tcp, containerPort: 53, protocol: TCP}\n"
	"---\n"
	"apiVersion: v1\nkind: Service\n"
	"metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}\n"
	"spec:\n  clusterIPs: [%s]\n%s  selector: {k8s-app: kube-dns}\n  ports:\n"
	"  - {name: dns, port: 53, protocol: UDP, targetPort: dns}\n"
	"  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: dns-tcp}\n";

static int dns_up(unsigned int family)
{
	char *doc = NULL;
	int ret;

	/* Its ClusterIPs: the .10 of each family the lab has. */
	if (asprintf(&doc, dns_manifest,
		     family == LAB_FAM_DUAL ? LAB_DNS_IP ", \"" LAB_DNS_IP6 "\"" :
		     family == LAB_FAM_V6 ? "\"" LAB_DNS_IP6 "\"" : LAB_DNS_IP,
		     family == LAB_FAM_DUAL ? "  ipFamilyPolicy: RequireDualStack\n" : "") < 0)
		return 1;
	ret = lab_apply_doc("the cluster's DNS", doc, true);
	free(doc);
	return ret;
}

/*
 * --ipv6-only-nodes LIST: "N[,N...]", each 1..LAB_MAX_NODES, into ul6[N]
 * (LAB_MAX_NODES + 1 of them). 0 or -EINVAL.
 */
static int ul6_nodes_parse(const char *arg, bool *ul6)
{
	const char *p = arg;
	unsigned long v;
	char *end;

	do {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v < 1 || v > LAB_MAX_NODES || (*end && *end != ','))
			return -EINVAL;
		ul6[v] = true;
		p = end + 1;
	} while (*end);
	return 0;
}

/*
 * An up option NAME of two words: *on, ARG is on_word; anything else said
 * ("lab up: --NAME ARG: OFF or ON") and -EINVAL.
 */
static int up_word(const char *name, const char *arg, const char *off_word, const char *on_word,
		   bool *on)
{
	if (strcmp(arg, off_word) && strcmp(arg, on_word))
		return said(-EINVAL, "lab up: --%s %s: %s or %s\n", name, arg, off_word, on_word);
	*on = !strcmp(arg, on_word);
	return 0;
}

static const struct pt_opt lab_up_opts[] = {
	{ "nodes", 'n', true, 'n', 0, "N", "nodes n1..nN (default 1)" },
	{ "dns", 0, false, 'd', 0, NULL, "the cluster's DNS, Service kube-system/kube-dns" },
	{ "kube-proxy", 0, true, 'k', 0, "none|iptables", "who translates Services (none: xcnid)" },
	{ "node-port-range", 0, true, 'r', 0, "MIN-MAX", "NodePorts' range (30000-32767)" },
	{ "node-port-mode", 0, true, 'm', 0, "snat|dsr", "xcnid's --node-port-mode" },
	{ "ip-family", 0, true, 'f', 0, "ipv4|ipv6|dual", "the pods' and Services' families" },
	{ "agent-arg", 0, true, 'a', 0, "--OPT[=VAL]", "one more xcnid option (repeatable)" },
	{ "ipv6-only-nodes", 0, true, 'u', 0, "N[,N...]", "these nodes' underlay IPv6 alone" },
	{ "tunnel-family", 0, true, 't', 0, "auto|ipv6", "Geneve's family between dual nodes" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};
#define UP_SYN "lab up [OPTIONS]"

/*
 * up's options: -1 to go on, else the exit code. ul6: --ipv6-only-nodes,
 * ul6[i] for node i (LAB_MAX_NODES + 1 of them).
 */
static int up_args(int argc, char **argv, unsigned long *nodes, bool *dns, bool *kp_none,
		   struct lab *lab, bool *ul6)
{
	long v;
	int c;

	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_up_opts, false, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (lab_num(optarg, 1, LAB_MAX_NODES, &v))
				return said(2, "lab up: --nodes %s: a number from 1 to %d\n",
					    optarg, LAB_MAX_NODES);
			*nodes = (unsigned long)v;
			break;
		case 'd': *dns = true; break;
		case 'a':
			if (strncmp(optarg, "--", 2) || strlen(optarg) >= LAB_AGENT_ARG_LEN ||
			    lab->nagent_args == LAB_MAX_AGENT_ARGS) {
				return said(2, "lab up: --agent-arg %s: one xcnid option as "
					    "--NAME=VALUE or --NAME, under %d characters, at most "
					    "%d of them\n", optarg, LAB_AGENT_ARG_LEN,
					    LAB_MAX_AGENT_ARGS);
			}
			snprintf(lab->agent_args[lab->nagent_args++], LAB_AGENT_ARG_LEN, "%s", optarg);
			break;
		case 'f':
			lab->family = lab_family_parse(optarg);
			if (!lab->family)
				return said(2, "lab up: --ip-family %s: ipv4, ipv6 or dual\n",
					    optarg);
			break;
		case 'k':
			if (up_word("kube-proxy", optarg, "iptables", "none", kp_none))
				return 2;
			break;
		case 'm':
			if (up_word("node-port-mode", optarg, "snat", "dsr", &lab->np_dsr))
				return 2;
			break;
		case 'r':
			if (svc_nodeport_range_parse(optarg, &lab->np_min, &lab->np_max))
				return said(2, "lab up: --node-port-range %s: MIN-MAX, 1 <= MIN <= "
					    "MAX <= 65535 (e.g. 30000-32767)\n", optarg);
			break;
		case 'u':
			if (ul6_nodes_parse(optarg, ul6))
				return said(2, "lab up: --ipv6-only-nodes %s: node numbers, comma-"
					       "separated (e.g. 2,3)\n", optarg);
			lab->ul_mixed = true;
			break;
		case 't':
			if (up_word("tunnel-family", optarg, "auto", "ipv6", &lab->tun6))
				return 2;
			break;
		default: return pt_usage(c == 'h' ? stdout : stderr, UP_SYN, lab_up_opts);
		}
	}
	if (optind < argc)
		return pt_usage(stderr, UP_SYN, lab_up_opts);
	if (lab->np_dsr && !*kp_none)
		return said(2, "lab up: --node-port-mode dsr is xcnid's, with --kube-proxy none\n");
	/* Only a dual stack lab's nodes have an address of each family to choose from. */
	if (lab->tun6 && lab->family != LAB_FAM_DUAL)
		return said(2, "lab up: --tunnel-family ipv6 chooses between the underlay "
			       "families of a dual stack lab's nodes (--ip-family dual)\n");
	if (lab->ul_mixed) {
		unsigned long n6 = 0;

		for (unsigned long i = 1; i <= LAB_MAX_NODES; i++) {
			if (ul6[i] && i > *nodes)
				return said(2, "lab up: --ipv6-only-nodes: node %lu, but the lab "
					    "has %lu node(s)\n", i, *nodes);
			n6 += ul6[i];
		}
		/* The lab plays kube-proxy over the nodes' IPv4 addresses; a node with
		 * none would have rules for an address it lacks. */
		if (lab->family != LAB_FAM_DUAL || !*kp_none || n6 == *nodes)
			return said(2, "lab up: --ipv6-only-nodes mixes nodes in a dual stack lab "
				    "(--ip-family dual) with --kube-proxy none, and keeps at least "
				    "one node of both families (all IPv6 alone: --ip-family "
				    "ipv6)\n");
	}
	return -1;
}

/*
 * Everything of a new lab, in order: its directories, lab.json, the pin root,
 * the underlay and the outside, the nodes and their agents, their Node
 * objects. 0, or -1 with the lab half made (lab_teardown copes with that).
 */
static int up_build(struct lab *lab, unsigned long nodes, const char *xcnid, const char *xdp,
		    const bool *ul6)
{
	const bool manifests = true;
	char path[PATH_MAX];
	int err;

	lab->nodes = calloc(nodes, sizeof(*lab->nodes));
	if (!lab->nodes)
		return -1;
	lab_path(lab, path, sizeof(path), "manifests");
	if (mkdir(path, 0755) && errno != EEXIST)
		return said(-1, "lab up: mkdir %s: %s\n", path, strerror(errno));
	lab_path(lab, path, sizeof(path), "pods");
	if (mkdir(path, 0755) && errno != EEXIST)
		return said(-1, "lab up: mkdir %s: %s\n", path, strerror(errno));
	/* From here on lab.json exists, so `lab down` can clean up whatever happens. */
	if (lab_state_save(lab))
		return -1;
	err = xcni_bpffs_ensure(LAB_PIN_ROOT);
	if (err || (mkdir(LAB_PIN_ROOT, 0700) && errno != EEXIST))
		return said(-1, "lab up: %s: %s\n", LAB_PIN_ROOT, strerror(err ? -err : errno));
	if (lab_underlay_create(lab) || lab_outside_create(lab) || lab_outside_serve(lab))
		return -1;
	for (unsigned int i = 1; i <= nodes; i++)
		if (lab_node_start(lab, i, xcnid, xdp, manifests, ul6[i]))
			return -1;
	if (lab_nodes_wait_pinned(lab))
		return -1;
	for (size_t i = 0; i < lab->nnodes; i++)
		if (lab_write_node_object(lab, &lab->nodes[i]))
			return -1;
	return lab_sync(lab) ? -1 : 0;
}

static int cmd_up(int argc, char **argv)
{
	char xcnid[PATH_MAX], xcni[PATH_MAX], nip[LAB_ADDR6_LEN];
	/* Services translated by xcnid in BPF unless told otherwise: the mode the README recommends. */
	bool dns = false, kp_none = true;
	const char *xdp = getenv("XCNI_LAB_XDP");
	unsigned long nodes = 1;
	struct lab lab = { .lock_fd = -1, .np_min = SVC_NODEPORT_MIN, .np_max = SVC_NODEPORT_MAX,
			   .family = LAB_FAM_V4 };
	static struct lab made; /* lab_create's: the directory and its lock */
	bool ul6[LAB_MAX_NODES + 1] = { false };
	unsigned int family;
	int ret;

	ret = up_args(argc, argv, &nodes, &dns, &kp_none, &lab, ul6);
	if (ret >= 0)
		return ret;
	if (!xdp || !*xdp)
		xdp = LAB_XDP_DEFAULT;
	if (strcmp(xdp, "auto") && strcmp(xdp, "native") && strcmp(xdp, "generic") &&
	    strcmp(xdp, "tc") && strcmp(xdp, "off")) {
		return said(2, "lab up: XCNI_LAB_XDP=%s: auto, native, generic, tc or off\n", xdp);
	}
	if (lab_find_bin("xcnid", "XCNID_BIN", xcnid, sizeof(xcnid)) ||
	    lab_find_bin("xcni", "XCNI_BIN", xcni, sizeof(xcni)))
		return 1;
	/* lab_create starts a struct afresh: what it made and took goes into lab, where
	 * every option up_args put stays (copied the other way, one once was not:
	 * --node-port-mode dsr ran SNAT). */
	if (lab_create(&made))
		return 1;
	memcpy(lab.dir, made.dir, sizeof(lab.dir));
	lab.created_dir = made.created_dir;
	lab.lock_fd = made.lock_fd;
	lab.kube_proxy_none = kp_none;
	/* lab_teardown copes with a half-made lab, so every failure from here goes through it. */
	if (up_build(&lab, nodes, xcnid, xdp, ul6)) {
		fprintf(stderr, "lab up: failed; removing what was made\n");
		lab_teardown(&lab);
		lab_close(&lab);
		return 1;
	}
	for (size_t i = 0; i < lab.nnodes; i++)
		printf("node/%s up: netns %s, pod CIDR %s%s%s, underlay " LAB_UL_DEV " %s, XDP %s, xcnid PID %d\n",
		       lab.nodes[i].name, lab.nodes[i].netns, lab.nodes[i].cidr,
		       *lab.nodes[i].cidr && *lab.nodes[i].cidr6 ? "," : "", lab.nodes[i].cidr6,
		       lab_node_addr(&lab, &lab.nodes[i], nip, sizeof(nip)),
		       lab_node_xdp(&lab.nodes[i]), (int)lab.nodes[i].xcnid.pid);
	printf("outside up: netns " LAB_OUT_NETNS ", %s (via %s), listener PID %d on 80/tcp and "
	       "53/udp\n", lab_out_addr(&lab), lab_ul_v6only(&lab) ? LAB_UL_GW6 : LAB_UL_GW,
	       (int)lab.outside_server.pid);
	printf("kube-proxy: %s; NodePorts %u-%u on every node's " LAB_UL_DEV " address; IP family %s\n",
	       lab.kube_proxy_none ? "none (xcnid --kube-proxy-replacement translates Services)" :
	       "iptables", lab.np_min, lab.np_max, lab_family_word(lab.family));
	family = lab.family;
	lab_close(&lab);
	return dns ? dns_up(family) : 0;
}

static const struct pt_opt none[] = { {} };

static int cmd_down(int argc, char **argv)
{
	struct lab lab;
	int err;

	if (argc > 1)
		return pt_usage(strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? stderr :
				stdout, "lab down", none);
	err = lab_open(&lab, true);
	if (err)
		return err == -ENOENT ? 0 : 1;
	err = lab_teardown(&lab);
	lab_close(&lab);
	if (!err)
		printf("lab down: everything removed\n");
	return err ? 1 : 0;
}

/* ---- get ------------------------------------------------------------------ */

/*
 * The command that shows a node's maps: xcnictl's --node NAME enters the node's
 * netns and takes its pin directory from the lab's state.
 */
static void inspect_cmd(const struct lab_node *n, char *out, size_t len)
{
	snprintf(out, len, "xcnictl --node %s ct list", n->name);
}

static void ports_str(const struct lab_pod *p, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->nports && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%u/%s", i ? "," : "", p->ports[i].port,
					proto_name(p->ports[i].proto));
}

static int get_json(struct lab *lab)
{
	json_t *root = json_object(), *nodes = json_array(), *pods = json_array();
	char ports[512], inspect[64], nip[LAB_ADDR6_LEN];
	int err = -ENOMEM;

	if (!root || !nodes || !pods)
		goto out;
	for (size_t i = 0; i < lab->nnodes; i++) {
		const struct lab_node *n = &lab->nodes[i];

		inspect_cmd(n, inspect, sizeof(inspect));
		json_array_append_new(nodes, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:b,s:s,s:b}", "name",
						       n->name, "netns", n->netns, "podCIDR", n->cidr,
						       "podCIDR6", n->cidr6,
						       "internalIP",
						       lab_node_addr(lab, n, nip, sizeof(nip)), "registered",
						       lab_node_registered(lab, n), "pinDir", n->pin,
						       "xcnidPid", (int)n->xcnid.pid, "xcnidRunning",
						       lab_proc_alive(&n->xcnid), "inspect", inspect,
						       "ipv6Only", lab_node_ul6only(lab, n)));
	}
	for (size_t i = 0; i < lab->npods; i++) {
		const struct lab_pod *p = &lab->pods[i];

		ports_str(p, ports, sizeof(ports));
		json_array_append_new(pods, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:b,s:i,s:b}",
						      "namespace", p->ns, "name", p->name, "node", p->node,
						      "ip", p->ip, "ip6", p->ip6, "netns", p->netns, "containerId",
						      p->cid, "serverPid", (int)p->server.pid,
						      "ports", ports, "terminating", p->term_until != 0,
						      "terminationGracePeriodSeconds", (int)p->grace_s,
						      "hostNetwork", p->host_network));
	}
	json_object_update_new(root, json_pack("{s:O,s:O,s:o,s:s,s:o,s:s,s:s,s:s,s:o}", "nodes", nodes,
					       "pods", pods, "services", lab_svc_json(lab), "kubeProxy",
					       lab->kube_proxy_none ? "none" : "iptables", "nodePortRange",
					       json_sprintf("%u-%u", lab->np_min, lab->np_max), "ipFamily",
					       lab_family_word(lab->family), "nodePortMode",
					       lab->np_dsr ? "dsr" : "snat", "tunnelFamily",
					       lab->tun6 ? "ipv6" : "auto", "agentArgs",
					       lab_agent_args_json(lab)));
	if (lab->outside)
		json_object_set_new(root, "outside",
				    json_pack("{s:s,s:s,s:i,s:b}", "netns", LAB_OUT_NETNS, "ip",
					      lab_out_addr(lab), "serverPid", (int)lab->outside_server.pid,
					      "serverRunning", lab_proc_alive(&lab->outside_server)));
	err = json_dumpf(root, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF ? -EIO : 0;
out:
	json_decref(nodes);
	json_decref(pods);
	json_decref(root);
	return err;
}

static int svc_text(struct lab *lab)
{
	static const struct pt_col cols[] = {
		{ "SERVICE", NULL, PT_STR }, { "CLUSTER-IP", NULL, PT_STR },
		{ "PORTS", NULL, PT_STR }, { "ENDPOINTS", NULL, PT_STR },
	};
	json_t *svcs = lab_svc_json(lab), *s, *v;
	struct ptable *t;
	size_t i, j;
	int err;

	if (!svcs || !json_array_size(svcs)) {
		json_decref(svcs);
		return 0;
	}
	t = pt_new(cols, ARRAY_SIZE(cols), 0);
	if (!t) {
		json_decref(svcs);
		return -ENOMEM;
	}
	json_array_foreach(svcs, i, s) {
		char buf[1024] = "";
		size_t off = 0;

		pt_strf(t, "%s/%s", json_string_value(json_object_get(s, "namespace")),
			json_string_value(json_object_get(s, "name")));
		/* Dual stack: every ClusterIP, the first family's first (kubectl shows them so with -o wide). */
		json_array_foreach(json_object_get(s, "clusterIPs"), j, v)
			xcni_bufadd(buf, sizeof(buf), &off, "%s%s", j ? "," : "", json_string_value(v));
		pt_str(t, off ? buf : json_string_value(json_object_get(s, "clusterIP")));
		buf[0] = '\0';
		off = 0;
		/* As kubectl: PORT[:NODEPORT]/PROTO, then where it goes on the pods. */
		json_array_foreach(json_object_get(s, "ports"), j, v) {
			json_int_t np = json_integer_value(json_object_get(v, "nodePort"));

			xcni_bufadd(buf, sizeof(buf), &off, "%s%lld", j ? "," : "",
				    json_integer_value(json_object_get(v, "port")));
			if (np)
				xcni_bufadd(buf, sizeof(buf), &off, ":%lld", np);
			xcni_bufadd(buf, sizeof(buf), &off, "/%s->%s", jstr(v, "protocol"),
				    jstr(v, "targetPort"));
		}
		pt_str(t, buf);
		buf[0] = '\0';
		off = 0;
		json_array_foreach(json_object_get(s, "endpoints"), j, v)
			xcni_bufadd(buf, sizeof(buf), &off, "%s%s", j ? "," : "", json_string_value(v));
		pt_str(t, *buf ? buf : "<none>");
	}
	putchar('\n');
	err = pt_print(t, stdout, false);
	pt_free(t);
	json_decref(svcs);
	return err;
}

static int get_text(struct lab *lab)
{
	static const struct pt_col ncols[] = {
		{ "NODE", NULL, PT_STR }, { "NETNS", NULL, PT_STR }, { "POD CIDR", NULL, PT_STR },
		{ "INTERNAL IP", NULL, PT_STR }, { "OBJECT", NULL, PT_STR },
		{ "XCNID", NULL, PT_STR }, { "PIN DIR", NULL, PT_STR }, { "INSPECT", NULL, PT_STR },
	};
	static const struct pt_col pcols[] = {
		{ "POD", NULL, PT_STR }, { "NODE", NULL, PT_STR }, { "IP", NULL, PT_STR },
		{ "NETNS", NULL, PT_STR }, { "SERVER", NULL, PT_STR }, { "PORTS", NULL, PT_STR },
	};
	struct ptable *nt = pt_new(ncols, ARRAY_SIZE(ncols), 0);
	struct ptable *ptab = pt_new(pcols, ARRAY_SIZE(pcols), 0);
	char ports[512], inspect[64], nip[LAB_ADDR6_LEN];
	int err;

	for (size_t i = 0; i < lab->nnodes; i++) {
		const struct lab_node *n = &lab->nodes[i];

		pt_str(nt, n->name);
		pt_str(nt, n->netns);
		if (*n->cidr && *n->cidr6)
			pt_strf(nt, "%s,%s", n->cidr, n->cidr6);
		else
			pt_str(nt, *n->cidr ? n->cidr : n->cidr6);
		pt_str(nt, lab_node_addr(lab, n, nip, sizeof(nip)));
		/* Deleted: the netns and its pods stay, the other nodes no longer reach them. */
		pt_str(nt, lab_node_registered(lab, n) ? "registered" : "deleted");
		pt_strf(nt, "%d%s", (int)n->xcnid.pid, lab_proc_alive(&n->xcnid) ? "" : " (gone)");
		pt_str(nt, n->pin);
		inspect_cmd(n, inspect, sizeof(inspect));
		pt_str(nt, inspect);
	}
	for (size_t i = 0; i < lab->npods; i++) {
		const struct lab_pod *p = &lab->pods[i];

		ports_str(p, ports, sizeof(ports));
		/* A pod in its grace period (lab delete): its listener still serves. */
		pt_strf(ptab, "%s/%s%s", p->ns, p->name, p->term_until ? " (terminating)" : "");
		pt_str(ptab, p->node);
		if (*p->ip && *p->ip6)
			pt_strf(ptab, "%s,%s", p->ip, p->ip6);
		else
			pt_str(ptab, *p->ip ? p->ip : p->ip6);
		/* A hostNetwork pod is its node's netns (and addresses). */
		if (p->host_network)
			pt_strf(ptab, "%s (hostNetwork)", p->netns);
		else
			pt_str(ptab, p->netns);
		if (p->server.pid)
			pt_strf(ptab, "%d%s", (int)p->server.pid,
				lab_proc_alive(&p->server) ? "" : " (gone)");
		else
			pt_null(ptab);
		pt_str(ptab, *ports ? ports : NULL);
	}
	err = pt_print(nt, stdout, false);
	if (!err && lab->npods) {
		putchar('\n');
		err = pt_print(ptab, stdout, false);
	} else if (!err) {
		printf("\n(no pods: xcnictl lab apply -f MANIFEST)\n");
	}
	if (!err)
		printf("\nkube-proxy: %s; NodePorts %u-%u; IP family %s\n", lab->kube_proxy_none ?
		       "none (xcnid --kube-proxy-replacement translates Services)" : "iptables",
		       lab->np_min, lab->np_max, lab_family_word(lab->family));
	if (!err)
		err = svc_text(lab);
	if (!err && lab->outside)
		printf("\noutside: netns " LAB_OUT_NETNS ", %s, listener %d%s (80/tcp, 53/udp)\n",
		       lab_out_addr(lab), (int)lab->outside_server.pid, lab_proc_alive(&lab->outside_server) ? "" : " (gone)");
	pt_free(nt);
	pt_free(ptab);
	return err;
}

static const struct pt_opt lab_get_opts[] = {
	{ "json", 'j', false, 'j', 0, NULL, "one JSON object" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};

static int cmd_get(int argc, char **argv)
{
	bool json = false;
	struct lab lab;
	int c, err;

	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_get_opts, false, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h':
			return pt_usage(stdout, "lab get [--json]", lab_get_opts);
		default: return 2;
		}
	}
	if (optind < argc)
		return said(2, "lab get: unexpected argument %s\n", argv[optind]);
	if (lab_open(&lab, false))
		return 1;
	err = json ? get_json(&lab) : get_text(&lab);
	lab_close(&lab);
	if (err)
		fprintf(stderr, "lab get: %s\n", strerror(-err));
	return err ? 1 : 0;
}

/* ---- the command table ------------------------------------------------------ */

struct lab_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const struct pt_opt *opts; /* what it parses with; xcnictl checks and completes them */
	const char *help; /* NULL: hidden */
};


static const struct lab_cmd cmds[] = {
	{ "up", cmd_up, lab_up_opts,
	  "up [OPTIONS]                   create the nodes and their agents" },
	{ "down", cmd_down, none, "down                           remove everything the lab made" },
	{ "apply", lab_cmd_apply, lab_apply_opts,
	  "apply -f FILE|DIR|-            create/update Namespaces, Pods, NetworkPolicies, Nodes" },
	{ "delete", lab_cmd_delete, lab_delete_opts,
	  "delete -f FILE|DIR|-           delete them (a Namespace takes its pods along)" },
	{ "get", cmd_get, lab_get_opts, "get [--json]                   nodes and pods (alias: status)" },
	{ "status", cmd_get, lab_get_opts, NULL },
	{ "probe", lab_cmd_probe, lab_probe_opts,
	  "probe NS/POD TO PORT/PROTO     can the pod reach TO (a pod, node, address, Service)?" },
	{ "matrix", lab_cmd_matrix, lab_matrix_opts,
	  "matrix PORT/PROTO...           every pod to every pod" },
	{ "exec", lab_cmd_exec, none,
	  "exec NS/POD -- CMD...          run a command in a pod's network namespace" },
	{ "ui", lab_cmd_ui, lab_ui_opts,
	  "ui [--listen HOST:PORT]        the service map of every node's flows" },
	{ "serve", lab_cmd_serve, lab_serve_opts, NULL },
};

const struct pt_opt *lab_cmd_opts(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(name, cmds[i].name))
			return cmds[i].opts;
	return NULL;
}

const char *lab_cmd_name(size_t i)
{
	for (size_t j = 0; j < ARRAY_SIZE(cmds); j++)
		if (cmds[j].help && !i--)
			return cmds[j].name;
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: xcnictl lab COMMAND [ARGS]   (COMMAND --help for more)\n"
		   "A Kubernetes cluster made of network namespaces on this machine, driven by manifests.\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (cmds[i].help)
			fprintf(f, "  %s\n", cmds[i].help);
	fprintf(f, "\nEnvironment: XCNI_LAB_DIR (state, default " LAB_DEFAULT_DIR "), XCNI_BIN, XCNID_BIN,\n"
		   "XCNI_LAB_XDP (xcnid's --xdp-mode, default " LAB_XDP_DEFAULT "),\n"
		   "XCNI_LAB_UL_NIC=NODE_DEV:SWITCH_DEV (node n1's underlay on two NICs here, one wire),\n"
		   "XCNI_LAB_NO_WAIT=1 (do not wait for the agents to apply a change).\n");
}

int lab_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "xcnictl lab: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
