// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's nodes: node i is netns xcl-n<i>, plugged into the underlay, with
 * its network config for the plugin and its own xcnid (pins under
 * /sys/fs/bpf/xcni-lab/n<i>); its Node object in the cluster state, as the
 * kubelet registers it; and waiting until every agent applied a change.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "lib/system/util.h"
#include "xcni_shared.h"
#include "lab/node.h"
#include "lib/system/bpfpin.h"
#include "lib/system/clock.h"

/* Wall time an agent may take to load and pin its programs. Verifying them
 * takes ~1 s on an idle machine and has taken past 15 s at load 20, past
 * 60 s in a VM under software emulation (scripts/kernels.sh, TCG: two dual
 * stack agents) and past 300 s there on 6.1 (its verifier walks 4-6x 6.18's
 * instructions) with five VMs on the 2-core host; an agent that exits is
 * seen at once, so a long wait costs only a truly stuck agent. */
#define PIN_WAIT_MS 1800000

/* ---- the node's cgroup: socket-level load balancing for its pods ------------ */

/*
 * <cgroup2 mount>/xcni-lab/<node>: the node's xcnid attaches its socket
 * programs there (--cgroup-root), and the pods' processes join it, so each
 * node's hooks see its own pods only. 0, or -ENOENT without a cgroup2 mount.
 */
static int node_cgroup_path(const struct lab_node *n, char *buf, size_t len, bool parent)
{
	char line[PATH_MAX + 64], mnt[PATH_MAX], type[32];
	FILE *f = fopen("/proc/self/mounts", "re");
	int err = -ENOENT;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %4095s %31s", mnt, type) == 2 && !strcmp(type, "cgroup2")) {
			err = snprintf(buf, len, "%s/" LAB_CGROUP_DIR "%s%s", mnt, parent ? "" : "/",
				       parent ? "" : n->name) >= (int)len ? -ENAMETOOLONG : 0;
			break;
		}
	if (f)
		fclose(f);
	return err;
}

int lab_node_cgroup_enter(const struct lab_node *n, pid_t pid)
{
	char path[PATH_MAX + 16];
	int fd, err = 0;

	if (node_cgroup_path(n, path, sizeof(path) - 16, false) || access(path, F_OK))
		return 0; /* the node has none: no socket LB there */
	strcat(path, "/cgroup.procs");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	/* "0" moves the writer itself. */
	if (fd < 0 || dprintf(fd, "%d\n", (int)pid) < 0)
		err = -errno;
	xcni_close(&fd);
	if (err)
		fprintf(stderr, "lab: node %s: joining %s: %s\n", n->name, path, strerror(-err));
	return err;
}

/* Makes the node's cgroup (and the lab's above it); its path in buf. */
static int node_cgroup_make(const struct lab_node *n, char *buf, size_t len)
{
	int err = node_cgroup_path(n, buf, len, true);

	if (!err && mkdir(buf, 0755) && errno != EEXIST)
		err = -errno;
	if (!err)
		err = node_cgroup_path(n, buf, len, false);
	if (!err && mkdir(buf, 0755) && errno != EEXIST)
		err = -errno;
	if (err)
		fprintf(stderr, "lab: node %s: its cgroup %s: %s (socket load balancing needs a "
			"cgroup2 mount)\n", n->name, buf, strerror(-err));
	return err;
}

/* Removes the node's cgroup (its pods are gone), and the lab's when it is the last. */
static int node_cgroup_remove(const struct lab_node *n)
{
	char path[PATH_MAX];
	int err = 0;

	if (node_cgroup_path(n, path, sizeof(path), false))
		return 0;
	if (rmdir(path) && errno != ENOENT) {
		err = -errno;
		fprintf(stderr, "lab: rmdir %s: %s (a process of the node's pods still runs)\n",
			path, strerror(errno));
	}
	if (!node_cgroup_path(n, path, sizeof(path), true) && rmdir(path) && errno != ENOENT &&
	    errno != ENOTEMPTY && errno != EBUSY)
		fprintf(stderr, "lab: rmdir %s: %s\n", path, strerror(errno));
	return err;
}

/* ---- starting and stopping -------------------------------------------------- */

