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
#include "lib/services/extfe.h"
#include "lib/services/svcsync.h"
#include "lib/cluster/store.h"
#include "to_pod.skel.h"
#include "agent/flows.h"
#include "agent/masq.h"
#include "agent/hooks.h"
#include "agent/http.h"
#include "agent/metrics.h"
#include "agent/ui.h"
#include "agent/overlay.h"
#include "agent/probe.h"
#include "agent/socklb.h"
#include "agent/status.h"
#include "agent/xcnid_opts.h"
#include "lib/system/version.h"

/* The service loopback: a hairpin flow's source (Cilium's default). */
#define XCNI_LB_LOOPBACK "169.254.42.1"


static volatile sig_atomic_t stop;
/* What the kernel can do (main), and whether --cgroup-root asked for socket LB, for status. */
static struct probe_result probed;
static bool sock_lb_wanted;

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

/*
 * The hooks' order looked at when its time came (--hook-check); *at is when
 * the next look is due (0: never). The poll timeout until then, or -1.
 */
static int hooks_tick(const struct opts *o, struct hooks *hk, __u64 *at)
{
	__u64 now = mono_ms();

	if (!hk || !o->hook_check_s)
		return -1;
	if (!*at || now >= *at) {
		if (*at)
			hooks_check(hk);
		*at = now + (__u64)o->hook_check_s * 1000;
	}
	return (int)(*at - now);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* --pod-cidr: the network, its mask (network order) and length. */
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
 * The fragment maps (bpf/lib/maps.h, struct xcni_frag_share): an entry lives
 * for one datagram's fragments, so a pinned one of another layout (an older
 * build's one LRU of datagrams, another size) is made again, losing at most
 * the datagrams in flight.
 */
static bool frag_map(const char *name)
{
	return !strcmp(name, "xcni_frag") || !strcmp(name, "xcni_frag6");
}

/*
 * Refuses, with the map and field named, a pinned map whose layout differs
 * from what this build expects: silently recreating it would drop every
 * conntrack entry and endpoint. The flags count too (libbpf would refuse
 * such a map later, naming nothing); a map of names of an older build, whose
 * flags alone differ, is made again instead (names_map), and so is a fragment
 * map of any other layout (frag_map).
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
		if (frag_map(bpf_map__name(m))) {
			pr_warn("pinned map %s has another layout (type %u key %u value %u entries %u "
				"flags %#x): making it again (fragments in flight are lost)\n",
				path, info.type, info.key_size, info.value_size, info.max_entries,
				info.map_flags);
			if (unlink(path)) {
				err = -errno;
				pr_err("pinned map %s: cannot remove it to make it again: %s\n", path,
				       strerror(-err));
				return err;
			}
			continue;
		}
		/* Names only (flags of an older build, another --map-max): made
		 * again, losing nothing. */
		if (names_map(bpf_map__name(m))) {
			pr_warn("pinned map %s has flags %#x and %u entries, this xcnid makes it with "
				"%#x and %u: making it again (its names are written again from the "
				"cluster's state)\n",
				path, info.map_flags, info.max_entries, bpf_map__map_flags(m),
				bpf_map__max_entries(m));
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
	memcpy(cfg.svc_cidr6, &o->svc6, 16);
	cfg.svc_cidr6_len = o->svc6_len;
	memcpy(cfg.pod_cidr6, &o->mq->pod6.net, 16);
	cfg.pod_cidr6_len = o->mq->pod6.len;
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

/* IPv6 addresses a pod being deleted yielded (pol_v6.nyielded), as of the
 * last time the IPv6 maps were built: counted in xcni_config beside the IPv4 ones. */
static size_t v6_yielded;

/* Records in the node config how far the maps follow the cluster state. */
static void report_gen(const struct opts *o, struct from_pod *fp, __u64 gen,
		       const struct pol_result *r, size_t nover, size_t names_missing,
		       const char *error)
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
		cfg.nr_addr_contested = r->ncontested > 0xffff ? 0xffff : (__u16)r->ncontested;
		cfg.nr_addr_yielded = r->nyielded + v6_yielded > 0xffff ?
					      0xffff :
					      (__u16)(r->nyielded + v6_yielded);
		if (!error)
			cfg.nr_names_missing = names_missing > 0xffff ? 0xffff : (__u16)names_missing;
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
/* What struct svc_node points into, for one generation. */
struct svc_node_bufs {
	uint32_t addrs[2];
	uint8_t addr6[1][16];
	uint32_t *peers;
	uint8_t (*peers6)[16];
	const char **pnames; /* the peers' Node names: IPv4's, then IPv6's from [n + 1] */
};

static void svc_node_free(struct svc_node_bufs *b)
{
	free(b->peers);
	free(b->peers6);
	free(b->pnames);
}

/*
 * The Service builder's view of the nodes (*sn, pointing into *b): this
 * node's NodePort addresses — its InternalIP (its Node object) and the
 * underlay address, where traffic from outside arrives, and its IPv6
 * InternalIP — and every other Node's, named, for this node's pods reaching
 * their NodePorts (under externalTrafficPolicy Local a peer's NodePort holds
 * that node's endpoints only). Also writes xcni_self6. 0 or -ENOMEM.
 */
static int svc_node_build(const struct opts *o, const struct cluster *c, __u64 gen,
			  struct svc_node *sn, struct svc_node_bufs *b)
{
	static const uint8_t none6[16];
	const struct k8s_object *node = NULL;
	size_t n = c->n[K8S_NODE];
	int err;

	*sn = (struct svc_node){ .name = o->node_name, .np_min = o->np_min, .np_max = o->np_max };
	for (size_t i = 0; i < n && o->node_name; i++)
		if (!strcmp(c->objs[K8S_NODE][i]->meta.name, o->node_name))
			node = c->objs[K8S_NODE][i];
	if (node && node->node.internal_ip)
		b->addrs[sn->naddrs++] = node->node.internal_ip;
	if (o->ov->underlay && o->ov->node_ip && (!sn->naddrs || b->addrs[0] != o->ov->node_ip))
		b->addrs[sn->naddrs++] = o->ov->node_ip;
	sn->addrs = b->addrs;
	b->peers = calloc(n + 1, sizeof(*b->peers));
	b->peers6 = calloc(n + 1, sizeof(*b->peers6));
	b->pnames = calloc(2 * (n + 1), sizeof(*b->pnames));
	if (!b->peers || !b->peers6 || !b->pnames)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = c->objs[K8S_NODE][i]->node.internal_ip;

		if (a && c->objs[K8S_NODE][i] != node && !(sn->naddrs && a == b->addrs[0]) &&
		    !(sn->naddrs > 1 && a == b->addrs[1])) {
			b->pnames[sn->npeers] = c->objs[K8S_NODE][i]->meta.name;
			b->peers[sn->npeers++] = a;
		}
	}
	sn->peers = b->peers;
	sn->peer_names = b->pnames;
	if (node && memcmp(node->node.internal_ip6, none6, 16)) {
		memcpy(b->addr6[0], node->node.internal_ip6, 16);
		sn->naddrs6 = 1;
	}
	/* Said, not fatal: without it only IPv6 external frontends to another
	 * node's backend drop (drop-no-tunnel); the Services are still written. */
	err = write_self6(o, sn->naddrs6 ? b->addr6[0] : none6);
	if (err)
		pr_warn("generation %llu: writing xcni_self6 (this node's IPv6 address): %s\n",
			(unsigned long long)gen, strerror(-err));
	sn->addrs6 = (const uint8_t(*)[16])b->addr6;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *a = c->objs[K8S_NODE][i]->node.internal_ip6;

		if (memcmp(a, none6, 16) && c->objs[K8S_NODE][i] != node &&
		    !(sn->naddrs6 && !memcmp(a, b->addr6[0], 16))) {
			b->pnames[n + 1 + sn->npeers6] = c->objs[K8S_NODE][i]->meta.name;
			memcpy(b->peers6[sn->npeers6++], a, 16);
		}
	}
	sn->peers6 = (const uint8_t(*)[16])b->peers6;
	sn->peer_names6 = b->pnames + n + 1;
	return 0;
}

