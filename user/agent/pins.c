// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's pinned state under the pin dir: what a restart may reuse (the
 * maps' layouts and the map ABI checked), the programs pinned and swapped
 * into every link without a gap, and --uninstall taking it all away.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "lib/system/util.h"
#include "xcni_shared.h"
#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "agent/masq.h"
#include "agent/overlay.h"
#include "agent/socklb.h"
#include "agent/pins.h"
#include "agent/xcnid_opts.h"

/*
 * The maps of names for people (bpf/lib/maps.h): the agent writes every entry
 * again from the cluster's state, so a pinned one made by an older build with
 * other flags (preallocated) may be made again, losing nothing.
 */
static bool names_map(const char *name)
{
	return !strcmp(name, "xcni_polname") || !strcmp(name, "xcni_polsel") ||
	       !strcmp(name, "xcni_identity") || !strcmp(name, "xcni_podname");
}

/*
 * The fragment maps (bpf/lib/maps.h, struct xcni_frag_share): an entry lives
 * for one datagram's fragments, so a pinned one of another layout (an older
 * build's one LRU of datagrams, another size) is made again, losing at most
 * the datagrams in flight. The socket LB's records too (an older build's
 * LRU, uncharged): its open sockets' getpeername and recvmsg show the
 * backend until they close.
 */
static bool frag_map(const char *name)
{
	return !strcmp(name, "xcni_frag") || !strcmp(name, "xcni_frag6") ||
	       !strcmp(name, "xcni_sock_rn") || !strcmp(name, "xcni_sock_rn6");
}

/* A pinned map removed, to be made again on load: 0 or -errno (said). */
static int pin_remove(const char *path)
{
	int err = unlink(path) ? -errno : 0;

	if (err)
		pr_err("pinned map %s: cannot remove it to make it again: %s\n", path,
		       strerror(-err));
	return err;
}

/*
 * The per-node maps' sizes (docs/decisions/map-sizes.md). What they hold
 * grows with the node's flows, which grow with its pods and are paid in its
 * memory: conntrack gets 0.05% of the memory at XCNI_CT_ENTRY_BYTES an entry,
 * at most NODE_FLOWS_PER_POD flows for each of NODE_PODS pods, a power of two
 * from 16,384 to 1,048,576; the other maps of flows a part of it; the XDP
 * NodePort cache (a value per CPU) 1 MiB; the Maglev tables below.
 */
#define NODE_PODS 110 /* the kubelet's --max-pods by default (a kind node's) */
#define NODE_FLOWS_PER_POD 256
#define XCNI_CT_ENTRY_BYTES 152 /* an xcni_ct entry with the LRU's own (bytes_memlock) */