static void log_tail(const char *path, int lines)
{
	char *buf = NULL, *p;

	if (!lab_read_file(path, &buf) && *buf) {
		p = buf + strlen(buf);
		while (p > buf && lines >= 0) {
			p--;
			if (*p == '\n')
				lines--;
		}
		fprintf(stderr, "---- %s (tail)\n%s%s", path, p == buf ? "" : "...", p);
	}
	free(buf);
}

static int node_net_conf(struct lab *lab, const struct lab_node *n)
{
	char path[PATH_MAX], state[PATH_MAX], ipam[PATH_MAX];
	json_t *conf, *ranges = json_array();
	int err = -ENOMEM;

	lab_path(lab, state, sizeof(state), "%s/state", n->name);
	lab_path(lab, ipam, sizeof(ipam), "%s/ipam", n->name);
	/*
	 * One host-local range set per family, IPv4 first (as the kubelet lists
	 * podCIDRs); no routes: the plugin gives each family a default route.
	 */
	if (!ranges)
		goto out;
	if (*n->cidr && json_array_append_new(ranges, json_pack("[{s:s}]", "subnet", n->cidr)))
		goto out;
	if (*n->cidr6 && json_array_append_new(ranges, json_pack("[{s:s}]", "subnet", n->cidr6)))
		goto out;
	conf = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:{s:s,s:O,s:s}}", "cniVersion", "1.0.0",
			 "name", "xcni-lab", "type", "xcni", "mtu", lab_ul_mtu6(lab) ? LAB_POD_MTU6 : LAB_POD_MTU, "stateDir", state, "pinDir",
			 n->pin, "ipam", "type", "host-local", "ranges", ranges, "dataDir", ipam);
	if (!conf)
		goto out;
	lab_path(lab, path, sizeof(path), "%s/net.json", n->name);
	err = lab_write_json(path, conf);
	json_decref(conf);
out:
	json_decref(ranges);
	return err;
}

/* Appends option k and its value v to argv at *a. */
static void arg2(char **argv, int *a, const char *k, const char *v)
{
	argv[(*a)++] = (char *)k;
	argv[(*a)++] = (char *)v;
}

/*
 * Node i: its netns, its port on the underlay, network config and agent;
 * recorded in lab.json as soon as each exists.
 */