static int sync_services(const struct opts *o, const struct cluster *c, struct svc_incr *si,
			 struct svcsync *ss, const struct store_change *ch, size_t nch, bool all,
			 __u64 gen, char *msg, size_t msglen)
{
	struct svc_node_bufs b = {};
	struct svcsync_stats st = {};
	const struct svc_delta *d;
	struct svc_node sn;
	double t0 = now_msf(), t1;
	int err;

	msg[0] = '\0';
	err = svc_node_build(o, c, gen, &sn, &b);
	if (!err)
		err = svc_incr_update(si, c, &sn, o->lb_flags, ch, nch, all, false, &d);
	svc_node_free(&b);
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
 * Beside kube-proxy (no --kube-proxy-replacement): xcni_extfe holds every
 * Service frontend (extfe.h), which from_plain refuses as a source from
 * outside. Built from the Services and compared whole with the map, only
 * in a generation where a Service may have changed. Not fatal: policy is
 * applied already; a failure is said and tried again (*retry). A full map
 * takes what fits, said once per change of the count, and is tried again
 * at the next generation.
 */
static int extfe_fd = -1;
static size_t extfe_last_full;
static bool extfe_due = true; /* a Service may have changed since the map was written */

/* Read from the journal as soon as it is taken: a generation that stops early loses it. */
static void extfe_note(const struct store_change *ch, size_t nch, bool all)
{
	extfe_due |= all;
	for (size_t i = 0; i < nch && !extfe_due; i++)
		extfe_due = ch[i].kind == K8S_SERVICE;
}

static void sync_extfe(const struct cluster *c, __u64 gen, bool *retry)
{
	struct xcni_svc_key *want = NULL;
	struct extfe_stats st = {};
	size_t n = 0;
	int err;

	if (extfe_fd < 0 || !extfe_due)
		return;
	err = extfe_build(c, &want, &n);
	if (!err)
		err = extfe_sync(extfe_fd, want, n, &st);
	free(want);
	if (!err && !st.full)
		extfe_due = false;
	if (err) {
		pr_warn("generation %llu: writing xcni_extfe (the Service frontends refused as "
			"sources from outside): %s; tried again\n",
			(unsigned long long)gen, strerror(-err));
		*retry = true;
		return;
	}
	if (st.full != extfe_last_full) {
		if (st.full)
			pr_warn("generation %llu: xcni_extfe is full: %zu of %zu Service frontends "
				"not refused as sources from outside (the Service range still is)\n",
				(unsigned long long)gen, st.full, n);
		else
			pr_info("generation %llu: xcni_extfe holds every Service frontend again\n",
				(unsigned long long)gen);
		extfe_last_full = st.full;
	}
	if (st.written || st.deleted)
		pr_info("generation %llu: %zu Service frontends refused as sources from outside "
			"(%zu written, %zu deleted)\n",
			(unsigned long long)gen, n - st.full, st.written, st.deleted);
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
		       ov[i].ipcache ? "and its namespace has more pod addresses than xcni_ipcache "
				       "has room for" :
		       ov[i].share   ? "more than its namespace's share (--policy-ns-share)" :
				       "more than the maps have left");
	}
}

/*
 * The namespaces closed for want of ipcache room (polsync_ipcache_closed),
 * once per change of the set.
 */
