// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid, the node agent: loads the data-plane programs, pins them and their
 * maps under the pin dir, writes the node config, and on restart takes over
 * the pinned state (maps reused, programs swapped atomically in every link).
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "from_pod.skel.h"
#include "lib/system/bpfpin.h"
#include "lib/system/cidr.h"
#include "lib/observe/flows.h"
#include "lib/cluster/k8sapi.h"
#include "lib/system/killpoint.h"
#include "lib/system/log.h"
#include "lib/policy/policy.h"
#include "lib/policy/polsync.h"
#include "lib/services/svc.h"
#include "lib/services/svcsync.h"
#include "lib/cluster/store.h"
#include "to_pod.skel.h"
#include "agent/flows.h"
#include "agent/masq.h"
#include "agent/http.h"
#include "agent/metrics.h"
#include "agent/ui.h"
#include "agent/overlay.h"
#include "agent/probe.h"
#include "agent/socklb.h"

#define XCNI_DEFAULT_SVC_CIDR "10.96.0.0/12"

struct opts {
	const char *pin_dir;
	const char *node_name;
	__u32 pod_cidr, pod_mask, gateway;
	__u8 pod_len;
	__u32 svc_cidr, svc_mask; /* the ClusterIP range; 0/0: none */
	__u8 svc_len;
	struct in6_addr svc6; /* the IPv6 ClusterIP range (host bits off); svc6_len 0: none */
	__u8 svc6_len;
	int once;
	const char *manifests; /* cluster state from a manifest directory */
	const char *kubeconfig; /* ... or from the API server, found through this file */
	int in_cluster; /* ... or through the pod's service account */
	struct overlay *ov; /* ov->underlay NULL: no overlay */
	const char *metrics_addr; /* NULL: no metrics endpoint */
	const char *ui_addr; /* --ui: NULL, no service map; else the same server as metrics */
	int http_remote; /* --http-allow-remote: a non-loopback metrics address is meant */
	__u32 trace_sample; /* trace one forwarded packet in N; 0: off */
	__u32 events_rate; /* events per CPU per second; 0: no limit */
	struct masq *mq; /* mq->on: masquerade pods' traffic leaving the cluster */
	int kpr; /* --kube-proxy-replacement: Services translated in BPF, their maps written here */
	unsigned int lb_flags; /* svc_build's: SVC_BUILD_MAGLEV with --lb-algorithm maglev */
	const char *cgroup_root; /* --cgroup-root: socket-level load balancing on it */
	uint16_t np_min, np_max; /* --node-port-range; np_max 0: the API server's default */
	int np_dsr; /* --node-port-mode dsr: remote backends answer external clients directly */
	int ext_cip; /* --external-clusterip: ClusterIPs served from outside the cluster too */
	unsigned int sync_delay_ms; /* --sync-delay: events gathered this long into one sync */
	int uninstall; /* --uninstall: remove what agents made on this node, then exit */
	unsigned int ns_share; /* --policy-ns-share: percent of each policy map one namespace may take */
	struct flowd_opts flows; /* --flows...: window 0, off */
};

/* What --policy-ns-share is without the flag: one namespace may take half of
 * each policy map, so a tenant's policy never leaves the others less than half. */
#define XCNID_NS_SHARE_DEFAULT 50

/* What --sync-delay is without the flag: none. At 100 events/s against 100k
 * pods 10 ms halves the syncs but not the CPU (bench/README.md, scale): the
 * cost is per event, so the latency it adds buys nothing by default. */
#define XCNID_SYNC_DELAY_DEFAULT 0

/* The service loopback: a hairpin flow's source (Cilium's default). */
#define XCNI_LB_LOOPBACK "169.254.42.1"


static volatile sig_atomic_t stop;

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* --pod-cidr: the network, its mask (network order) and length. */
static int parse_cidr(const char *s, __u32 *net, __u32 *mask, __u8 *len)
{
	int err = xcni_cidr4_parse(s, net, len);

	if (err)
		return err;
	*mask = htonl(xcni_prefix_mask(*len));
	*net &= *mask;
	return 0;
}

/*
 * --service-cidr: "none", or up to one IPv4 and one IPv6 CIDR, comma-separated
 * (kube-apiserver's --service-cluster-ip-range). Replaces the default; o is
 * only written when the whole list parses. 0 or -EINVAL.
 */
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

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf)) {
		pr_err("--node-ip %s: an IPv4 or IPv6 address, or one of each comma-separated\n",
		       arg);
		return -EINVAL;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		unsigned int f = inet_pton(AF_INET6, tok, a6) == 1 ? 6 :
				 inet_pton(AF_INET, tok, &a) == 1 ? 4 : 0;

		if (!f) {
			pr_err("--node-ip %s: %s is not an IPv4 or IPv6 address\n", arg, tok);
			return -EINVAL;
		}
		if (*fams & (1u << f)) {
			pr_err("--node-ip %s: a second IPv%u address (one per family: IPv4, IPv6)\n",
			       arg, f);
			return -EINVAL;
		}
		*fams |= 1u << f;
		if (f == 6)
			memcpy(ov->node_ip6, a6, 16);
		else
			ov->node_ip = a.s_addr;
	}
	if (!n) {
		pr_err("--node-ip %s: an IPv4 or IPv6 address, or one of each comma-separated\n",
		       arg);
		return -EINVAL;
	}
	/* Only IPv6 given: the IPv6 underlay, as before; with IPv4 too: both. */
	ov->underlay6 = !(*fams & (1u << 4));
	return 0;
}

static int parse_svc_cidrs(const char *arg, struct opts *o)
{
	char buf[128], *tok, *save = NULL;
	struct in6_addr a6 = {};
	__u32 net = 0, mask = 0;
	__u8 len = 0, len6 = 0;
	int has4 = 0, has6 = 0;

	if (!strcmp(arg, "none"))
		goto set;
	/* strtok_r would skip an empty element: refused, as a typo. */
	if (!*arg || strlen(arg) >= sizeof(buf) || *arg == ',' || arg[strlen(arg) - 1] == ',' ||
	    strstr(arg, ",,"))
		return -EINVAL;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strchr(tok, ':')) {
			/* A /0 would take every destination for a Service. */
			if (has6++ || xcni_cidr6_parse(tok, &a6, &len6) || !len6)
				return -EINVAL;
			cidr6_mask(a6.s6_addr, len6);
		} else if (has4++ || parse_cidr(tok, &net, &mask, &len) || !len) {
			return -EINVAL;
		}
	}
	if (!has4 && !has6)
		return -EINVAL;
set:
	o->svc_cidr = net;
	o->svc_mask = mask;
	o->svc_len = len;
	o->svc6 = a6;
	o->svc6_len = len6;
	return 0;
}

/*
 * The maps of names for people (bpf/lib/maps.h): the agent writes every entry
 * again from the cluster's state, so a pinned one made by an older build with
 * other flags (preallocated) may be made again, losing nothing.
 */