int lab_node_start(struct lab *lab, unsigned int i, const char *xcnid, const char *xdp,
		   bool manifests, bool ul6only)
{
	char dir[PATH_MAX], log[PATH_MAX], mdir[PATH_MAX], netns[PATH_MAX], cg[PATH_MAX];
	struct lab_node *n = &lab->nodes[lab->nnodes];
	char *argv[32 + LAB_MAX_AGENT_ARGS], nprange[16], svcr[64], nip[2 * LAB_ADDR6_LEN];
	char a6[LAB_ADDR6_LEN];
	int a = 0, err;

	memset(n, 0, sizeof(*n));
	n->ul6only = ul6only;
	snprintf(n->name, sizeof(n->name), "n%u", i);
	snprintf(n->netns, sizeof(n->netns), LAB_NETNS_PREFIX "n%u", i);
	if (lab->family & LAB_FAM_V4)
		snprintf(n->cidr, sizeof(n->cidr), LAB_POD_NET4 "%u.0/24", i);
	if (lab->family & LAB_FAM_V6)
		snprintf(n->cidr6, sizeof(n->cidr6), LAB_POD_NET6 "%x::/64", i);
	snprintf(n->ip, sizeof(n->ip), LAB_UL_PREFIX "%u", i);
	snprintf(n->pin, sizeof(n->pin), LAB_PIN_ROOT "/n%u", i);
	n->manifests = manifests;
	/* Real NICs for n1's underlay: their names checked before anything is made. */
	if (i == 1 && (err = lab_underlay_nic_take(n)))
		return err;
	if (!access(n->pin, F_OK))
		return said(-EEXIST, "lab: %s exists already (another lab, or one not taken "
			    "down)\n", n->pin);
	lab_path(lab, dir, sizeof(dir), "%s", n->name);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		err = -errno;
		return said(err, "lab: mkdir %s: %s\n", dir, strerror(-err));
	}
	err = node_net_conf(lab, n);
	if (err)
		return err;
	err = lab_netns_create(n->netns);
	if (err) {
		lab_rm_tree(dir);
		return err;
	}
	/* Counted only now: teardown must never delete a netns of the same name it did not make. */
	lab->nnodes++;
	err = lab_state_save(lab);
	if (err)
		return err;
	/* Before the agent: xcnid resolves its underlay device once, at start. */
	err = lab_underlay_join(lab, n, !strcmp(xdp, "native") || !strcmp(xdp, "auto"));
	if (err)
		return err;
	lab_path(lab, log, sizeof(log), "%s/xcnid.log", n->name);
	lab_path(lab, mdir, sizeof(mdir), "manifests");
	snprintf(nprange, sizeof(nprange), "%u-%u", lab->np_min, lab->np_max);
	lab_netns_path(n->netns, netns, sizeof(netns));
	argv[a++] = (char *)xcnid;
	arg2(argv, &a, "--pin-dir", n->pin);
	if (*n->cidr)
		arg2(argv, &a, "--pod-cidr", n->cidr);
	if (*n->cidr6)
		arg2(argv, &a, "--pod-cidr6", n->cidr6);
	/* Both Service ranges: flows to an IPv6 ClusterIP go to kube-proxy (ip6tables)
	 * before egress is judged, as IPv4 ones do. */
	if (lab->family & LAB_FAM_V6) {
		argv[a++] = "--service-cidr";
		snprintf(svcr, sizeof(svcr), "%s/%d,%s/%d", LAB_SVC_NET, LAB_SVC_PLEN, LAB_SVC_NET6,
			 LAB_SVC_PLEN6);
		argv[a++] = svcr;
	}
	arg2(argv, &a, "--node-name", n->name);
	arg2(argv, &a, "--underlay-dev", LAB_UL_DEV);
	/*
	 * An ipv6 lab's underlay is IPv6 alone: Geneve from and to the nodes' IPv6
	 * addresses. With --ipv6-only-nodes a node of both families is told both
	 * (node_ip and node_ip6): it reaches the IPv6-only nodes over IPv6, and
	 * SNATs an IPv4 NodePort's flow to one of their pods to its IPv4 address.
	 * --tunnel-family ipv6 tells every node of both families both too, and
	 * xcnid's --tunnel-family ipv6: Geneve over IPv6 between them as well.
	 */
	arg2(argv, &a, "--node-ip", lab_node_addr(lab, n, nip, sizeof(nip)));
	if ((lab->ul_mixed || lab->tun6) && !n->ul6only) {
		err = lab_node_ip6(lab, n, a6, sizeof(a6));
		if (err)
			return err;
		snprintf(nip, sizeof(nip), "%s,%s", n->ip, a6);
		argv[a - 1] = nip;
	}
	if (lab->tun6 && !n->ul6only)
		arg2(argv, &a, "--tunnel-family", "ipv6");
	arg2(argv, &a, "--xdp-mode", xdp);
	/* Egress by DNS name (ClusterNetworkPolicy domainNames) wherever the
	 * kernel has bpf_loop (5.17), which the answers' parser needs. */
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, NULL) == 1)
		argv[a++] = "--fqdn-policy";
	if (manifests)
		arg2(argv, &a, "--manifests", mdir);
	/* kube-proxy none: the agent translates the Services the manifests hold. */
	if (lab->kube_proxy_none) {
		argv[a++] = "--kube-proxy-replacement";
		arg2(argv, &a, "--node-port-range", nprange);
		if (lab->np_dsr)
			arg2(argv, &a, "--node-port-mode", "dsr");
	}
	/* Last, so that getopt's last word wins where one repeats the lab's. */
	for (size_t k = 0; k < lab->nagent_args; k++)
		argv[a++] = lab->agent_args[k];
	argv[a] = NULL;
	/* An agent translating Services in BPF does it at the sockets of the node's pods too. */
	for (int k = 0; k < a; k++) {
		if (strcmp(argv[k], "--kube-proxy-replacement"))
			continue;
		err = node_cgroup_make(n, cg, sizeof(cg));
		if (err)
			return err;
		arg2(argv, &a, "--cgroup-root", cg);
		argv[a] = NULL;
		break;
	}
	err = lab_spawn_daemon(netns, argv, log, -1, LAB_AGENT_CAPS, &n->xcnid);
	if (err)
		return err;
	return lab_state_save(lab);
}