static void report_ipc_closed(struct polsync *ps, __u64 gen)
{
	static size_t last_n[2], last_addrs[2];

	for (int f = 0; f < 2; f++) {
		const char *map = f ? "xcni_ipcache6" : "xcni_ipcache";
		size_t n, addrs, len = 0;
		const char *const *ns = polsync_ipcache_closed(ps, f ? 6 : 4, &n, &addrs);
		char list[512] = "";

		if (n == last_n[f] && addrs == last_addrs[f])
			continue;
		last_n[f] = n;
		last_addrs[f] = addrs;
		if (!n) {
			pr_info("generation %llu: %s holds every pod's address again\n",
				(unsigned long long)gen, map);
			continue;
		}
		for (size_t i = 0; i < n && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						i ? ", " : "", ns[i]);
		pr_err("generation %llu: %s cannot hold every pod's address: namespace(s) %s "
		       "closed (the most addresses first; %zu addresses left out: other nodes "
		       "refuse their packets, their pods here are closed); every other "
		       "namespace's policy applied; raise --map-max=%s=N\n",
		       (unsigned long long)gen, map, list, addrs, map);
	}
}

/*
 * Addresses two live pods claim (pol_contest): each pod named, once per
 * change of the set, not at every generation; the metric and `xcnictl
 * endpoint list` show them meanwhile.
 */
static void report_contested(const struct pol_result *r, __u64 gen)
{
	static size_t last_n;
	static uint64_t last_sum;
	uint64_t sum = 0;
	char ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < r->ncontested; i++) {
		const struct pol_contest *c = &r->contested[i];

		sum = sum * 31 + c->ip + c->owner;
		for (const char *s = c->name.name; *s; s++)
			sum = sum * 131 + (unsigned char)*s;
	}
	if (r->ncontested == last_n && sum == last_sum)
		return;
	if (!r->ncontested) {
		pr_info("generation %llu: no address is claimed by two pods any more\n",
			(unsigned long long)gen);
	}
	last_n = r->ncontested;
	last_sum = sum;
	for (size_t i = 0; i < r->ncontested; i++) {
		const struct pol_contest *c = &r->contested[i];

		inet_ntop(AF_INET, &c->ip, ip, sizeof(ip));
		pr_err("generation %llu: address %s claimed by pod %s/%s (%s, node %s)%s\n",
		       (unsigned long long)gen, ip, c->name.ns, c->name.name,
		       k8s_pod_phase_name(c->phase)[0] ? k8s_pod_phase_name(c->phase) : "no phase",
		       c->name.node[0] ? c->name.node : "none",
		       c->owner ? ": its owner, closed (drop-addr-contested) until the others are gone" :
				  ": not its owner, holds nothing");
	}
}

/*
 * Addresses a pod being deleted yielded to a live pod of its node
 * (pol_yield): said once per change of the set, as the contested ones, so
 * that an operator who saw a Terminating pod and a new one share an address
 * knows why it is not closed.
 */
static void report_yielded(const struct pol_result *r, __u64 gen)
{
	static size_t last_n;
	static uint64_t last_sum;
	uint64_t sum = 0;
	char ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < r->nyielded; i++) {
		const struct pol_yield *y = &r->yielded[i];

		sum = sum * 31 + y->ip;
		for (const char *s = y->from.name; *s; s++)
			sum = sum * 131 + (unsigned char)*s;
		for (const char *s = y->to.name; *s; s++)
			sum = sum * 131 + (unsigned char)*s;
	}
	if (r->nyielded == last_n && sum == last_sum)
		return;
	last_n = r->nyielded;
	last_sum = sum;
	for (size_t i = 0; i < r->nyielded; i++) {
		const struct pol_yield *y = &r->yielded[i];

		inet_ntop(AF_INET, &y->ip, ip, sizeof(ip));
		pr_info("generation %llu: address %s: pod %s/%s (being deleted, node %s) yielded "
			"it to pod %s/%s of its node: not contested\n",
			(unsigned long long)gen, ip, y->from.ns, y->from.name, y->from.node,
			y->to.ns, y->to.name);
	}
}

/*
 * *retry: set when some pod was closed only for room that the cleanup of
 * this generation frees: sync again soon.
 * *nodes_changed: set when a Node may have changed (the masquerade set reads them).
 * *v6_due: the IPv6 maps are to be built and written (set by the compiler's
 * delta, cleared once they are written; starts true).
 */
static size_t last_names_missing; /* said once per change */

/* One generation in hand: what it took from the store's journal and what it reports. */
struct gen {
	const struct opts *o;
	struct from_pod *fp;
	struct svc_incr *si;
	__u64 gen;
	struct store_change *ch; /* the journal's changes, read once for policy and Services */
	size_t nch;
	bool all;
	const struct pol_result *r;
	char msg[256];
};

/*
 * Lets go of what a generation that stops short took: its journal changes
 * freed, the Services left to be compared whole next time (they will not see
 * these changes again).
 */
static void gen_drop(struct gen *g)
{
	store_changes_free(g->ch, g->nch);
	g->ch = NULL;
	g->nch = 0;
	if (g->si)
		svc_incr_invalidate(g->si);
}

/* A generation not applied: dropped, said (g->msg, else WHAT: the error) and reported. */
static int gen_stop(struct gen *g, int err, const char *what)
{
	if (!g->msg[0])
		snprintf(g->msg, sizeof(g->msg), "%s: %s", what, strerror(-err));
	gen_drop(g);
	pr_err("generation %llu not applied: %s\n", (unsigned long long)g->gen, g->msg);
	report_gen(g->o, g->fp, g->gen, g->r, 0, 0, g->msg);
	return err;
}