static bool names_map(const char *name)
{
	static const char *const names[] = { "xcni_polname", "xcni_polsel", "xcni_identity",
					     "xcni_podname" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/*
 * Refuses, with the map and field named, a pinned map whose layout differs
 * from what this build expects: silently recreating it would drop every
 * conntrack entry and endpoint. The flags count too (libbpf would refuse
 * such a map later, naming nothing); a map of names of an older build, whose
 * flags alone differ, is made again instead (names_map).
 */
static int check_pinned_layout(const char *pin_dir, struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[512];
		int fd, err;

		if (!bpf_map__is_pinned(m) && bpf_map__pin_path(m) == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* not pinned yet: created on load */
		if (bpf_map_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue;
		}
		close(fd);
		if (info.type == bpf_map__type(m) && info.key_size == bpf_map__key_size(m) &&
		    info.value_size == bpf_map__value_size(m) &&
		    info.max_entries == bpf_map__max_entries(m) &&
		    info.map_flags == bpf_map__map_flags(m))
			continue;
		/* Names only (flags of an older build): made again, losing nothing. */
		if (names_map(bpf_map__name(m)) && info.map_flags != bpf_map__map_flags(m)) {
			pr_warn("pinned map %s has flags %#x, this xcnid makes it with %#x: making it "
				"again (its names are written again from the cluster's state)\n",
				path, info.map_flags, bpf_map__map_flags(m));
			if (unlink(path)) {
				err = -errno;
				pr_err("pinned map %s: cannot remove it to make it again: %s\n", path,
				       strerror(-err));
				return err;
			}
			continue;
		}
		pr_err("pinned map %s has another layout (type %u key %u value %u entries %u flags %#x; "
		       "this xcnid needs type %u key %u value %u entries %u flags %#x): refusing to "
		       "replace it, which would lose its entries; migrate it or remove %s\n",
		       path, info.type, info.key_size, info.value_size, info.max_entries,
		       info.map_flags, bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
		       bpf_map__max_entries(m), bpf_map__map_flags(m), path);
		return -EEXIST;
	}
	return 0;
}

static int check_abi(const char *pin_dir)
{
	struct xcni_config cfg = {};
	char path[512];
	__u32 k = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/xcni_config", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &k, &cfg) == 0 && cfg.abi_version &&
	    cfg.abi_version != XCNI_ABI_VERSION) {
		pr_err("maps under %s were written by map ABI %u, this xcnid speaks %u: "
		       "refusing to reuse them; migrate or remove %s\n",
		       pin_dir, cfg.abi_version, XCNI_ABI_VERSION, pin_dir);
		err = -EEXIST;
	}
	close(fd);
	return err;
}

/* Pins prog at dir/name without a moment where the path is missing. */
static int pin_atomic(struct bpf_program *prog, const char *dir, const char *name)
{
	char path[512], tmp[520];
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s_new", path); /* bpffs names take no dots */
	unlink(tmp);
	err = bpf_program__pin(prog, tmp);
	if (err)
		return err;
	if (rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}

/*
 * Swaps the new programs into every attachment the plugin made: TCX links
 * (pinned under links/) get bpf_link_update, tc clsact filters are replaced
 * in place. Either way the device is never without a program.
 */
static int take_over_attachments(const char *pin_dir, int from_fd, int to_fd)
{
	char dir[512], path[1024];
	struct dirent *de;
	int n = 0, fails = 0, mfd;
	__u32 key, next, *prev = NULL;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", pin_dir, XCNI_PIN_LINKS);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		int in = l > 3 && strcmp(de->d_name + l - 3, "-in") == 0;
		int lfd;

		/* Hidden, or the node's own links (the overlay swaps those itself). */
		if (de->d_name[0] == '.' || !strncmp(de->d_name, "node-", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		lfd = bpf_obj_get(path);
		if (lfd < 0)
			continue;
		if (bpf_link_update(lfd, in ? from_fd : to_fd, NULL)) {
			pr_warn("cannot update link %s: %s\n", path, strerror(errno));
			fails++;
		} else {
			n++;
		}
		close(lfd);
	}
	if (d)
		closedir(d);

	snprintf(path, sizeof(path), "%s/xcni_ifindex", pin_dir);
	mfd = bpf_obj_get(path);
	while (mfd >= 0 && bpf_map_get_next_key(mfd, prev, &next) == 0) {
		char ifname[IF_NAMESIZE], lpath[1200];
		struct stat st;

		key = next;
		prev = &key;
		/* ifindexes are per netns: only touch a device that is visibly ours. */
		if (!if_indextoname(key, ifname) || strncmp(ifname, "xc", 2) != 0 ||
		    strlen(ifname) != 14)
			continue;
		snprintf(lpath, sizeof(lpath), "%s/%s-in", dir, ifname);
		if (stat(lpath, &st) == 0)
			continue; /* a TCX attachment, done above */
		for (int egress = 0; egress < 2; egress++) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)key,
					    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = XCNI_TC_HANDLE,
					    .priority = XCNI_TC_PRIO);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = XCNI_TC_HANDLE,
					    .priority = XCNI_TC_PRIO, .flags = BPF_TC_F_REPLACE,
					    .prog_fd = egress ? to_fd : from_fd);

			if (bpf_tc_query(&hook, &q))
				continue; /* no filter of ours there */
			if (bpf_tc_attach(&hook, &o)) {
				pr_warn("cannot replace tc filter on %s: %s\n", ifname, strerror(errno));
				fails++;
			} else {
				n++;
			}
		}
	}
	if (mfd >= 0)
		close(mfd);
	pr_info("took over %d attachments (%d failed)\n", n, fails);
	return fails ? -EIO : 0;
}

/* Removes dir and every pin and directory under it (bpffs: unlink and rmdir only). */
static int rm_pins(const char *dir)
{
	char path[1024];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode))
			err = rm_pins(path) ?: err;
		else if (unlink(path))
			err = -errno;
	}
	closedir(d);
	return rmdir(dir) ? -errno : err;
}

/*
 * xcnid --uninstall: what agents made on this node goes, whichever way it was
 * attached, and the node is as it was before xcni: the pods' tc filters (their
 * TCX links go with the pins), the overlay's attachments and xcni0, the socket
 * LB's cgroup links, the masquerade tables, and every pin. The CNI config and
 * binaries are the installer's (examples/kind/entrypoint.sh uninstall).
 */
static int uninstall(const struct opts *o)
{
	char path[1024];
	__u32 key, next, *prev = NULL;
	int mfd, n = 0, err;

	snprintf(path, sizeof(path), "%s/xcni_ifindex", o->pin_dir);
	mfd = bpf_obj_get(path);
	while (mfd >= 0 && bpf_map_get_next_key(mfd, prev, &next) == 0) {
		char ifname[IF_NAMESIZE];

		key = next;
		prev = &key;
		/* As take_over_attachments: only a device that is visibly a pod's. */
		if (!if_indextoname(key, ifname) || strncmp(ifname, "xc", 2) || strlen(ifname) != 14)
			continue;
		for (int egress = 0; egress < 2; egress++) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)key,
					    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = XCNI_TC_HANDLE,
					    .priority = XCNI_TC_PRIO);

			n += !bpf_tc_detach(&hook, &q);
		}
	}
	if (mfd >= 0)
		close(mfd);
	err = overlay_uninstall(o->pin_dir, o->ov->underlay);
	if (!err)
		err = socklb_detach_pinned(o->pin_dir);
	if (!err && o->mq->table)
		err = masq_remove(o->mq);
	if (err)
		return err;
	err = rm_pins(o->pin_dir);
	if (err) {
		pr_err("removing %s: %s\n", o->pin_dir, strerror(-err));
		return err;
	}
	printf("xcnid: uninstalled: %s removed%s%s, %d pod tc filters, masquerade tables%s\n",
	       o->pin_dir, o->ov->underlay ? ", overlay on " : "",
	       o->ov->underlay ? o->ov->underlay : "", n, o->mq->table ? " removed" : " kept");
	fflush(stdout);
	return 0;
}

static int write_config(struct from_pod *fp, const struct opts *o)
{
	struct xcni_config cfg = { .abi_version = XCNI_ABI_VERSION };
	struct timespec ts;
	__u32 k = 0;
	int lock, err;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	cfg.started_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	cfg.pod_cidr = o->pod_cidr;
	cfg.pod_cidr_len = o->pod_len;
	cfg.svc_cidr = o->svc_cidr;
	cfg.svc_cidr_len = o->svc_len;
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", o->node_name);
	/* The options win over what `xcnictl config set` left: a restart starts afresh. */
	cfg.trace_sample = o->trace_sample;
	cfg.events_rate = o->events_rate;
	/* Following cluster state, this agent judges every pod: one it has not
	 * judged yet (no polep entry) is closed until it has. Without, pods are
	 * open as they were (the plugin alone, `xcnid --once`). */
	if ((o->manifests || o->kubeconfig || o->in_cluster) && !o->once)
		cfg.flags |= XCNI_CFG_F_POLICY;
	if (o->ov->underlay) {
		cfg.node_ip = o->ov->node_ip;
		cfg.underlay_ifindex = (__u32)o->ov->underlay_ifindex;
		cfg.vni = o->ov->vni;
		cfg.underlay_mtu = o->ov->underlay_mtu;
		cfg.pod_mtu = o->ov->underlay_mtu - overlay_encap_len(o->ov);
		memcpy(cfg.node_ip6, o->ov->node_ip6, 16);
	}
	lock = xcni_config_lock(o->pin_dir);
	err = bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
	if (lock >= 0)
		close(lock);
	return err;
}