/* Waits until every agent pinned the programs xcni ADD attaches. */
int lab_nodes_wait_pinned(struct lab *lab)
{
	char p1[PATH_MAX + 32], p2[PATH_MAX + 32], log[PATH_MAX];
	int64_t deadline = xcni_mono_ms() + PIN_WAIT_MS;

	for (size_t i = 0; i < lab->nnodes; i++) {
		struct lab_node *n = &lab->nodes[i];

		snprintf(p1, sizeof(p1), "%s/" XCNI_PIN_PROG_FROM_POD, n->pin);
		snprintf(p2, sizeof(p2), "%s/" XCNI_PIN_PROG_TO_POD, n->pin);
		for (;;) {
			if (!access(p1, F_OK) && !access(p2, F_OK))
				break;
			waitpid(n->xcnid.pid, NULL, WNOHANG);
			if (!lab_proc_alive(&n->xcnid) || xcni_mono_ms() >= deadline) {
				fprintf(stderr, "lab: node %s: xcnid %s before pinning its programs under %s\n",
					n->name, lab_proc_alive(&n->xcnid) ? "timed out" : "exited",
					n->pin);
				lab_path(lab, log, sizeof(log), "%s/xcnid.log", n->name);
				log_tail(log, 15);
				return -ETIMEDOUT;
			}
			usleep(50 * 1000);
		}
	}
	return 0;
}


int lab_node_remove(struct lab *lab, struct lab_node *n)
{
	char path[PATH_MAX];
	int err = 0;

	lab_proc_stop(&n->xcnid);
	/* Only pins under the lab's own root: never anything a real xcnid owns. */
	if (!strncmp(n->pin, LAB_PIN_ROOT "/", strlen(LAB_PIN_ROOT "/")) && lab_rm_tree(n->pin))
		err = -EIO;
	if (lab_underlay_nic_return(n) || lab_netns_delete(n->netns))
		err = -EIO;
	if (node_cgroup_remove(n))
		err = -EIO;
	lab_path(lab, path, sizeof(path), "%s", n->name);
	if (lab_rm_tree(path))
		err = -EIO;
	return err;
}

/* ---- the Node object ------------------------------------------------------------ */

/*
 * The Node as the kubelet registers it: spec.podCIDR is what the node's IPAM
 * hands out, status.addresses its underlay address(es: IPv4, then IPv6 in an
 * ipv6 or dual stack lab); labels (if any) are the
 * ones a manifest gave, the hostname label always there.
 */
int lab_node_object_put(struct lab *lab, const struct lab_node *n, json_t *labels,
			enum lab_wr *res)
{
	/* podCIDR is the first of podCIDRs: IPv4 first in dual stack, as kube-controller-manager. */
	const char *first = *n->cidr ? n->cidr : n->cidr6;
	char path[PATH_MAX], a6[LAB_ADDR6_LEN], nip[LAB_ADDR6_LEN];
	json_t *doc, *l, *cidrs, *addrs;
	int err;

	/* The first InternalIP: the IPv6 one alone in an ipv6 lab (an IPv6-only node's). */
	doc = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s,s:[s]},s:{s:[{s:s,s:s},{s:s,s:s}]}}",
			"apiVersion", "v1", "kind", "Node", "metadata", "name", n->name, "labels",
			"kubernetes.io/hostname", n->name, "spec", "podCIDR", first, "podCIDRs",
			first, "status", "addresses", "type", "InternalIP", "address",
			lab_node_addr(lab, n, nip, sizeof(nip)), "type", "Hostname", "address",
			n->name);
	if (!doc)
		return -ENOMEM;
	/* Dual stack: a second InternalIP, after the IPv4 one (the Geneve
	 * underlay's), as the kubelet lists a dual-stack node's; an
	 * --ipv6-only-nodes node has its IPv6 one alone. */
	addrs = json_object_get(json_object_get(doc, "status"), "addresses");
	if (!lab_node_ul6only(lab, n) && lab_node_ip6(lab, n, a6, sizeof(a6)) == 0 && *a6 &&
	    json_array_insert_new(addrs, 1, json_pack("{s:s,s:s}", "type", "InternalIP", "address",
						      a6))) {
		json_decref(doc);
		return -ENOMEM;
	}
	cidrs = json_object_get(json_object_get(doc, "spec"), "podCIDRs");
	if (*n->cidr && *n->cidr6 && json_array_append_new(cidrs, json_string(n->cidr6))) {
		json_decref(doc);
		return -ENOMEM;
	}
	l = json_object_get(json_object_get(doc, "metadata"), "labels");
	if (json_is_object(labels) && json_object_update(l, labels)) {
		json_decref(doc);
		return -ENOMEM;
	}
	lab_object_file(lab, K8S_NODE, NULL, n->name, path, sizeof(path));
	err = lab_object_write(path, doc, res);
	json_decref(doc);
	return err;
}