/* The compiler's view of this node: its name, gateway, underlay address and identity key. */
static void node_pol_opts(const struct opts *o, struct store *st, struct pol_opts *po)
{
	const struct k8s_object *node = store_get(st, K8S_NODE, NULL, o->node_name);

	*po = (struct pol_opts){ .node_name = o->node_name, .gateway_ip = o->gateway };
	memcpy(po->id_key, o->id_key, sizeof(po->id_key));
	if (node)
		po->node_ip = node->node.internal_ip;
	if (o->ov->underlay) {
		/* An IPv6 underlay has no IPv4 node address: the Node's stays. */
		if (o->ov->node_ip)
			po->node_ip = o->ov->node_ip;
		po->underlay6 = o->ov->underlay6;
	}
}

/*
 * IPv6 addresses compiled (into *v6, freed by the caller whatever this
 * returns) and planned before the IPv4 apply: which namespaces xcni_ipcache6
 * cannot hold closes their pods in the IPv4 apply too (polsync_plan6).
 */
static int plan_v6(struct gen *g, struct pol_incr *pi, const struct cluster *c,
		   struct polsync *ps, struct pol_v6 *v6)
{
	static size_t last_v6_contested;
	int err = pol_v6_build(pi, c, v6);

	if (err) {
		snprintf(g->msg, sizeof(g->msg), "compiling the IPv6 addresses: %s", strerror(-err));
		return err;
	}
	if (v6->nyielded != v6_yielded)
		pr_info("%zu IPv6 address(es) a pod being deleted yielded to a live pod of its "
			"node: not contested\n", v6->nyielded);
	v6_yielded = v6->nyielded;
	/* Once per change: the addresses are in the ipcache6 as unmanaged. */
	if (v6->ncontested != last_v6_contested) {
		if (v6->ncontested)
			pr_warn("%zu IPv6 address(es) claimed by two live pods: closed "
				"(xcnictl ipcache shows reserved:unmanaged)\n", v6->ncontested);
		else
			pr_info("no IPv6 address is claimed by two live pods any more\n");
		last_v6_contested = v6->ncontested;
	}
	err = polsync_plan6(ps, v6, g->msg, sizeof(g->msg));
	if (err && !g->msg[0])
		snprintf(g->msg, sizeof(g->msg), "IPv6 addresses: %s", strerror(-err));
	return err;
}

/* The generation's line in the log: how long, how much, compiled whole or as a delta. */
static void say_applied(const struct gen *g, const struct pol_delta *d,
			const struct polsync_stats *ss, double t0, double t1)
{
	const struct pol_result *r = g->r;

	if (ss->names_missing != last_names_missing)
		pr_warn("generation %llu: %zu names for people (identities, policies, pods) do not fit "
			"the maps of names: shown as numbers; policy is applied all the same\n",
			(unsigned long long)g->gen, ss->names_missing);
	last_names_missing = ss->names_missing;
	pr_info("generation %llu applied in %.2f ms (compile %.2f ms, %s%s%s%s, %zu pods compiled, %zu given new identities): "
		"%zu pods rewritten (%zu in place), %zu entries written, %zu deleted, %zu other map changes; "
		"%zu identities, %zu policies\n",
		(unsigned long long)g->gen, now_msf() - t0, t1 - t0, d->full ? "whole" : "delta",
		d->why ? " [" : "", d->why ?: "", d->why ? "]" : "", d->neps_compiled, d->neps_born,
		ss->eps_changed, ss->eps_in_place, ss->entries_written, ss->entries_deleted,
		ss->other_changed, r->nidentities, r->npolicies);
}