static double now_msf(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * New policy is in the maps: one more policy revision, so that flows judged
 * before are judged again on their next packet (bpf/lib/conntrack.h). The map is
 * pinned: the count goes on across restarts and never comes round to a
 * revision entries were judged under (2^32 changes aside).
 */
static int bump_policy_rev(struct from_pod *fp)
{
	__u32 k = 0, rev = 0;

	if (bpf_map__lookup_elem(fp->maps.xcni_polrev, &k, sizeof(k), &rev, sizeof(rev), 0))
		return -errno;
	rev++;
	if (bpf_map__update_elem(fp->maps.xcni_polrev, &k, sizeof(k), &rev, sizeof(rev), 0))
		return -errno;
	return 0;
}

/* Records in the node config how far the maps follow the cluster state. */
static void report_gen(const struct opts *o, struct from_pod *fp, __u64 gen,
		       const struct pol_result *r, size_t nover, const char *error)
{
	struct xcni_config cfg;
	__u32 k = 0;
	/* `xcnictl config set` changes this value too: one read-modify-write at a time. */
	int lock = xcni_config_lock(o->pin_dir);

	if (lock < 0)
		pr_warn("locking %s for the config: %s\n", o->pin_dir, strerror(-lock));
	if (bpf_map__lookup_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0))
		goto out;
	if (error) {
		cfg.failed_gen = gen;
		snprintf(cfg.error, sizeof(cfg.error), "%s", error);
	} else {
		cfg.applied_gen = gen;
		cfg.error[0] = '\0';
	}
	/* A node with both underlay families: the MTU follows the tunnels in use. */
	if (o->ov->underlay)
		cfg.pod_mtu = o->ov->underlay_mtu - overlay_encap_len(o->ov);
	if (r) {
		cfg.nr_identities = (__u32)r->nidentities;
		cfg.nr_policies = (__u32)r->npolicies;
		cfg.nr_endpoints_policy = (__u32)r->neps;
		cfg.nr_endpoints_overflow = (__u32)nover;
	}
	bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
out:
	if (lock >= 0)
		close(lock);
}

/*
 * from_overlay's xcni_self6 (bpf/lib/nodeport.h): this node's IPv6
 * InternalIP (a6, or all 0), the SNAT source of IPv6 externalIPs and
 * load-balancer IPs with a backend on another node. No such map pinned (no
 * overlay, or Services not in BPF): nothing to do. 0 or -errno.
 */