static __u32 pow2_up(__u64 v)
{
	__u32 p = 1;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

static __u64 clamp_u64(__u64 v, __u64 lo, __u64 hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Whether maps grow in this image: grow_prepare says (growth calls pins, not back). */
static bool keep_grown;

void pins_keep_grown(bool on)
{
	keep_grown = on;
}

__u64 node_mem_total(void)
{
	struct sysinfo si;

	return sysinfo(&si) ? 0 : (__u64)si.totalram * si.mem_unit;
}

int map_sizes_node(struct map_max *mm, int *n)
{
	__u64 mem = node_mem_total() ?: 4ull << 30, by_mem = mem / 2000 / XCNI_CT_ENTRY_BYTES;
	__u64 cpus = (__u64)(libbpf_num_possible_cpus() > 0 ? libbpf_num_possible_cpus() : 1);
	__u32 ct = (__u32)clamp_u64(pow2_up(by_mem < NODE_PODS * NODE_FLOWS_PER_POD ?
					    by_mem : NODE_PODS * NODE_FLOWS_PER_POD), 16384, 1 << 20);
	__u32 npc = (__u32)clamp_u64(pow2_up((1 << 20) / ((sizeof(struct xcni_npc) + 7) / 8 * 8 *
							   cpus) + 1) / 2, 256, XCNI_MAX_NPC);
	/* A Maglev table a Service (XCNI_MAGLEV_M ids in 8-byte slots): what 0.5% of the memory
	 * holds, a power of two from 64 to 4,096; growth doubles it up to 1% (grow.c). */
	__u32 mgl = (__u32)clamp_u64(pow2_up(mem / 200 / (XCNI_MAGLEV_M * 8ull) + 1) / 2, 64, 4096);
	const struct { const char *name; __u32 n; } s[] = {
		{ "xcni_ct", ct },
		{ "xcni_ct6", ct / 2 },
		{ "xcni_snat", ct / 2 }, /* >= 8,192: one client at --snat-client-max (4,096) never fills it */
		{ "xcni_affinity", ct / 4 },
		{ "xcni_snat_cl", ct / 8 },
		{ "xcni_snat_known", ct / 8 },
		{ "xcni_sock_flow", ct / 8 },
		{ "xcni_sock_flow6", ct / 8 },
		{ "xcni_npc", npc },
		{ "xcni_evshare", pow2_up(NODE_PODS * 4) },
		{ "xcni_fqdn", pow2_up(NODE_PODS * XCNI_FQDN_PER_POD) },
		{ "xcni_maglev", mgl },
	};
	int k = (int)(sizeof(s) / sizeof(s[0]));

	if (*n + k > MAP_MAX_ALL)
		return -E2BIG;
	/* First: a --map-max for the same map comes later and wins. */
	memmove(mm + k, mm, (size_t)*n * sizeof(*mm));
	for (int i = 0; i < k; i++) {
		mm[i] = (struct map_max){ .n = s[i].n };
		snprintf(mm[i].name, sizeof(mm[i].name), "%s", s[i].name);
	}
	*n += k;
	pr_info("maps sized for this node (%.1f GiB, %llu CPUs, %d pods): xcni_ct %u, xcni_ct6 %u, "
		"xcni_snat %u, xcni_affinity %u, xcni_npc %u (--map-max overrides)\n",
		(double)mem / (1 << 30), cpus, NODE_PODS, ct, ct / 2, ct / 2, ct / 4, npc);
	return 0;
}

/* The entry that sizes map name (the last naming it), or NULL. */
static struct map_max *map_max_find(struct map_max *mm, int n, const char *name)
{
	for (int i = n - 1; i >= 0; i--)
		if (!strcmp(mm[i].name, name))
			return &mm[i];
	return NULL;
}

/*
 * Keeps a pinned map of this build's type, key and value whose size the
 * agent chose (not --map-max) or whose flags alone differ (an older build's
 * preallocated hash): obj's map and the sizes every later object takes (*mm,
 * *n) become the pinned one's, so its entries go on. 0, or -E2BIG when the
 * table is full.
 */
static int pinned_keep(struct bpf_map *m, const struct bpf_map_info *info,
		       struct map_max *mm, int *n, const char *path)
{
	struct map_max *e = map_max_find(mm, *n, bpf_map__name(m));

	if (!e && *n == MAP_MAX_ALL)
		return -E2BIG;
	if (!e) {
		e = &mm[(*n)++];
		*e = (struct map_max){ .n = info->max_entries };
		snprintf(e->name, sizeof(e->name), "%s", bpf_map__name(m));
	}
	if (info->max_entries != bpf_map__max_entries(m) && !e->has_flags) /* once: not per object */
		pr_warn("pinned map %s: kept at %u entries (this node's size: %u), its entries "
			"with it; removing the pin makes it at the new size\n", path,
			info->max_entries, bpf_map__max_entries(m));
	if (info->map_flags != bpf_map__map_flags(m))
		pr_info("pinned map %s: kept with its flags %#x (this build makes %#x)\n", path,
			info->map_flags, bpf_map__map_flags(m));
	if (!e->asked)
		e->asked = bpf_map__max_entries(m); /* before the pinned size: what grew past it */
	e->n = info->max_entries;
	e->flags = info->map_flags;
	e->has_flags = true;
	return bpf_map__set_max_entries(m, e->n) ||
	       bpf_map__set_map_flags(m, e->flags) ? -EINVAL : 0;
}

/*
 * Refuses, with the map and field named, a pinned map whose layout differs
 * from what this build expects: silently recreating it would drop every
 * conntrack entry and endpoint. A map of names whose flags or size differ is
 * made again instead (names_map), and so is a fragment map of any other
 * layout (frag_map); one whose size the agent chose, or whose flags alone
 * differ, is kept as it is (pinned_keep), and so is one larger than
 * --map-max asks (grown online, agent/grow.c: a size is never shrunk).
 */
int check_pinned_layout(const char *pin_dir, struct bpf_object *obj, struct map_max *mm, int *n)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info info;
		char path[512];
		const struct map_max *e;
		bool same; /* type, key and value */
		int fd, err;

		if (!bpf_map__is_pinned(m) && bpf_map__pin_path(m) == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		if ((fd = xcni_pin_info(pin_dir, bpf_map__name(m), &info)) < 0)
			continue; /* not pinned yet: created on load */
		close(fd);
		same = info.type == bpf_map__type(m) && info.key_size == bpf_map__key_size(m) &&
		       info.value_size == bpf_map__value_size(m);
		if (same && info.max_entries == bpf_map__max_entries(m) &&
		    info.map_flags == bpf_map__map_flags(m))
			continue;
		if (frag_map(bpf_map__name(m))) {
			pr_warn("pinned map %s has another layout (type %u key %u value %u entries %u "
				"flags %#x): making it again (fragments in flight, socket LB records lost)\n",
				path, info.type, info.key_size, info.value_size, info.max_entries,
				info.map_flags);
			if ((err = pin_remove(path)))
				return err;
			continue;
		}
		/* Names only (flags of an older build, another --map-max): made
		 * again, losing nothing; one larger while maps grow (grown online:
		 * made smaller, it would grow again) is kept. */
		if (names_map(bpf_map__name(m)) && !(same && info.map_flags == bpf_map__map_flags(m) &&
						     info.max_entries > bpf_map__max_entries(m) && keep_grown)) {
			pr_warn("pinned map %s has flags %#x and %u entries, this xcnid makes it with "
				"%#x and %u: making it again (its names are written again from the "
				"cluster's state)\n",
				path, info.map_flags, info.max_entries, bpf_map__map_flags(m),
				bpf_map__max_entries(m));
			if ((err = pin_remove(path)))
				return err;
			continue;
		}
		e = map_max_find(mm, *n, bpf_map__name(m));
		if (same && (info.max_entries == bpf_map__max_entries(m) || !e || !e->user ||
			     info.max_entries > bpf_map__max_entries(m))) {
			if ((err = pinned_keep(m, &info, mm, n, path)))
				return err;
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
	__u32 k = 0;
	int fd = xcni_pin_get(pin_dir, "xcni_config"), err = 0;

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


/*
 * Swaps the new programs into every attachment the plugin made: TCX links
 * (pinned under links/) get bpf_link_update, tc clsact filters are replaced
 * in place. Either way the device is never without a program.
 */
int take_over_attachments(const char *pin_dir, int from_fd, int to_fd)
{
	char dir[512], path[1024];
	struct dirent *de;
	int n = 0, fails = 0, mfd;
	__u32 key;
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

	mfd = xcni_pin_get(pin_dir, "xcni_ifindex");
	/* The kernel reads a key before it writes the next: one buffer for both. */
	for (void *prev = NULL; mfd >= 0 && !bpf_map_get_next_key(mfd, prev, &key); prev = &key) {
		char ifname[IF_NAMESIZE], lpath[1200];
		struct stat st;

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
	xcni_close(&mfd);
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
int uninstall(const struct opts *o)
{
	__u32 key;
	int mfd, n = 0, err;

	mfd = xcni_pin_get(o->pin_dir, "xcni_ifindex");
	for (void *prev = NULL; mfd >= 0 && !bpf_map_get_next_key(mfd, prev, &key); prev = &key) {
		char ifname[IF_NAMESIZE];

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
	xcni_close(&mfd);
	err = overlay_uninstall(o->pin_dir, o->ov->underlay);
	if (!err)
		err = socklb_detach_pinned(o->pin_dir);
	if (!err && o->mq->table)
		err = masq_remove(o->mq);
	if (err)
		return err;
	err = rm_pins(o->pin_dir);
	if (err)
		return pr_err_ret(err, "removing %s: %s\n", o->pin_dir, strerror(-err));
	printf("xcnid: uninstalled: %s removed%s%s, %d pod tc filters, masquerade tables%s\n",
	       o->pin_dir, o->ov->underlay ? ", overlay on " : "",
	       o->ov->underlay ? o->ov->underlay : "", n, o->mq->table ? " removed" : " kept");
	fflush(stdout);
	return 0;
}

/* The pin directory and its links/ on a bpffs, and the ABI of what is pinned there ours. */
int pin_dirs_ready(const char *pin_dir)
{
	char links[512];
	int err;

	err = xcni_bpffs_ensure(pin_dir);
	if (err)
		return pr_err_ret(err, "bpffs is not mounted at /sys/fs/bpf and mounting it "
				  "failed: %s\n", strerror(-err));
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