static int sync_policy(const struct opts *o, struct from_pod *fp, struct store *st,
		       struct pol_incr *pi, struct polsync *ps, struct svc_incr *si,
		       struct svcsync *svs, __u64 gen, bool *nodes_changed, bool *v6_due,
		       bool *retry)
{
	struct gen g = { .o = o, .fp = fp, .si = si, .gen = gen };
	struct polsync_stats ss = {};
	struct k8s_error kerr = { "" };
	const struct pol_delta *d;
	struct pol_v6 v6 = { 0 };
	struct pol_opts po;
	struct cluster c;
	double t0 = now_msf(), t1;
	int err;

	node_pol_opts(o, st, &po);
	store_view(st, &c);
	store_journal_take(st, &g.ch, &g.nch, &g.all);
	extfe_note(g.ch, g.nch, g.all);
	*nodes_changed |= g.all;
	for (size_t i = 0; i < g.nch; i++)
		*nodes_changed |= g.ch[i].kind == K8S_NODE;
	err = pol_incr_update(pi, &c, &po, g.ch, g.nch, g.all, polsync_needs_full(ps), &g.r, &d,
			      &kerr);
	if (err) {
		snprintf(g.msg, sizeof(g.msg), "%s", kerr.msg[0] ? kerr.msg : strerror(-err));
		gen_drop(&g);
		pr_err("compiling policy (generation %llu): %s\n", (unsigned long long)gen, g.msg);
		report_gen(o, fp, gen, g.r, 0, 0, g.msg);
		return err;
	}
	t1 = now_msf();
	*v6_due |= d->v6_changed;
	if (*v6_due && (err = plan_v6(&g, pi, &c, ps, &v6))) {
		pol_v6_free(&v6);
		return gen_stop(&g, err, "IPv6 addresses");
	}
	err = polsync_apply(ps, g.r, d, &ss, g.msg, sizeof(g.msg));
	if (err) {
		if (*v6_due)
			pol_v6_free(&v6);
		return gen_stop(&g, err, "writing the policy maps");
	}
	report_overflows(ps, gen);
	report_ipc_closed(ps, gen);
	report_contested(g.r, gen);
	report_yielded(g.r, gen);
	if (ss.retry)
		*retry = true;
	/* IPv6 addresses: identities (ipcache6) and this node's policy keys (polkey6).
	 * Only when their input may have changed: built from every Node (their
	 * IPv6 InternalIPs) and the IPv6 pods, and compared whole, on each pod
	 * event it was ~4% of the agent's CPU at 1000 Nodes with no IPv6 pod. */
	g.msg[0] = '\0';
	if (*v6_due) {
		err = polsync_apply6(ps, &v6, &ss.other_changed);
		pol_v6_free(&v6);
		if (err)
			return gen_stop(&g, err, "writing the IPv6 maps (ipcache6, polkey6)");
		*v6_due = false;
	}
	if (o->ov->underlay)
		overlay_sync_nodes(o->ov, &c, o->node_name);
	xcni_killpoint("applied"); /* maps written, revision not bumped */
	err = bump_policy_rev(fp);
	if (err)
		pr_err("policy revision not counted (flows open before keep their old "
		       "verdict): %s\n", strerror(-err));
	/* A failed delete stays queued: the next sync, soon, deletes it first. */
	if (polsync_cleanup(ps, &ss))
		*retry = true;
	/* After policy: a new backend's flows are judged by the policy of this generation. */
	err = 0;
	g.msg[0] = '\0';
	if (o->kpr)
		err = sync_services(o, &c, si, svs, g.ch, g.nch, g.all, gen, g.msg, sizeof(g.msg));
	else
		sync_extfe(&c, gen, retry);
	store_changes_free(g.ch, g.nch);
	g.ch = NULL;
	g.nch = 0;
	if (err) {
		g.si = NULL; /* sync_services keeps its own state */
		return gen_stop(&g, err, "Services");
	}
	report_gen(o, fp, gen, g.r, ss.eps_overflow, ss.names_missing, NULL);
	say_applied(&g, d, &ss, t0, t1);
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

/* The map writers (policy; Services in BPF, or beside kube-proxy the frontends refused as
 * sources), the identities the maps hold seeding the compiler. */
static int open_writers(const struct opts *o, struct pol_incr *pi, struct polsync **ps,
			struct svcsync **ss, struct svc_incr **si)
{
	int err;

	err = polsync_open(o->pin_dir, ps);
	if (err) {
		pr_err("opening the policy maps under %s: %s\n", o->pin_dir, strerror(-err));
		return err;
	}
	polsync_set_ns_share(*ps, o->ns_share);
	/* A restarted agent gives every label set the number the maps give it. */
	{
		struct pol_idprev *prev = NULL;
		size_t nprev = 0;

		err = polsync_identities(*ps, &prev, &nprev);
		if (!err)
			err = pol_incr_seed(pi, prev, nprev);
		free(prev);
		if (err)
			return err;
		if (nprev)
			pr_info("%zu identities found in the maps: their label sets keep them\n",
				nprev);
	}
	/* Reads what the maps hold: a restart keeps every translation until the state is read. */
	if (o->kpr && (err = svcsync_open(o->pin_dir, ss))) {
		pr_err("opening the Service maps under %s: %s\n", o->pin_dir, strerror(-err));
		return err;
	}
	if (o->kpr && !(*si = svc_incr_new()))
		return -ENOMEM;
	/* Beside kube-proxy: the frontends refused as sources (sync_extfe). */
	if (!o->kpr && (err = extfe_fd = xcni_map_open_pinned(o->pin_dir, "xcni_extfe", NULL)) < 0) {
		pr_err("opening xcni_extfe under %s: %s\n", o->pin_dir, strerror(-err));
		return err;
	}
	return 0;
}

/* Where cluster state comes from: the manifest directory, or the API server. */
static int open_backend(const struct opts *o, struct store *st, struct cs_backend **b)
{
	int err;

	if (o->manifests) {
		err = manifest_dir_open_flags(o->manifests, st, o->kpr ? MANIFEST_LB : MANIFEST_SVC, b);
		if (err) {
			pr_err("cluster state: cannot read manifest directory %s: %s\n",
			       o->manifests, strerror(-err));
			return err;
		}
	} else {
		/* kubeconfig NULL: in-cluster. Fails only on configuration, logged. */
		err = k8s_api_open_flags(o->kubeconfig, st, o->kpr ? K8S_API_LB : K8S_API_SVC, b);
		if (err)
			return err;
	}
	return 0;
}

/*
 * How long the loop may sleep (timeout: the hooks' and the masquerade's
 * next tick, -1 none): until a pending sync is due (*due, CLOCK_MONOTONIC ms),
 * a failed one retried (0.5 s doubling to 10 s), or pods closed for room
 * judged again (*retry).
 */
static int sync_timeout(const struct opts *o, bool synced, bool *retry, __u64 *due,
			unsigned *backoff, int timeout)
{
	if (!synced && !*due) {
		/* A failed generation (a map write that failed: the maps hold
		 * a consistent one, polsync.c) is tried again by itself, not
		 * only at the next change: 0.5 s, doubling to 10 s. */
		*backoff = !*backoff ? 500 : *backoff >= 5000 ? 10000 : *backoff * 2;
		*due = mono_ms() + *backoff;
	} else if (synced) {
		*backoff = 0;
	}
	if (*retry && !*due) {
		/* Pods closed for room the last cleanup freed: judge them again. */
		*retry = false;
		*due = mono_ms() + o->sync_delay_ms;
	}
	if (*due) {
		__u64 now = mono_ms();
		int t = *due > now ? (int)(*due - now) : 0;

		timeout = timeout < 0 || t < timeout ? t : timeout;
	}
	return timeout;
}

/* Follows the manifest directory until asked to stop. */
/* The cluster watch's state: the store, the compilers and writers, what is due. */
struct watch {
	const struct opts *o;
	struct from_pod *fp;
	struct agent_status *sts;
	struct store *st;
	struct cs_backend *b;
	struct pol_incr *pi;
	struct polsync *ps;
	struct svcsync *ss;
	struct svc_incr *si;
	__u64 version;    /* the store's, at the last sync */
	bool synced;      /* the last sync applied */
	bool masq_due;    /* a Node may have changed: masquerading's exceptions to compare */
	bool v6_due;      /* IPv6 addresses to compile */
	bool retry;       /* a sync left something to retry */
	__u64 due;        /* a sync is pending: CLOCK_MONOTONIC ms when it runs; 0: none */
	unsigned backoff; /* ms before a failed sync is tried again; 0: the last one worked */
};

/* One sync of everything: policy, Services, masquerading where a Node may have changed. */
static void watch_sync(struct watch *w)
{
	w->due = 0;
	w->version = store_version(w->st);
	w->synced = sync_policy(w->o, w->fp, w->st, w->pi, w->ps, w->si, w->ss, w->b->sync_gen,
				&w->masq_due, &w->v6_due, &w->retry) == 0;
	status_synced(w->sts, w->synced, w->b->sync_gen);
	/* Only when a Node may have changed: digesting every Node's prefixes to
	 * find the set unchanged cost ~5% of the agent's CPU in pod churn at 1000
	 * Nodes. A failed write is retried. */
	if (w->masq_due && !sync_masq(w->o, w->st))
		w->masq_due = false;
}

/*
 * After an event of the cluster source (or a due sync): a change is not
 * compiled the moment it arrives: the first one opens a window of
 * --sync-delay ms, and everything that comes in it is compiled and written in
 * one sync (its own deltas merged). Under churn that is fewer syncs for the
 * same writes; a lone change waits the window once.
 */
static void watch_changed(struct watch *w, __u64 gen)
{
	if (store_version(w->st) != w->version || !w->synced || w->due) {
		__u64 now = mono_ms();

		if (!w->due)
			w->due = now + w->o->sync_delay_ms;
		if (now >= w->due)
			watch_sync(w);
	} else if (w->b->sync_gen != gen) {
		/* A new token and no object change: the maps already hold it. */
		report_gen(w->o, w->fp, w->b->sync_gen, NULL, 0, 0, NULL);
		if (w->synced)
			status_synced(w->sts, true, w->b->sync_gen);
	}
}

static void watch_close(struct watch *w)
{
	status_set_cluster(w->sts, NULL, NULL);
	if (w->b)
		w->b->ops->free(w->b);
	polsync_free(w->ps);
	svcsync_free(w->ss);
	svc_incr_free(w->si);
	if (extfe_fd >= 0)
		close(extfe_fd);
	extfe_fd = -1;
	pol_incr_free(w->pi);
	store_free(w->st);
}

/* The store, the writers and the cluster source opened, and the first sync where it can be. */
static int watch_open(struct watch *w)
{
	const struct opts *o = w->o;
	int err;

	w->st = store_new();
	w->pi = pol_incr_new();
	w->masq_due = w->v6_due = true;
	if (!w->st || !w->pi)
		return -ENOMEM;
	err = open_writers(o, w->pi, &w->ps, &w->ss, &w->si);
	if (!err)
		err = open_backend(o, w->st, &w->b);
	if (err)
		return err;
	pr_info("cluster state from %s (%s backend)\n",
		o->manifests ?: o->kubeconfig ?: "the API server (in-cluster)", w->b->ops->name);
	status_set_cluster(w->sts, o->manifests ?: o->kubeconfig ?: "in-cluster", w->b);
	/* The API backend starts empty and fills the store only once everything is
	 * listed: syncing now would take away what a previous agent programmed. */
	w->synced = true;
	if (o->manifests)
		watch_sync(w);
	w->version = store_version(w->st);
	return 0;
}

static int watch_cluster(const struct opts *o, struct from_pod *fp, struct http *hs,
			 struct flowd *fd, struct hooks *hk, struct agent_status *sts)
{
	struct watch w = { .o = o, .fp = fp, .sts = sts };
	__u64 hook_at = 0;
	int err = watch_open(&w);

	while (!err && !stop) {
		struct pollfd pfd[4] = { { .fd = w.b->ops->fd(w.b), .events = POLLIN },
					 { .fd = http_fd(hs), .events = POLLIN },
					 { .fd = flowd_fd(fd), .events = POLLIN },
					 { .fd = status_fd(sts), .events = POLLIN } };
		__u64 gen = w.b->sync_gen;
		int timeout = hooks_tick(o, hk, &hook_at), n;
		int flush_in = o->mq->on ? masq_flush_tick(o->mq, mono_ms()) : -1;

		if (flush_in >= 0 && (timeout < 0 || flush_in < timeout))
			timeout = flush_in;
		timeout = sync_timeout(o, w.synced, &w.retry, &w.due, &w.backoff, timeout);
		n = poll(pfd, 4, timeout);
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
		if (n > 0 && pfd[3].revents)
			status_dispatch(sts);
		if (n > 0 && pfd[0].revents) {
			n = w.b->ops->dispatch(w.b);
			if (n < 0)
				pr_warn("cluster state: %s\n", strerror(-n));
		} else if (!w.due) {
			continue;
		}
		watch_changed(&w, gen);
	}
	watch_close(&w);
	return err;
}

/* The pin directory and its links/ on a bpffs, and the ABI of what is pinned there ours. */
static int pin_dirs_ready(const char *pin_dir)
{
	char links[512];
	int err;

	err = xcni_bpffs_ensure(pin_dir);
	if (err) {
		pr_err("bpffs is not mounted at /sys/fs/bpf and mounting it failed: %s\n",
		       strerror(-err));
		return err;
	}
	snprintf(links, sizeof(links), "%s/%s", pin_dir, XCNI_PIN_LINKS);
	if ((mkdir(pin_dir, 0700) && errno != EEXIST) ||
	    (mkdir(links, 0700) && errno != EEXIST)) {
		err = -errno;
		pr_err("cannot create %s: %s (is %s on a bpffs mount?)\n", links,
		       strerror(errno), pin_dir);
		return err;
	}
	return check_abi(pin_dir);
}

/* The programs' constants (rodata): the node's ranges, Services in BPF, the underlay. */
static int set_rodata(const struct opts *o, struct from_pod *fp, struct to_pod *tp)
{
	int err;

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
		memcpy(o->ov->svc6, o->svc6.s6_addr, 16);
		memcpy(o->ov->svc6_mask, m.s6_addr, 16);
	}
	o->ov->svc_cidr = o->svc_cidr;
	o->ov->svc_mask = o->svc_mask;
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
			return err;
		o->mq->node_ip = o->ov->node_ip;
		fp->rodata->node_ip = o->ov->node_ip;
		memcpy((void *)fp->rodata->node_ip6, o->ov->node_ip6, 16);
		fp->rodata->underlay_ifindex = (__u32)o->ov->underlay_ifindex;
		fp->rodata->vni = o->ov->vni;
	}
	return 0;
}