int lab_write_node_object(struct lab *lab, const struct lab_node *n)
{
	enum lab_wr res;

	return lab_node_object_put(lab, n, NULL, &res);
}

bool lab_node_registered(const struct lab *lab, const struct lab_node *n)
{
	char path[PATH_MAX];

	lab_object_file(lab, K8S_NODE, NULL, n->name, path, sizeof(path));
	return !access(path, F_OK);
}


/* ---- the sync token --------------------------------------------------------- */

/* The generation the node's maps hold; -EIO with *why set when it failed one >= want. */
static int node_applied_gen(const struct lab_node *n, unsigned long long want,
			    unsigned long long *gen, char *why, size_t whylen)
{
	struct xcni_config cfg;
	int err = xcni_pin_read0(n->pin, "xcni_config", &cfg, sizeof(cfg));

	if (err)
		return err;
	*gen = cfg.applied_gen;
	if (cfg.failed_gen >= want && cfg.failed_gen > cfg.applied_gen) {
		snprintf(why, whylen, "%.*s", (int)strnlen(cfg.error, sizeof(cfg.error)), cfg.error);
		return -EIO;
	}
	return 0;
}

const char *lab_node_xdp(const struct lab_node *n)
{
	struct xcni_config cfg;

	if (xcni_pin_read0(n->pin, "xcni_config", &cfg, sizeof(cfg)))
		return "unknown";
	return cfg.xdp_mode == XDP_FLAGS_DRV_MODE ? "native" :
	       cfg.xdp_mode == XDP_FLAGS_SKB_MODE ? "generic" :
	       cfg.xdp_mode == XCNI_XDP_MODE_TC  ? "tc" : "off";
}

int lab_sync(struct lab *lab)
{
	const char *nowait = getenv("XCNI_LAB_NO_WAIT");
	unsigned long long gen, got = 0;
	char log[PATH_MAX], why[256];
	struct timespec t0, t;
	int err, r;

	err = lab_gen_bump(lab, &gen);
	if (err || (nowait && !strcmp(nowait, "1")))
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < lab->nnodes; i++) {
		struct lab_node *n = &lab->nodes[i];

		/* An agent started without --manifests never reports a generation. */
		if (!n->manifests)
			continue;
		for (;;) {
			r = node_applied_gen(n, gen, &got, why, sizeof(why));
			if (!r && got >= gen)
				break;
			if (r == -EIO) {
				/* The objects are in the cluster state; the maps keep the old policy. */
				return said(r, "lab: node %s: xcnid could not apply generation "
					    "%llu: %s\n", n->name, gen, why);
			}
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (!lab_proc_alive(&n->xcnid) ||
			    (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
				    LAB_SYNC_TIMEOUT_MS) {
				lab_path(lab, log, sizeof(log), "%s/xcnid.log", n->name);
				if (!lab_proc_alive(&n->xcnid))
					fprintf(stderr, "lab: node %s: its xcnid (PID %d) is gone; see %s\n",
						n->name, (int)n->xcnid.pid, log);
				else if (r)
					fprintf(stderr, "lab: node %s: cannot read %s/xcni_config: %s\n",
						n->name, n->pin, strerror(-r));
				else
					fprintf(stderr, "lab: node %s: xcnid did not catch up with cluster-state "
							"generation %llu within %d s (it reports %llu); see %s\n",
						n->name, gen, LAB_SYNC_TIMEOUT_MS / 1000, got, log);
				return -ETIMEDOUT;
			}
			usleep(20 * 1000);
		}
	}
	return 0;
}