static int write_self6(const struct opts *o, const uint8_t a6[16])
{
	__u32 k = 0;
	char path[512];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/xcni_self6", o->pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_map_update_elem(fd, &k, a6, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/*
 * Services and EndpointSlices -> the Service maps (svcsync's versioned
 * discipline: a Service's change is whole or not at all). Only the Services
 * whose objects changed (ch, from the store's journal) are built again and
 * only their frontends compared and written; all: everything. 0, or -errno
 * with msg saying why (nothing written then; the next generation builds and
 * compares everything again).
 */
static int sync_services(const struct opts *o, const struct cluster *c, struct svc_incr *si,
			 struct svcsync *ss, const struct store_change *ch, size_t nch, bool all,
			 __u64 gen, char *msg, size_t msglen)
{
	const struct k8s_object *node = NULL;
	struct svcsync_stats st = {};
	struct svc_node sn = { .name = o->node_name, .np_min = o->np_min, .np_max = o->np_max };
	const struct svc_delta *d;
	uint32_t addrs[2], *peers;
	uint8_t addr6[1][16], (*peers6)[16];
	const char **pnames; /* the peers' Node names: IPv4's, then IPv6's from [n] */
	static const uint8_t none6[16];
	double t0 = now_msf(), t1;
	int err;

	msg[0] = '\0';
	/* NodePort frontends: the node's InternalIP (its Node object) and the
	 * underlay address, where traffic from outside arrives. */
	for (size_t i = 0; i < c->n[K8S_NODE] && o->node_name; i++)
		if (!strcmp(c->objs[K8S_NODE][i]->meta.name, o->node_name))
			node = c->objs[K8S_NODE][i];
	if (node && node->node.internal_ip)
		addrs[sn.naddrs++] = node->node.internal_ip;
	if (o->ov->underlay && o->ov->node_ip && (!sn.naddrs || addrs[0] != o->ov->node_ip))
		addrs[sn.naddrs++] = o->ov->node_ip;
	sn.addrs = addrs;
	/* Every other Node's InternalIP: this node's pods reaching its NodePorts. */
	peers = calloc(c->n[K8S_NODE] + 1, sizeof(*peers));
	pnames = calloc(2 * (c->n[K8S_NODE] + 1), sizeof(*pnames));
	if (!peers || !pnames) {
		free(peers);
		free(pnames);
		snprintf(msg, msglen, "building the Service frontends: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* With its name: under externalTrafficPolicy Local a peer's NodePort
	 * holds that node's endpoints only. */
	for (size_t i = 0; i < c->n[K8S_NODE]; i++) {
		uint32_t a = c->objs[K8S_NODE][i]->node.internal_ip;

		if (a && c->objs[K8S_NODE][i] != node && !(sn.naddrs && a == addrs[0]) &&
		    !(sn.naddrs > 1 && a == addrs[1])) {
			pnames[sn.npeers] = c->objs[K8S_NODE][i]->meta.name;
			peers[sn.npeers++] = a;
		}
	}
	sn.peers = peers;
	sn.peer_names = pnames;
	/* IPv6 NodePorts: the node's IPv6 InternalIP; every other Node's for its pods. */
	if (node && memcmp(node->node.internal_ip6, none6, 16)) {
		memcpy(addr6[0], node->node.internal_ip6, 16);
		sn.naddrs6 = 1;
	}
	/* Said, not fatal: without it only IPv6 external frontends to another
	 * node's backend drop (drop-no-tunnel); the Services are still written. */
	err = write_self6(o, sn.naddrs6 ? addr6[0] : none6);
	if (err)
		pr_warn("generation %llu: writing xcni_self6 (this node's IPv6 address): %s\n",
			(unsigned long long)gen, strerror(-err));
	sn.addrs6 = (const uint8_t(*)[16])addr6;
	peers6 = calloc(c->n[K8S_NODE] + 1, sizeof(*peers6));
	if (!peers6) {
		free(peers);
		free(pnames);
		snprintf(msg, msglen, "building the Service frontends: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n[K8S_NODE]; i++) {
		const uint8_t *a = c->objs[K8S_NODE][i]->node.internal_ip6;

		if (memcmp(a, none6, 16) && c->objs[K8S_NODE][i] != node &&
		    !(sn.naddrs6 && !memcmp(a, addr6[0], 16))) {
			pnames[c->n[K8S_NODE] + 1 + sn.npeers6] = c->objs[K8S_NODE][i]->meta.name;
			memcpy(peers6[sn.npeers6++], a, 16);
		}
	}
	sn.peers6 = (const uint8_t(*)[16])peers6;
	sn.peer_names6 = pnames + c->n[K8S_NODE] + 1;
	err = svc_incr_update(si, c, &sn, o->lb_flags, ch, nch, all, false, &d);
	free(peers);
	free(peers6);
	free(pnames);
	if (err) {
		snprintf(msg, msglen, "building the Service frontends: %s", strerror(-err));
		return err;
	}
	t1 = now_msf();
	for (size_t i = 0; i < d->nerrs; i++)
		pr_warn("generation %llu: %s\n", (unsigned long long)gen, d->errs[i]);
	if (d->full)
		err = svcsync_apply(ss, d->put, d->nput, &st, msg, msglen);
	else if (d->nput || d->ndel)
		err = svcsync_apply_delta(ss, d->put, d->nput, d->del, d->ndel, &st, msg, msglen);
	if (err) {
		if (!msg[0])
			snprintf(msg, msglen, "writing the Service maps: %s", strerror(-err));
		/* The maps did not take it: compared whole next time. */
		svc_incr_invalidate(si);
		return err;
	}
	svcsync_cleanup(ss, &st);
	if (st.svcs_changed || st.svcs_removed)
		pr_info("generation %llu: %zu frontends, %zu written, %zu removed; backends %zu "
			"written, %zu deleted; slots %zu written, %zu deleted; %zu Maglev tables; "
			"%zu UDP conntrack entries of removed backends flushed; %zu services built "
			"(%s) in %.2f ms, maps %.2f ms\n",
			(unsigned long long)gen, d->nput, st.svcs_changed, st.svcs_removed,
			st.backends_written, st.backends_deleted, st.slots_written,
			st.slots_deleted, st.maglev_written, st.ct_flushed, d->nrebuilt,
			d->full ? "all" : "changed", t1 - t0, now_msf() - t1);
	return 0;
}

/*
 * Cluster state -> identities and policy -> maps, for one generation. The
 * compile follows what changed since the previous one (the store's journal);
 * the maps get only its delta, unless the writer lost track of them (start,
 * failure), when it diffs them whole.
 */
/*
 * The pods whose policy did not fit (closed: XCNI_POLEP_OVERFLOW), named in
 * the log; `xcnictl policy` and the metrics read them from the maps. Said
 * when the set changes, not at every generation.
 */
static void report_overflows(struct polsync *ps, __u64 gen)
{
	static size_t last_n;
	static uint32_t last_sum;
	size_t n;
	const struct polsync_over *ov = polsync_overflows(ps, &n);
	uint32_t sum = 0;
	char ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + ov[i].ip;
	if (n == last_n && sum == last_sum)
		return;
	last_n = n;
	last_sum = sum;
	if (!n) {
		pr_info("generation %llu: every pod's policy fits the maps again\n",
			(unsigned long long)gen);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_pod *p = ov[i].pod;

		inet_ntop(AF_INET, &ov[i].ip, ip, sizeof(ip));
		pr_err("generation %llu: pod %s/%s (%s) closed (drop-policy-overflow): its policy "
		       "takes %zu xcni_policy, %zu xcni_polrange and %zu xcni_polcidr entries, %s\n",
		       (unsigned long long)gen, p && p->meta.ns ? p->meta.ns : "?",
		       p && p->meta.name ? p->meta.name : "?", ip,
		       ov[i].need[POLSYNC_MAP_POLICY], ov[i].need[POLSYNC_MAP_POLRANGE],
		       ov[i].need[POLSYNC_MAP_POLCIDR],
		       ov[i].share ? "more than its namespace's share (--policy-ns-share)" :
				     "more than the maps have left");
	}
}

/*
 * *retry: set when some pod was closed only for room that the cleanup of
 * this generation frees: sync again soon.
 * *nodes_changed: set when a Node may have changed (the masquerade set reads them).
 * *v6_due: the IPv6 maps are to be built and written (set by the compiler's
 * delta, cleared once they are written; starts true).
 */
static int sync_policy(const struct opts *o, struct from_pod *fp, struct store *st,
		       struct pol_incr *pi, struct polsync *ps, struct svc_incr *si,
		       struct svcsync *svs, __u64 gen, bool *nodes_changed, bool *v6_due,
		       bool *retry)
{
	struct pol_opts po = { .node_name = o->node_name, .gateway_ip = o->gateway };
	const struct k8s_object *node = store_get(st, K8S_NODE, NULL, o->node_name);
	const struct pol_result *r;
	const struct pol_delta *d;
	struct polsync_stats ss = {};
	struct k8s_error kerr = { "" };
	struct store_change *ch = NULL;
	size_t nch = 0;
	bool all;
	struct cluster c;
	char msg[256];
	double t0 = now_msf(), t1;
	int err;

	if (node)
		po.node_ip = node->node.internal_ip;
	if (o->ov->underlay) {
		/* An IPv6 underlay has no IPv4 node address: the Node's stays. */
		if (o->ov->node_ip)
			po.node_ip = o->ov->node_ip;
		po.underlay6 = o->ov->underlay6;
	}
	store_view(st, &c);
	store_journal_take(st, &ch, &nch, &all);
	*nodes_changed |= all;
	for (size_t i = 0; i < nch; i++)
		*nodes_changed |= ch[i].kind == K8S_NODE;
	err = pol_incr_update(pi, &c, &po, ch, nch, all, polsync_needs_full(ps), &r, &d, &kerr);
	if (err) {
		/* The journal is read once for both: a generation that stops before
		 * the Services leaves them to be compared whole next time. */
		store_changes_free(ch, nch);
		if (si)
			svc_incr_invalidate(si);
		pr_err("compiling policy (generation %llu): %s\n", (unsigned long long)gen,
		       kerr.msg[0] ? kerr.msg : strerror(-err));
		report_gen(o, fp, gen, r, 0, kerr.msg[0] ? kerr.msg : strerror(-err));
		return err;
	}
	t1 = now_msf();
	*v6_due |= d->v6_changed;
	err = polsync_apply(ps, r, d, &ss, msg, sizeof(msg));
	if (!err)
		report_overflows(ps, gen);
	if (!err && ss.retry)
		*retry = true;
	if (err) {
		store_changes_free(ch, nch);
		if (si)
			svc_incr_invalidate(si);
		if (!msg[0])
			snprintf(msg, sizeof(msg), "writing the policy maps: %s", strerror(-err));
		pr_err("generation %llu not applied: %s\n", (unsigned long long)gen, msg);
		report_gen(o, fp, gen, r, 0, msg);
		return err;
	}
	/* IPv6 addresses: identities (ipcache6) and this node's policy keys (polkey6).
	 * Only when their input may have changed: built from every Node (their
	 * IPv6 InternalIPs) and the IPv6 pods, and compared whole, on each pod
	 * event it was ~4% of the agent's CPU at 1000 Nodes with no IPv6 pod. */
	if (*v6_due) {
		struct pol_v6 v6;

		err = pol_v6_build(pi, &c, &v6);
		if (!err)
			err = polsync_apply6(ps, &v6, &ss.other_changed);
		pol_v6_free(&v6);
		if (err) {
			snprintf(msg, sizeof(msg), "writing the IPv6 maps (ipcache6, polkey6): %s",
				 strerror(-err));
			pr_err("generation %llu not applied: %s\n", (unsigned long long)gen, msg);
			report_gen(o, fp, gen, r, 0, msg);
			return err;
		}
		*v6_due = false;
	}
	if (o->ov->underlay)
		overlay_sync_nodes(o->ov, &c, o->node_name);
	xcni_killpoint("applied"); /* maps written, revision not bumped */
	err = bump_policy_rev(fp);
	if (err)
		pr_err("policy revision not counted (flows open before keep their old "
		       "verdict): %s\n", strerror(-err));
	polsync_cleanup(ps, &ss);
	/* After policy: a new backend's flows are judged by the policy of this generation. */
	if (o->kpr)
		err = sync_services(o, &c, si, svs, ch, nch, all, gen, msg, sizeof(msg));
	store_changes_free(ch, nch);
	if (o->kpr && err) {
		pr_err("generation %llu not applied: %s\n", (unsigned long long)gen, msg);
		report_gen(o, fp, gen, r, 0, msg);
		return err;
	}
	report_gen(o, fp, gen, r, ss.eps_overflow, NULL);
	pr_info("generation %llu applied in %.2f ms (compile %.2f ms, %s%s%s%s, %zu pods compiled, %zu given new identities): "
		"%zu pods rewritten (%zu in place), %zu entries written, %zu deleted, %zu other map changes; "
		"%zu identities, %zu policies\n",
		(unsigned long long)gen, now_msf() - t0, t1 - t0, d->full ? "whole" : "delta",
		d->why ? " [" : "", d->why ?: "", d->why ? "]" : "", d->neps_compiled, d->neps_born, ss.eps_changed, ss.eps_in_place, ss.entries_written, ss.entries_deleted,
		ss.other_changed, r->nidentities, r->npolicies);
	return 0;
}

/*
 * The masquerade table for the Nodes in the store: apart from policy, so a
 * policy that fails to compile does not hold back a new node's exemption.
 */
static int sync_masq(const struct opts *o, struct store *st)
{
	struct cluster c;

	if (!o->mq->on)
		return 0;
	store_view(st, &c);
	return masq_sync(o->mq, &c);
}

/* Follows the manifest directory until asked to stop. */
static int watch_cluster(const struct opts *o, struct from_pod *fp, struct http *hs,
			 struct flowd *fd)
{
	struct store *st = store_new();
	struct cs_backend *b = NULL;
	struct pol_incr *pi = pol_incr_new();
	struct polsync *ps = NULL;
	struct svcsync *ss = NULL;
	struct svc_incr *si = NULL;
	__u64 version = 0;
	bool synced, masq_due = true, v6_due = true, retry = false;
	__u64 due = 0; /* a sync is pending: CLOCK_MONOTONIC ms when it runs; 0: none */
	int err;

	if (!st || !pi) {
		store_free(st);
		pol_incr_free(pi);
		return -ENOMEM;
	}
	err = polsync_open(o->pin_dir, &ps);
	if (err) {
		pr_err("opening the policy maps under %s: %s\n", o->pin_dir, strerror(-err));
		goto out;
	}
	polsync_set_ns_share(ps, o->ns_share);
	/* Reads what the maps hold: a restart keeps every translation until the state is read. */
	if (o->kpr && (err = svcsync_open(o->pin_dir, &ss))) {
		pr_err("opening the Service maps under %s: %s\n", o->pin_dir, strerror(-err));
		goto out;
	}
	if (o->kpr && !(si = svc_incr_new())) {
		err = -ENOMEM;
		goto out;
	}
	if (o->manifests) {
		err = manifest_dir_open_flags(o->manifests, st, o->kpr ? MANIFEST_LB : 0, &b);
		if (err) {
			pr_err("cluster state: cannot read manifest directory %s: %s\n",
			       o->manifests, strerror(-err));
			goto out;
		}
	} else {
		/* kubeconfig NULL: in-cluster. Fails only on configuration, logged. */
		err = k8s_api_open_flags(o->kubeconfig, st, o->kpr ? K8S_API_LB : 0, &b);
		if (err)
			goto out;
	}
	pr_info("cluster state from %s (%s backend)\n",
		o->manifests ?: o->kubeconfig ?: "the API server (in-cluster)", b->ops->name);
	/* The API backend starts empty and fills the store only once everything is
	 * listed: syncing now would take away what a previous agent programmed. */
	synced = o->manifests ?
			 sync_policy(o, fp, st, pi, ps, si, ss, b->sync_gen, &masq_due, &v6_due,
				     &retry) == 0 :
			 true;
	if (o->manifests && !sync_masq(o, st))
		masq_due = false;
	version = store_version(st);
	/*
	 * A change is not compiled the moment it arrives: the first one opens a
	 * window of --sync-delay ms, and everything that comes in it is compiled
	 * and written in one sync (its own deltas merged). Under churn that is
	 * fewer syncs for the same writes; a lone change waits the window once.
	 */
	while (!stop) {
		struct pollfd pfd[3] = { { .fd = b->ops->fd(b), .events = POLLIN },
					 { .fd = http_fd(hs), .events = POLLIN },
					 { .fd = flowd_fd(fd), .events = POLLIN } };
		__u64 gen = b->sync_gen;
		int timeout = -1, n;

		if (retry && !due) {
			/* Pods closed for room the last cleanup freed: judge them again. */
			retry = false;
			due = mono_ms() + o->sync_delay_ms;
		}
		if (due) {
			__u64 now = mono_ms();

			timeout = due > now ? (int)(due - now) : 0;
		}
		n = poll(pfd, 3, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n > 0 && pfd[1].revents)
			http_dispatch(hs);
		if (n > 0 && pfd[2].revents)
			flowd_dispatch(fd);
		if (n > 0 && pfd[0].revents) {
			n = b->ops->dispatch(b);
			if (n < 0)
				pr_warn("cluster state: %s\n", strerror(-n));
		} else if (!due) {
			continue;
		}
		if (store_version(st) != version || !synced || due) {
			__u64 now = mono_ms();

			if (!due)
				due = now + o->sync_delay_ms;
			if (now < due)
				continue; /* the window is open: gather more */
			due = 0;
			version = store_version(st);
			synced = sync_policy(o, fp, st, pi, ps, si, ss, b->sync_gen,
					     &masq_due, &v6_due, &retry) == 0;
			/* Only when a Node may have changed: digesting every Node's
			 * prefixes to find the set unchanged cost ~5% of the agent's
			 * CPU in pod churn at 1000 Nodes. A failed write is retried. */
			if (masq_due && !sync_masq(o, st))
				masq_due = false;
		} else if (b->sync_gen != gen) {
			/* A new token and no object change: the maps already hold it. */
			report_gen(o, fp, b->sync_gen, NULL, 0, NULL);
		}
	}
out:
	if (b)
		b->ops->free(b);
	polsync_free(ps);
	svcsync_free(ss);
	svc_incr_free(si);
	pol_incr_free(pi);
	store_free(st);
	return err;
}

static int run(const struct opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct from_pod *fp = NULL;
	struct to_pod *tp = NULL;
	struct metrics *ms = NULL;
	struct ui *ui = NULL;
	struct flowd *fd = NULL;
	struct http *hs = NULL;
	struct sock_lb *sl = NULL;
	char links[512];
	int err;

	err = xcni_bpffs_ensure(o->pin_dir);
	if (err) {
		pr_err("bpffs is not mounted at /sys/fs/bpf and mounting it failed: %s\n",
		       strerror(-err));
		return err;
	}
	snprintf(links, sizeof(links), "%s/%s", o->pin_dir, XCNI_PIN_LINKS);
	if ((mkdir(o->pin_dir, 0700) && errno != EEXIST) ||
	    (mkdir(links, 0700) && errno != EEXIST)) {
		err = -errno;
		pr_err("cannot create %s: %s (is %s on a bpffs mount?)\n", links,
		       strerror(errno), o->pin_dir);
		return err;
	}
	err = check_abi(o->pin_dir);
	if (err)
		return err;

	fp = from_pod__open_opts(&oo);
	tp = to_pod__open_opts(&oo);
	if (!fp || !tp) {
		err = -errno;
		pr_err("cannot open the BPF objects: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < o->ov->nmap_max; i++) {
		const struct map_max *mm = &o->ov->map_max[i];

		if (!map_max_apply(fp->obj, mm, 1) + !map_max_apply(tp->obj, mm, 1) == 2) {
			pr_err("--map-max %s: no such map (the names xcnictl and bpftool show, e.g. "
			       "xcni_ipcache)\n", mm->name);
			err = -ENOENT;
			goto out;
		}
	}
	err = check_pinned_layout(o->pin_dir, fp->obj);
	if (!err)
		err = check_pinned_layout(o->pin_dir, tp->obj);
	if (err)
		goto out;
	fp->rodata->pod_cidr = o->pod_cidr;
	fp->rodata->pod_cidr_mask = o->pod_mask;
	fp->rodata->svc_cidr = o->svc_cidr;
	fp->rodata->svc_cidr_mask = o->svc_mask;
	if (o->svc6_len) {
		struct in6_addr m = {};

		memset(m.s6_addr, 0xff, sizeof(m.s6_addr));
		cidr6_mask(m.s6_addr, o->svc6_len);
		memcpy((void *)fp->rodata->svc_cidr6, o->svc6.s6_addr, 16);
		memcpy((void *)fp->rodata->svc_mask6, m.s6_addr, 16);
	}
	memcpy((void *)fp->rodata->pod_cidr6, o->mq->pod6.net.s6_addr, 16);
	fp->rodata->pod_cidr6_len = o->mq->pod6.len;
	fp->rodata->gateway_ip = o->gateway;
	if (o->kpr) {
		fp->rodata->lb_enabled = 1;
		fp->rodata->lb_loopback_ip = inet_addr(XCNI_LB_LOOPBACK);
		tp->rodata->lb_enabled = 1;
		o->ov->lb = true;
		o->ov->dsr = o->np_dsr;
		o->ov->ext_cip = o->ext_cip;
	}
	if (o->ov->underlay) {
		err = overlay_resolve(o->ov);
		if (err)
			goto out;
		o->mq->node_ip = o->ov->node_ip;
		fp->rodata->node_ip = o->ov->node_ip;
		memcpy((void *)fp->rodata->node_ip6, o->ov->node_ip6, 16);
		fp->rodata->underlay_ifindex = (__u32)o->ov->underlay_ifindex;
		fp->rodata->vni = o->ov->vni;
	}

	err = from_pod__load(fp);
	if (!err)
		err = to_pod__load(tp);
	if (err) {
		if (err == -EPERM)
			pr_err("loading BPF programs: permission denied (xcnid needs root: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)\n");
		else
			pr_err("loading BPF programs failed: %s (run with -v for the verifier log)\n",
			       strerror(-err));
		goto out;
	}
	if (o->ov->underlay && (err = overlay_load(o->ov, o->pin_dir)))
		goto out;
	if (o->cgroup_root) {
		err = socklb_open(&sl, o->pin_dir, o->ov->map_max, o->ov->nmap_max);
		if (err)
			pr_err("cannot open the socket load-balancing object: %s\n", strerror(-err));
		if (!err)
			err = check_pinned_layout(o->pin_dir, socklb_obj(sl));
		if (!err)
			err = socklb_load(sl);
		if (err)
			goto out;
	}
	err = write_config(fp, o);
	if (err) {
		pr_err("writing the node config: %s\n", strerror(-err));
		goto out;
	}
	err = take_over_attachments(o->pin_dir, bpf_program__fd(fp->progs.from_pod),
				    bpf_program__fd(tp->progs.to_pod));
	if (err)
		goto out;
	if (o->ov->underlay && (err = overlay_attach(o->ov, o->pin_dir)))
		goto out;
	err = o->cgroup_root ? socklb_attach(sl, o->pin_dir, o->cgroup_root) :
			       socklb_detach_pinned(o->pin_dir);
	if (err)
		goto out;
	if (o->ov->underlay) {
		struct xcni_config cfg;
		__u32 k = 0;

		/* How XDP ended up attached, for people and xcnictl. */
		if (!bpf_map__lookup_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0)) {
			cfg.xdp_mode = o->ov->xdp_mode;
			bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
		}
	}
	/* Pinned last: the plugin attaches only what a complete agent published. */
	err = pin_atomic(fp->progs.from_pod, o->pin_dir, XCNI_PIN_PROG_FROM_POD);
	if (!err)
		err = pin_atomic(tp->progs.to_pod, o->pin_dir, XCNI_PIN_PROG_TO_POD);
	if (err) {
		pr_err("pinning programs under %s: %s\n", o->pin_dir, strerror(-err));
		goto out;
	}
	if ((o->metrics_addr || o->ui_addr) && !o->once &&
	    (err = http_open(o->metrics_addr ?: o->ui_addr, o->http_remote, &hs)))
		goto out;
	if (o->metrics_addr && !o->once && (err = metrics_open(o->pin_dir, hs, &ms)))
		goto out;
	if (o->flows.window && !o->once &&
	    (err = flowd_open(&o->flows, o->pin_dir, o->node_name, &fd)))
		goto out;
	if (o->ui_addr && !o->once && (err = ui_open(hs, fd, o->pin_dir, &ui)))
		goto out;
	/* Without cluster state the set is what this node knows itself; with it,
	 * once the state is read (an empty store would exempt too little). */
	if (o->mq->on && !(o->manifests || o->kubeconfig || o->in_cluster) &&
	    (err = masq_sync(o->mq, NULL)))
		goto out;
	if (!o->mq->on && o->mq->table && (err = masq_remove(o->mq)))
		goto out;
	printf("xcnid: ready: programs and maps pinned under %s\n", o->pin_dir);
	fflush(stdout);

	if ((o->manifests || o->kubeconfig || o->in_cluster) && !o->once) {
		err = watch_cluster(o, fp, hs, fd);
	} else {
		/* poll(2) skips fd -1: without metrics this waits for a signal, as pause(2) would. */
		while (!o->once && !stop) {
			struct pollfd pfd[2] = { { .fd = http_fd(hs), .events = POLLIN },
						 { .fd = flowd_fd(fd), .events = POLLIN } };

			if (poll(pfd, 2, -1) > 0) {
				if (pfd[0].revents)
					http_dispatch(hs);
				if (pfd[1].revents)
					flowd_dispatch(fd);
			}
		}
	}
out:
	http_free(hs);
	ui_free(ui);
	flowd_free(fd);
	metrics_free(ms);
	/* Programs, maps and the masquerade table stay: the data plane outlives the agent. */
	masq_free(o->mq);
	overlay_free(o->ov);
	socklb_free(sl);
	to_pod__destroy(tp);
	from_pod__destroy(fp);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xcnid [options]\n"
		"\ncluster source:\n"
		"  --manifests DIR    cluster state (Namespaces, Pods, Nodes, NetworkPolicies) from\n"
		"                     the YAML/JSON manifests in DIR, followed with inotify\n"
		"  --kubeconfig PATH  cluster state from the API server in PATH's current context\n"
		"                     (list and watch over HTTPS)\n"
		"  --k8s-api in-cluster  the same through the pod's service account\n"
		"  --sync-delay MS    gather the cluster changes that arrive within MS ms of a\n"
		"                     first one into one compile and map write (default %u;\n"
		"                     0: every change at once)\n"
		"\nthis node and its pods:\n"
		"  --node-name NAME   this node's name (default: the host name)\n"
		"  --pod-cidr CIDR    this node's pod CIDR (drops traffic to unknown pods in it)\n"
		"  --gateway IP       the pods' gateway address (default: first address of the CIDR)\n"
		"  --pod-cidr6 CIDR   this node's IPv6 pod CIDR (dual stack, IPv6-only): its pods'\n"
		"                     IPv6 traffic leaving the cluster is masqueraded (table ip6 xcni)\n"
		"\ndata plane:\n"
		"  --pin-dir DIR      where programs and maps are pinned (default %s)\n"
		"  --attach MODE      how programs go onto the node's devices: auto (default:\n"
		"                     TCX links, tc clsact filters where the kernel has no TCX),\n"
		"                     tcx (or fail), or tc (the older path forced: tc clsact\n"
		"                     filters, XDP through netlink); also XCNI_ATTACH=MODE\n"
		"  --xdp-mode MODE    auto (native, else generic), native, generic or off\n"
		"  --map-max MAP=N[,MAP=N]...  size map MAP for N entries instead of its default\n"
		"                     (e.g. xcni_ipcache=524288; repeatable, the last for a map\n"
		"                     wins; see bench/README.md for what each holds); a pinned\n"
		"                     map of another size is refused\n"
		"  --once             load and pin, then exit (the data plane keeps running)\n"
		"  --uninstall        remove what xcnid made on this node (pins, tc filters and\n"
		"                     links, xcni0, XDP, cgroup links, nftables tables ip/ip6\n"
		"                     xcni), then exit; give --pin-dir and --underlay-dev as the\n"
		"                     agent had them\n"
		"\npolicy:\n"
		"  --policy-ns-share PCT  one namespace's pods may take at most PCT percent of\n"
		"                     each policy map (xcni_policy, xcni_polrange, xcni_polcidr;\n"
		"                     1-100, default %u); a pod whose policy would take its\n"
		"                     namespace past that is closed (drop-policy-overflow)\n"
		"\nServices:\n"
		"  --service-cidr CIDR[,CIDR6]  the cluster's Service (ClusterIP) ranges, one of each\n"
		"                     family at most, kube-apiserver's --service-cluster-ip-range\n"
		"                     (default 10.96.0.0/12 alone, \"none\" for none): pods' flows to\n"
		"                     them are handed to kube-proxy in the host stack, and egress\n"
		"                     policy is judged on the pod it picks\n"
		"  --kube-proxy-replacement  translate Services in BPF (ClusterIP frontends from the\n"
		"                     Services and EndpointSlices of the cluster state, which it\n"
		"                     then reads too); kube-proxy's rules are then not needed\n"
		"  --lb-algorithm ALG random (default) or maglev: how a new flow picks a backend\n"
		"                     (maglev: consistent hashing, the same backend on every node)\n"
		"  --cgroup-root DIR  with --kube-proxy-replacement: socket-level load balancing for\n"
		"                     the processes of cgroup v2 directory DIR and below (their\n"
		"                     sockets connect to a Service's backend directly)\n"
		"  --node-port-range MIN-MAX  with --kube-proxy-replacement: the nodePorts served (the\n"
		"                     API server's --service-node-port-range; default 30000-32767);\n"
		"                     a Service's nodePort outside it is logged and not served\n"
		"  --node-port-mode MODE  with --kube-proxy-replacement and --underlay-dev: snat\n"
		"                     (default: a request for a NodePort or external IP sent to\n"
		"                     another node's backend is SNATed to this node, its replies\n"
		"                     come back through here) or dsr (the client's address kept,\n"
		"                     the frontend in a Geneve option: the backend's node answers\n"
		"                     the client directly, with the frontend as source)\n"
		"  --external-clusterip  with --kube-proxy-replacement and --underlay-dev: serve\n"
		"                     ClusterIPs to clients outside the cluster (routed to a node);\n"
		"                     by default they are dropped (drop-clusterip-outside)\n"
		"\noverlay:\n"
		"  --underlay-dev DEV the device to the other nodes: Geneve overlay (in BPF) over it,\n"
		"                     XDP prefilter on it, remote pod CIDRs routed to xcni0\n"
		"  --node-ip IP[,IP]  this node's underlay address, IPv4 or IPv6; once per family\n"
		"                     (given twice or comma-separated): both, IPv4 to nodes with an\n"
		"                     IPv4 InternalIP, IPv6 to IPv6-only nodes (default: DEV's first\n"
		"                     IPv4 and its first global IPv6, whichever it has)\n"
		"  --vni N            Geneve VNI (default 1)\n"
		"\nleaving the cluster:\n"
		"  --masquerade       masquerade pods' traffic to outside the cluster to the node's\n"
		"                     address (default with --pod-cidr or --pod-cidr6): nftables\n"
		"                     tables ip xcni and ip6 xcni\n"
		"  --no-masquerade    do not; removes the tables an earlier xcnid left\n"
		"  --cluster-cidr CIDR[,CIDR...]  more destinations never masqueraded (besides every\n"
		"                     Node's pod CIDRs and InternalIPs), IPv4 or IPv6; repeatable\n"
		"\nobservability:\n"
		"  --metrics-addr HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
		"                     (a loopback address, e.g. 127.0.0.1:9962 or [::1]:9962)\n"
		"  --http-allow-remote  let --metrics-addr or --ui be another address (e.g.\n"
		"                     0.0.0.0:9962): whoever reaches it reads the pages\n"
		"  --ui HOST:PORT     serve the service map (a web page: namespaces, pods and\n"
		"                     Services, flows as edges by verdict, live) at\n"
		"                     http://HOST:PORT/, its graph at /api/graph; implies --flows;\n"
		"                     with --metrics-addr, the same address (one server)\n"
		"  --trace-sample N   trace one forwarded packet in N on the event ring (0: off, the\n"
		"                     default); `xcnictl config set trace-sample` changes it live\n"
		"  --events-rate N    at most N events (drops, verdicts, traces) per CPU per second\n"
		"                     (default %u; 0: no limit); the rest are counted as lost\n"
		"  --flows            keep flow records (xcnictl flows): conntrack and verdict\n"
		"                     events per connection, in a window of the last records;\n"
		"                     xcnid then reads the events ring (xcnictl monitor would\n"
		"                     share it)\n"
		"  --flows-window N   at most N records (default %u; implies --flows); the\n"
		"                     oldest make room and are counted (evicted)\n"
		"  --flows-socket PATH  where xcnictl flows asks (default /run/xcni/flows<pin dir\n"
		"                     with / as ->.sock)\n"
		"  --flow-log PATH    write changed records as JSON lines to PATH every\n"
		"                     --flow-log-interval seconds (default %u; implies --flows)\n"
		"                     (\"{node}\" in PATH: the node's name)\n"
		"  --flow-log-max-bytes N  rotate PATH before it grows past N bytes (default %llu)\n"
		"  --flow-log-files K keep K files, PATH and PATH.1..PATH.K-1 (default %u)\n"
		"  --ipfix URL        export changed records over IPFIX to a collector,\n"
		"                     udp://HOST:PORT or tcp://HOST:PORT, every\n"
		"                     --flow-log-interval seconds (implies --flows; docs/ipfix.md)\n"
		"  --log-format FMT   text (default) or json (one object per line)\n"
		"  -v, --verbose      more logging (twice: libbpf debug, verifier logs)\n"
		"\n"
		"  -h, --help\n",
		XCNID_SYNC_DELAY_DEFAULT, XCNI_PIN_ROOT, XCNID_NS_SHARE_DEFAULT,
		XCNI_EVENTS_RATE_DEFAULT, FLOWS_WINDOW_DEFAULT, FLOWD_LOG_INTERVAL_DEFAULT,
		(unsigned long long)FLOWD_LOG_MAX_BYTES_DEFAULT, FLOWD_LOG_FILES_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "pod-cidr", required_argument, NULL, 'c' },
		{ "pod-cidr6", required_argument, NULL, 1006 },
		{ "gateway", required_argument, NULL, 'g' },
		{ "service-cidr", required_argument, NULL, 's' },
		{ "node-name", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, 'o' },
		{ "manifests", required_argument, NULL, 'm' },
		{ "kubeconfig", required_argument, NULL, 'K' },
		{ "k8s-api", required_argument, NULL, 'k' },
		{ "underlay-dev", required_argument, NULL, 'u' },
		{ "node-ip", required_argument, NULL, 'N' },
		{ "vni", required_argument, NULL, 'V' },
		{ "xdp-mode", required_argument, NULL, 'X' },
		{ "metrics-addr", required_argument, NULL, 'A' },
		{ "http-allow-remote", no_argument, NULL, 1047 },
		{ "ui", required_argument, NULL, 1048 },
		{ "masquerade", no_argument, NULL, 'M' },
		{ "no-masquerade", no_argument, NULL, 1001 },
		{ "cluster-cidr", required_argument, NULL, 'C' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "map-max", required_argument, NULL, 1002 },
		{ "kube-proxy-replacement", no_argument, NULL, 1003 },
		{ "lb-algorithm", required_argument, NULL, 1004 },
		{ "cgroup-root", required_argument, NULL, 1005 },
		{ "node-port-range", required_argument, NULL, 1007 },
		{ "node-port-mode", required_argument, NULL, 1008 },
		{ "external-clusterip", no_argument, NULL, 1012 },
		{ "sync-delay", required_argument, NULL, 1009 },
		{ "attach", required_argument, NULL, 1010 },
		{ "uninstall", no_argument, NULL, 1011 },
		{ "policy-ns-share", required_argument, NULL, 1013 },
		{ "flows", no_argument, NULL, 1040 },
		{ "flows-window", required_argument, NULL, 1041 },
		{ "flow-log", required_argument, NULL, 1042 },
		{ "flow-log-max-bytes", required_argument, NULL, 1043 },
		{ "flow-log-files", required_argument, NULL, 1044 },
		{ "flow-log-interval", required_argument, NULL, 1045 },
		{ "flows-socket", required_argument, NULL, 1046 },
		{ "ipfix", required_argument, NULL, 1100 },
		{ "trace-sample", required_argument, NULL, 'S' },
		{ "events-rate", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct map_max map_max[MAP_MAX_OVERRIDES];
	struct overlay ov = { .vni = 1, .map_max = map_max };
	unsigned int node_ip_fams = 0;
	struct masq mq = { .table = MASQ_TABLE };
	struct opts o = { .pin_dir = XCNI_PIN_ROOT, .ov = &ov, .mq = &mq,
			  .events_rate = XCNI_EVENTS_RATE_DEFAULT };
	int masquerade = -1; /* -1: the default, on with a pod CIDR */
	int lb_alg = 0; /* --lb-algorithm given */
	int np_mode = 0; /* --node-port-mode given */
	char host[64] = "node";
	const char *gw = NULL;
	int c, err;

	o.sync_delay_ms = XCNID_SYNC_DELAY_DEFAULT;
	o.ns_share = XCNID_NS_SHARE_DEFAULT;
	xlog_set_prefix("xcnid");
	xlog_max = XLOG_WARN;
	/* kubeadm's and kind's default --service-cluster-ip-range. */
	parse_cidr(XCNI_DEFAULT_SVC_CIDR, &o.svc_cidr, &o.svc_mask, &o.svc_len);
	/* No IPv6 default: kube-apiserver has none either. */
	if (xcni_attach_from_env(&ov.attach))
		return 2;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o.pin_dir = optarg; break;
		case 'c':
			if (parse_cidr(optarg, &o.pod_cidr, &o.pod_mask, &o.pod_len)) {
				pr_err("--pod-cidr %s: not an IPv4 CIDR\n", optarg);
				return 2;
			}
			break;
		case 'g': gw = optarg; break;
		case 1006: {
			struct in6_addr a;
			__u8 len;

			if (xcni_cidr6_parse(optarg, &a, &len) || !len) {
				pr_err("--pod-cidr6 %s: not an IPv6 CIDR (e.g. fd00:10:244:1::/64)\n",
				       optarg);
				return 2;
			}
			mq.pod6 = (struct masq_prefix6){ a, len };
			/* Host bits off, as --pod-cidr's: the CIDR is the network. */
			masq_normalize6(&mq.pod6, 1);
			break;
		}
		case 's':
			if (parse_svc_cidrs(optarg, &o)) {
				pr_err("--service-cidr %s: one CIDR of each family at most, comma-"
				       "separated (e.g. 10.96.0.0/12,fd00:10:96::/108), or none\n",
				       optarg);
				return 2;
			}
			break;
		case 'n': o.node_name = optarg; break;
		case 'o': o.once = 1; break;
		case 'm': o.manifests = optarg; break;
		case 'K': o.kubeconfig = optarg; break;
		case 'k':
			if (strcmp(optarg, "in-cluster")) {
				pr_err("--k8s-api %s: only \"in-cluster\" (the pod's service account); "
				       "for a kubeconfig use --kubeconfig PATH\n", optarg);
				return 2;
			}
			o.in_cluster = 1;
			break;
		case 'u': ov.underlay = optarg; break;
		case 'N':
			if (parse_node_ip(optarg, &ov, &node_ip_fams))
				return 2;
			break;
		case 'V': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);

			if (!*optarg || *end || v == 0 || v > 0xffffff) {
				pr_err("--vni %s: a Geneve VNI is 1 to 16777215\n", optarg);
				return 2;
			}
			ov.vni = (__u32)v;
			break;
		}
		case 'X':
			if (!strcmp(optarg, "auto"))
				ov.xdp_want = XDP_WANT_AUTO;
			else if (!strcmp(optarg, "native"))
				ov.xdp_want = XDP_WANT_NATIVE;
			else if (!strcmp(optarg, "generic"))
				ov.xdp_want = XDP_WANT_GENERIC;
			else if (!strcmp(optarg, "off"))
				ov.xdp_want = XDP_WANT_OFF;
			else {
				pr_err("--xdp-mode %s: auto, native, generic or off\n", optarg);
				return 2;
			}
			break;
		case 'A':
			if (http_check_addr(optarg, true)) {
				pr_err("--metrics-addr %s: HOST:PORT, e.g. 127.0.0.1:9962 or [::1]:9962\n",
				       optarg);
				return 2;
			}
			o.metrics_addr = optarg;
			break;
		case 1047: o.http_remote = 1; break;
		case 1048:
			if (http_check_addr(optarg, true)) {
				pr_err("--ui %s: HOST:PORT, e.g. 127.0.0.1:9963 or [::1]:9963\n", optarg);
				return 2;
			}
			o.ui_addr = optarg;
			break;
		case 'M': masquerade = 1; break;
		case 1001: masquerade = 0; break;
		case 1003: o.kpr = 1; break;
		case 1012: o.ext_cip = 1; break;
		case 1005: o.cgroup_root = optarg; break;
		case 1007:
			if (svc_nodeport_range_parse(optarg, &o.np_min, &o.np_max)) {
				pr_err("--node-port-range %s: MIN-MAX, 1 <= MIN <= MAX <= 65535 "
				       "(e.g. 30000-32767)\n", optarg);
				return 2;
			}
			break;
		case 1008:
			if (!strcmp(optarg, "dsr")) {
				o.np_dsr = 1;
			} else if (!strcmp(optarg, "snat")) {
				o.np_dsr = 0;
			} else {
				pr_err("--node-port-mode %s: snat or dsr\n", optarg);
				return 2;
			}
			np_mode = 1;
			break;
		case 1004:
			if (!strcmp(optarg, "maglev")) {
				o.lb_flags |= SVC_BUILD_MAGLEV;
			} else if (!strcmp(optarg, "random")) {
				o.lb_flags &= ~SVC_BUILD_MAGLEV;
			} else {
				pr_err("--lb-algorithm %s: random or maglev\n", optarg);
				return 2;
			}
			lb_alg = 1;
			break;
		case 1002:
			/* MAP=N, or several: MAP=N,MAP=N (a later one for a map wins). */
			for (const char *it = optarg; it;) {
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
				if (!eq || eq == it || (size_t)(eq - it) >= sizeof(map_max[0].name) ||
				    !num[0] || end == num || *end || errno || v == 0 || v > (1ul << 28) ||
				    ov.nmap_max == MAP_MAX_OVERRIDES) {
					pr_err("--map-max %s: '%.*s' is not MAP=N (N from 1 to %lu, at "
					       "most %d maps in all; e.g. xcni_ipcache=524288)\n",
					       optarg, (int)len, it, 1ul << 28, MAP_MAX_OVERRIDES);
					return 2;
				}
				snprintf(map_max[ov.nmap_max].name, sizeof(map_max[0].name), "%.*s",
					 (int)(eq - it), it);
				map_max[ov.nmap_max++].n = (__u32)v;
				it = comma ? comma + 1 : NULL;
			}
			break;
		case 'C': {
			int e = masq_add_cluster_cidrs(&mq, optarg);

			if (e) {
				pr_err("--cluster-cidr %s: %s\n", optarg,
				       e == -E2BIG ? "more than 32 CIDRs of a family in all" :
						     "not CIDR[,CIDR...] (IPv4 or IPv6 CIDRs)");
				return 2;
			}
			break;
		}
		case 'L': {
			enum xlog_format f;

			if (xlog_parse_format(optarg, &f)) {
				pr_err("--log-format %s: text or json\n", optarg);
				return 2;
			}
			xlog_set_format(f);
			break;
		}
		case 1009: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || *optarg == '-' || errno || v > 1000) {
				pr_err("--sync-delay %s: milliseconds, 0 to 1000\n", optarg);
				return 2;
			}
			o.sync_delay_ms = (unsigned int)v;
			break;
		}
		case 1010:
			if (xcni_attach_parse(optarg, &ov.attach)) {
				pr_err("--attach %s: auto, tcx or tc\n", optarg);
				return 2;
			}
			break;
		case 1011: o.uninstall = 1; break;
		case 1013: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || *optarg == '-' || errno || v < 1 || v > 100) {
				pr_err("--policy-ns-share %s: a percentage, 1 to 100\n", optarg);
				return 2;
			}
			o.ns_share = (unsigned int)v;
			break;
		}
		case 'S':
		case 'R': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || *optarg == '-' || errno || v > UINT32_MAX) {
				pr_err("--%s %s: a number, 0 to %u\n",
				       c == 'S' ? "trace-sample" : "events-rate", optarg, UINT32_MAX);
				return 2;
			}
			*(c == 'S' ? &o.trace_sample : &o.events_rate) = (__u32)v;
			break;
		}
		case 1040 ... 1046:
			if (flowd_parse_opt(c - 1040, optarg, &o.flows))
				return 2;
			break;
		case 1100:
			if (flowd_parse_opt(FLOWD_OPT_IPFIX, optarg, &o.flows))
				return 2;
			break;
		case 'v': xlog_max = xlog_max < XLOG_INFO ? XLOG_INFO : XLOG_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (flowd_check_opts(&o.flows))
		return 2;
	if (o.ui_addr && http_check_addr(o.ui_addr, o.http_remote)) {
		pr_err("--ui %s: not a loopback address: every client that reaches it reads the "
		       "cluster's flows; give --http-allow-remote to mean that\n", o.ui_addr);
		return 2;
	}
	if (o.ui_addr && o.metrics_addr && strcmp(o.ui_addr, o.metrics_addr)) {
		pr_err("--ui %s and --metrics-addr %s: one HTTP server serves both; give them the "
		       "same address\n", o.ui_addr, o.metrics_addr);
		return 2;
	}
	/* The map is drawn from the flow records. */
	if (o.ui_addr && !o.flows.window)
		o.flows.window = FLOWS_WINDOW_DEFAULT;
	if (o.metrics_addr && http_check_addr(o.metrics_addr, o.http_remote)) {
		pr_err("--metrics-addr %s: not a loopback address: every client that reaches it "
		       "reads the page; give --http-allow-remote to mean that\n", o.metrics_addr);
		return 2;
	}
	if (o.cgroup_root && !o.kpr) {
		pr_err("--cgroup-root %s: socket-level load balancing needs --kube-proxy-replacement "
		       "(the Service maps it reads): give both\n", o.cgroup_root);
		return 2;
	}
	if (o.cgroup_root && socklb_check_cgroup(o.cgroup_root))
		return 2;
	if (o.np_max && !o.kpr) {
		pr_err("--node-port-range is the NodePorts --kube-proxy-replacement serves: give both\n");
		return 2;
	}
	if (np_mode && (!o.kpr || !ov.underlay)) {
		pr_err("--node-port-mode is how --kube-proxy-replacement sends NodePort requests "
		       "to other nodes' backends, through the overlay (--underlay-dev): give all three\n");
		return 2;
	}
	if (o.ext_cip && (!o.kpr || !ov.underlay)) {
		pr_err("--external-clusterip is for ClusterIPs --kube-proxy-replacement serves on the "
		       "underlay (--underlay-dev): give all three\n");
		return 2;
	}
	if (lb_alg && !o.kpr) {
		pr_err("--lb-algorithm chooses backends for --kube-proxy-replacement: give both\n");
		return 2;
	}
	if (!!o.manifests + !!o.kubeconfig + o.in_cluster > 1) {
		pr_err("--manifests, --kubeconfig and --k8s-api in-cluster are alternative sources "
		       "of cluster state: give one\n");
		return 2;
	}
	if (gw) {
		struct in_addr a;

		if (inet_pton(AF_INET, gw, &a) != 1) {
			pr_err("--gateway %s: not an IPv4 address\n", gw);
			return 2;
		}
		o.gateway = a.s_addr;
	} else if (o.pod_mask) {
		o.gateway = htonl(ntohl(o.pod_cidr) + 1);
	}
	if (masquerade == 1 && !o.pod_mask && !mq.pod6.len) {
		pr_err("--masquerade needs --pod-cidr or --pod-cidr6: it masquerades traffic from "
		       "the pod CIDR\n");
		return 2;
	}
	/* Without a pod CIDR there is nothing to masquerade, and nothing to remove either. */
	mq.on = masquerade != 0 && (o.pod_mask || mq.pod6.len);
	if (masquerade != 0 && !mq.on)
		mq.table = NULL;
	mq.pod = (struct masq_prefix){ o.pod_cidr, o.pod_len };
	mq.node_ip = ov.node_ip;
	if (!o.node_name) {
		gethostname(host, sizeof(host) - 1);
		o.node_name = host;
	}
	if (geteuid() != 0) {
		pr_err("xcnid must run as root (it loads BPF programs: CAP_BPF, CAP_NET_ADMIN)\n");
		return 1;
	}
	xcni_libbpf_log_init();
	if (o.uninstall) {
		/* Whatever a masquerading agent left: the tables go unless --no-masquerade. */
		mq.table = masquerade == 0 ? NULL : MASQ_TABLE;
		return uninstall(&o) ? 1 : 0;
	}
	{
		struct probe_result pr;

		/* A kernel without what the programs need is refused before anything changes. */
		if (xcnid_probe(&pr))
			return 3;
		if (o.cgroup_root && !pr.sock_lb) {
			pr_warn("--cgroup-root %s: socket load balancing is off: kernel lacks %s "
				"(Linux >= %s); host-network clients reach Services through the "
				"node's pods' path only\n", o.cgroup_root, pr.sock_lb_missing,
				pr.sock_lb_since);
			o.cgroup_root = NULL;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	err = run(&o);
	return err ? 1 : 0;
}