/* Without cluster state: the HTTP server, flows and status answered until a signal. */
static void serve_local(const struct opts *o, struct http *hs, struct flowd *fd, struct hooks *hk,
			struct agent_status *sts)
{
	__u64 hook_at = 0;

	/* poll(2) skips fd -1: without metrics this waits for a signal, as pause(2) would. */
	while (!o->once && !stop) {
		struct pollfd pfd[3] = { { .fd = http_fd(hs), .events = POLLIN },
					 { .fd = flowd_fd(fd), .events = POLLIN },
					 { .fd = status_fd(sts), .events = POLLIN } };

		if (poll(pfd, 3, hooks_tick(o, hk, &hook_at)) > 0) {
			if (pfd[0].revents)
				http_dispatch(hs);
			if (pfd[1].revents)
				flowd_dispatch(fd);
			if (pfd[2].revents)
				status_dispatch(sts);
		}
	}
}

/* What the agent serves: HTTP (metrics, the UI), flows, status and /readyz. */
static int open_served(const struct opts *o, struct hooks *hk, struct http **hs,
		       struct metrics **ms, struct flowd **fd, struct ui **ui,
		       struct agent_status **sts)
{
	int err = 0;

	if ((o->metrics_addr || o->ui_addr) && !o->once &&
	    (err = http_open(o->metrics_addr ?: o->ui_addr, o->http_remote, hs)))
		return err;
	if (o->metrics_addr && !o->once && (err = metrics_open(o->pin_dir, *hs, ms)))
		return err;
	metrics_set_hooks(*ms, hk);
	if (o->flows.window && !o->once &&
	    (err = flowd_open(&o->flows, o->pin_dir, o->node_name, fd))) {
		/* On by default, flows are not worth the agent: without an option
		 * that asked for them (the UI draws them), it runs without. */
		if (o->flows.asked || o->ui_addr)
			return err;
		pr_warn("flows: off (%s); xcnictl flows will not answer\n", strerror(-err));
		err = 0;
		*fd = NULL;
	}
	metrics_set_flows(*ms, *fd ? flowd_flows(*fd) : NULL);
	if (o->ui_addr && !o->once && (err = ui_open(*hs, *fd, o->pin_dir, ui)))
		return err;
	/* Pinned and attached by now: what status and /readyz report. */
	if (!o->once && (err = status_open(o->pin_dir, o->node_name, sts)))
		return err;
	if ((err = status_route(*sts, *hs)))
		return err;
	status_set_probe(*sts, &probed, sock_lb_wanted);
	status_set_flows(*sts, o->flows.window && !o->once, o->flows.window, o->flows.ipfix_url);
	if (o->manifests || o->kubeconfig || o->in_cluster)
		status_set_cluster(*sts, o->manifests ?: o->kubeconfig ?: "in-cluster", NULL);
	status_set_attached(*sts);
	return 0;
}

/*
 * from_pod's and to_pod's objects opened (*fpp, *tpp, destroyed by the caller
 * whatever this returns), sized by --map-max, checked against what is pinned,
 * parameterized and loaded.
 */
static int load_pod_progs(const struct opts *o, struct from_pod **fpp, struct to_pod **tpp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct from_pod *fp;
	struct to_pod *tp;
	int err;

	fp = *fpp = from_pod__open_opts(&oo);
	tp = *tpp = to_pod__open_opts(&oo);
	if (!fp || !tp) {
		err = -errno;
		pr_err("cannot open the BPF objects: %s\n", strerror(errno));
		return err;
	}
	for (int i = 0; i < o->ov->nmap_max; i++) {
		const struct map_max *mm = &o->ov->map_max[i];

		if (!map_max_apply(fp->obj, mm, 1) + !map_max_apply(tp->obj, mm, 1) == 2) {
			pr_err("--map-max %s: no such map (the names xcnictl and bpftool show, e.g. "
			       "xcni_ipcache)\n", mm->name);
			return -ENOENT;
		}
	}
	err = check_pinned_layout(o->pin_dir, fp->obj);
	if (!err)
		err = check_pinned_layout(o->pin_dir, tp->obj);
	if (!err)
		err = set_rodata(o, fp, tp);
	if (err)
		return err;
	err = from_pod__load(fp);
	if (!err)
		err = to_pod__load(tp);
	if (err == -EPERM)
		pr_err("loading BPF programs: permission denied (xcnid needs root: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)\n");
	else if (err)
		pr_err("loading BPF programs failed: %s (run with -v for the verifier log)\n",
		       strerror(-err));
	return err;
}

/* The socket load balancer's object (*sl) opened, checked against what is pinned and loaded. */
static int load_socklb(const struct opts *o, struct sock_lb **sl)
{
	int err = socklb_open(sl, o->pin_dir, o->ov->map_max, o->ov->nmap_max);

	if (err)
		pr_err("cannot open the socket load-balancing object: %s\n", strerror(-err));
	if (!err)
		err = check_pinned_layout(o->pin_dir, socklb_obj(*sl));
	if (!err)
		err = socklb_load(*sl);
	return err;
}

/*
 * The loaded programs onto the node: the node config written, the pods' and
 * the underlay's hooks and the cgroup taken over, how XDP ended up attached
 * recorded, and the pod programs pinned last — the plugin attaches only
 * what a complete agent published.
 */
static int attach_dataplane(const struct opts *o, struct from_pod *fp, struct to_pod *tp,
			    struct sock_lb *sl)
{
	int err = write_config(fp, o);

	if (err) {
		pr_err("writing the node config: %s\n", strerror(-err));
		return err;
	}
	err = take_over_attachments(o->pin_dir, bpf_program__fd(fp->progs.from_pod),
				    bpf_program__fd(tp->progs.to_pod));
	if (!err && o->ov->underlay)
		err = overlay_attach(o->ov, o->pin_dir);
	if (!err)
		err = o->cgroup_root ? socklb_attach(sl, o->pin_dir, o->cgroup_root) :
				       socklb_detach_pinned(o->pin_dir);
	if (err)
		return err;
	if (o->ov->underlay) {
		struct xcni_config cfg;
		__u32 k = 0;

		/* How XDP ended up attached, for people and xcnictl. */
		if (!bpf_map__lookup_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0)) {
			cfg.xdp_mode = o->ov->xdp_mode;
			cfg.np_accel = o->ov->np_accel_mode;
			bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
		}
	}
	err = pin_atomic(fp->progs.from_pod, o->pin_dir, XCNI_PIN_PROG_FROM_POD);
	if (!err)
		err = pin_atomic(tp->progs.to_pod, o->pin_dir, XCNI_PIN_PROG_TO_POD);
	if (err)
		pr_err("pinning programs under %s: %s\n", o->pin_dir, strerror(-err));
	return err;
}

static int run(const struct opts *o)
{
	bool cluster = o->manifests || o->kubeconfig || o->in_cluster;
	struct from_pod *fp = NULL;
	struct to_pod *tp = NULL;
	struct metrics *ms = NULL;
	struct ui *ui = NULL;
	struct flowd *fd = NULL;
	struct http *hs = NULL;
	struct sock_lb *sl = NULL;
	struct hooks *hk = NULL;
	struct agent_status *sts = NULL;
	int err;

	err = pin_dirs_ready(o->pin_dir);
	if (err)
		return err;
	err = load_pod_progs(o, &fp, &tp);
	if (!err && o->ov->underlay)
		err = overlay_load(o->ov, o->pin_dir);
	if (!err && o->cgroup_root)
		err = load_socklb(o, &sl);
	if (!err)
		err = attach_dataplane(o, fp, tp, sl);
	/* Attached first; looked at now, and every --hook-check seconds after. */
	if (!err && !(err = hooks_open(o->pin_dir, o->ov, &hk)))
		hooks_check(hk);
	if (!err)
		err = open_served(o, hk, &hs, &ms, &fd, &ui, &sts);
	/* Without cluster state the set is what this node knows itself; with it,
	 * once the state is read (an empty store would exempt too little). */
	if (!err && o->mq->on && !cluster)
		err = masq_sync(o->mq, NULL);
	if (!err && !o->mq->on && o->mq->table)
		err = masq_remove(o->mq);
	if (err)
		goto out;
	printf("xcnid: ready: programs and maps pinned under %s\n", o->pin_dir);
	fflush(stdout);

	if (cluster && !o->once)
		err = watch_cluster(o, fp, hs, fd, hk, sts);
	else
		serve_local(o, hs, fd, hk, sts);
out:
	http_free(hs);
	status_free(sts);
	ui_free(ui);
	flowd_free(fd);
	metrics_free(ms);
	hooks_free(hk);
	/* Programs, maps and the masquerade table stay: the data plane outlives the agent. */
	masq_free(o->mq);
	overlay_free(o->ov);
	socklb_free(sl);
	to_pod__destroy(tp);
	from_pod__destroy(fp);
	return err;
}

int main(int argc, char **argv)
{
	static struct xcnid_cmdline cl;
	struct opts *o = &cl.o;
	int err;

	err = xcni_version_main("xcnid", argc, argv);
	if (err >= 0)
		return err;
	err = xcnid_cmdline(argc, argv, &cl);
	if (err >= 0)
		return err;
	if (geteuid() != 0) {
		pr_err("xcnid must run as root (it loads BPF programs: CAP_BPF, CAP_NET_ADMIN)\n");
		return 1;
	}
	xcni_libbpf_log_init();
	if (o->uninstall) {
		/* Whatever a masquerading agent left: the tables go unless --no-masquerade. */
		cl.mq.table = cl.masquerade == 0 ? NULL : MASQ_TABLE;
		return uninstall(o) ? 1 : 0;
	}
	{
		struct probe_result *pr = &probed;

		/* A kernel without what the programs need is refused before anything changes. */
		if (xcnid_probe(pr))
			return 3;
		sock_lb_wanted = o->cgroup_root != NULL;
		if (o->cgroup_root && !pr->sock_lb) {
			pr_warn("--cgroup-root %s: socket load balancing is off: kernel lacks %s "
				"(Linux >= %s); host-network clients reach Services through the "
				"node's pods' path only\n", o->cgroup_root, pr->sock_lb_missing,
				pr->sock_lb_since);
			o->cgroup_root = NULL;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	err = run(o);
	return err ? 1 : 0;
}
