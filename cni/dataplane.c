// SPDX-License-Identifier: Apache-2.0
/*
 * The plugin's side of the data plane: attach the programs xcnid pinned to a
 * pod's host veth (TCX links where the kernel has them, tc clsact otherwise)
 * and keep the endpoint entries in step with the attachments.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "lib/system/attach.h"
#include "lib/system/bpfpin.h"
#include "lib/system/util.h"
#include "cni.h"

/* A full hash map says E2BIG, whose text ("Argument list too long") names nothing. */
static const char *map_strerror(int e)
{
	return e == E2BIG ? "the map is full (its size: xcnid --map-max)" : strerror(e);
}

/* With an overlay, xcnid says how much of the underlay MTU Geneve leaves. */
static void read_pod_mtu(struct xcni_dp *dp)
{
	struct xcni_config cfg;

	if (!xcni_pin_read0(dp->pin_dir, "xcni_config", &cfg, sizeof(cfg)))
		dp->pod_mtu = cfg.pod_mtu;
}

/*
 * A map of fragment shares (bpf/lib/maps.h: keyed by ep_id), or -1: absent,
 * or pinned by an xcnid from before the shares (another key), whose entries
 * are no endpoint's to remove.
 */
static int share_map_get(const struct xcni_dp *dp, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = xcni_pin_get(dp->pin_dir, name);

	if (fd < 0)
		return -1;
	if (bpf_map_get_info_by_fd(fd, &info, &len) || info.key_size != sizeof(__u32)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The addresses pod ep_id's DNS answers taught it (bpf/lib/dns.h): its ring
 * names each. Endpoint ids are reused, and a new pod must not inherit what
 * an old one was allowed to reach. The ring goes first: an answer still in
 * flight makes a new one, which xcni_dp_share_gc finds.
 */
static void fqdn_del(const struct xcni_dp *dp, __u32 ep_id)
{
	struct xcni_fqdn_ring r;

	if (dp->ring_fd < 0 || bpf_map_lookup_elem(dp->ring_fd, &ep_id, &r))
		return;
	bpf_map_delete_elem(dp->ring_fd, &ep_id);
	for (size_t i = 0; i < XCNI_FQDN_PER_POD; i++) {
		struct xcni_fqdn_key k = { .ep_id = ep_id, .family = r.slot[i].family };

		if (!k.family || dp->fqdn_fd < 0)
			continue;
		memcpy(k.addr, r.slot[i].addr, sizeof(k.addr));
		bpf_map_delete_elem(dp->fqdn_fd, &k);
	}
}

/* An endpoint's fragment shares go with it (the data plane makes one at its
 * first fragment; see struct xcni_frag_share), and what its answers taught it. */
static void share_del(const struct xcni_dp *dp, __u32 ep_id)
{
	if (dp->frag_fd >= 0)
		bpf_map_delete_elem(dp->frag_fd, &ep_id);
	if (dp->frag6_fd >= 0)
		bpf_map_delete_elem(dp->frag6_fd, &ep_id);
	fqdn_del(dp, ep_id);
}

int xcni_dp_open(struct xcni_dp *dp, const char *pin_dir, struct cni_err *e)
{
	memset(dp, 0, sizeof(*dp));
	dp->from_fd = dp->to_fd = dp->ep_fd = dp->if_fd = dp->ep6_fd = dp->if6_fd = -1;
	dp->frag_fd = dp->frag6_fd = dp->fqdn_fd = dp->ring_fd = -1;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", pin_dir);
	libbpf_set_print(NULL);
	dp->from_fd = xcni_pin_get(dp->pin_dir, XCNI_PIN_PROG_FROM_POD);
	dp->to_fd = xcni_pin_get(dp->pin_dir, XCNI_PIN_PROG_TO_POD);
	if (dp->from_fd >= 0 && dp->to_fd >= 0) {
		dp->ep_fd = xcni_pin_get(dp->pin_dir, "xcni_endpoints");
		dp->if_fd = xcni_pin_get(dp->pin_dir, "xcni_ifindex");
	}
	if (dp->ep_fd < 0 || dp->if_fd < 0) {
		int err = -errno;
		bool progs = dp->from_fd < 0 || dp->to_fd < 0;

		xcni_dp_close(dp);
		return cni_fail(e, CNI_ERR_TRY_AGAIN, "%s under %s (%s): is xcnid running on this node?",
				progs ? "xcnid has not pinned its programs" : "xcnid's maps are missing",
				pin_dir, strerror(-err)), err;
	}
	/* Absent under an xcnid from before IPv6 (map ABI < 7): IPv6 pods then
	 * get no IPv6 entry, and its programs drop their IPv6 as they always did. */
	dp->ep6_fd = xcni_pin_get(dp->pin_dir, "xcni_endpoints6");
	dp->if6_fd = xcni_pin_get(dp->pin_dir, "xcni_ifindex6");
	dp->frag_fd = share_map_get(dp, "xcni_frag");
	dp->frag6_fd = share_map_get(dp, "xcni_frag6");
	dp->fqdn_fd = xcni_pin_get(dp->pin_dir, "xcni_fqdn");
	dp->ring_fd = xcni_pin_get(dp->pin_dir, "xcni_fqdn_ring");
	read_pod_mtu(dp);
	return 0;
}

unsigned int xcni_dp_pod_mtu(const struct xcni_dp *dp, unsigned int conf_mtu)
{
	return dp->pod_mtu && dp->pod_mtu < conf_mtu ? dp->pod_mtu : conf_mtu;
}

void xcni_dp_close(struct xcni_dp *dp)
{
	int *fds[] = { &dp->from_fd, &dp->to_fd,    &dp->ep_fd,	  &dp->if_fd,
		       &dp->ep6_fd,  &dp->if6_fd, &dp->frag_fd, &dp->frag6_fd,
		       &dp->fqdn_fd, &dp->ring_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		xcni_close(fds[i]);
}

static void link_pin_path(const struct xcni_dp *dp, const char *ifname, int egress, char *out,
			  size_t len)
{
	snprintf(out, len, "%s/%s/%s-%s", dp->pin_dir, XCNI_PIN_LINKS, ifname,
		 egress ? "out" : "in");
}

/*
 * First on both hooks, before whatever is there: the pod's policy is judged
 * before anyone else's program can redirect or drop its packets. TCX links
 * are pinned, so the attachment outlives this process and xcnid can swap it.
 */
int xcni_dp_attach(const struct xcni_dp *dp, const char *mode, int ifindex, const char *ifname,
		   const char **used, struct cni_err *e)
{
	char in[IF_NAMESIZE + 8], out[IF_NAMESIZE + 8];
	struct xcni_tc_point p = { .prog = "from_pod", .dev = ifname, .ifindex = ifindex,
				   .pin_dir = dp->pin_dir, .link = in, .fresh = true };
	enum xcni_attach m = XCNI_ATTACH_AUTO;
	const char *kind;
	int err, tcx_err;

	*used = NULL;
	snprintf(in, sizeof(in), "%s-in", ifname);
	snprintf(out, sizeof(out), "%s-out", ifname);
	xcni_attach_parse(mode, &m); /* conf.c lets these three through alone */
	err = xcni_tc_put(&p, dp->from_fd, m, &kind, &tcx_err);
	/*
	 * Said on every ADD, not once per node: a plugin keeps no memory
	 * between calls, and an operator who expected TCX must see why
	 * this pod got the older, slower attach point.
	 */
	if (tcx_err)
		fprintf(stderr,
			"xcni: warning: TCX unavailable for %s: bpf_link_create(BPF_TCX_INGRESS): %s (errno %d; TCX needs Linux >= 6.6); attach \"auto\" falls back to tc clsact\n",
			ifname, strerror(-tcx_err), -tcx_err);
	if (!err) {
		/* to_pod the kind from_pod got: the pod's record keeps one. */
		p.prog = "to_pod";
		p.egress = true;
		p.link = out;
		m = strcmp(kind, "tcx") ? XCNI_ATTACH_TC : XCNI_ATTACH_TCX;
		err = xcni_tc_put(&p, dp->to_fd, m, &kind, &tcx_err);
	}
	if (err) {
		xcni_dp_detach(dp, ifindex, ifname, kind);
		return cni_fail(e, XCNI_ERR_NETLINK, "attach %s programs to %s: %s",
				strcmp(kind, "tcx") ? "tc clsact" : "TCX", ifname, strerror(-err)),
		       err;
	}
	*used = kind;
	return 0;
}

void xcni_dp_detach(const struct xcni_dp *dp, int ifindex, const char *ifname, const char *used)
{
	char path[PATH_MAX];

	/* Unpinning drops the last reference: the TCX link goes with it. */
	if (!used || strcmp(used, "tcx") == 0) {
		for (int egress = 0; egress < 2; egress++) {
			link_pin_path(dp, ifname, egress, path, sizeof(path));
			unlink(path);
		}
	}
	if (ifindex > 0 && (!used || strcmp(used, "tc") == 0))
		for (int egress = 0; egress < 2; egress++)
			xcni_tc_filter_del(ifindex, egress);
}

/* 0 if both programs are attached to ifindex the way `used` says, else -errno. */
int xcni_dp_attached(const struct xcni_dp *dp, const char *used, int ifindex, const char *ifname)
{
	char path[PATH_MAX];
	int err;

	for (int egress = 0; egress < 2; egress++) {
		if (strcmp(used, "tcx") == 0) {
			struct bpf_link_info info = { 0 };
			__u32 len = sizeof(info);
			int lfd;

			link_pin_path(dp, ifname, egress, path, sizeof(path));
			lfd = bpf_obj_get(path);
			if (lfd < 0)
				return -errno;
			err = bpf_link_get_info_by_fd(lfd, &info, &len) ? -errno : 0;
			close(lfd);
			if (err)
				return err;
			/* A pin outliving its device leaves a detached link behind. */
			if (info.type != BPF_LINK_TYPE_TCX || (int)info.tcx.ifindex != ifindex)
				return -ENOENT;
		} else if ((err = xcni_tc_filter_query(ifindex, egress))) {
			return err;
		}
	}
	return 0;
}

int xcni_dp_endpoint_add(const struct xcni_dp *dp, __u32 ip, const struct xcni_endpoint *ep,
			 struct cni_err *e)
{
	__u32 ifindex = ep->ifindex;
	struct xcni_pod_dev d = { .addr = ip, .ep = *ep };

	if (bpf_map_update_elem(dp->ep_fd, &ip, ep, BPF_NOEXIST))
		return cni_fail(e, CNI_ERR_IO, "endpoint map: add %u.%u.%u.%u: %s",
				((__u8 *)&ip)[0], ((__u8 *)&ip)[1], ((__u8 *)&ip)[2],
				((__u8 *)&ip)[3], map_strerror(errno)), -errno;
	if (bpf_map_update_elem(dp->if_fd, &ifindex, &d, BPF_ANY)) {
		int err = -errno;

		bpf_map_delete_elem(dp->ep_fd, &ip);
		return cni_fail(e, CNI_ERR_IO, "ifindex map: %s", map_strerror(-err)), err;
	}
	return 0;
}

/* Removes the entries of endpoint ep_id at ip; another pod's are left alone. */
void xcni_dp_endpoint_del(const struct xcni_dp *dp, __u32 ip, __u32 ep_id)
{
	struct xcni_endpoint ep;
	struct xcni_pod_dev cur;

	if (bpf_map_lookup_elem(dp->ep_fd, &ip, &ep) || ep.ep_id != ep_id)
		return;
	if (bpf_map_lookup_elem(dp->if_fd, &ep.ifindex, &cur) == 0 && cur.addr == ip)
		bpf_map_delete_elem(dp->if_fd, &ep.ifindex);
	bpf_map_delete_elem(dp->ep_fd, &ip);
	share_del(dp, ep_id);
}

int xcni_dp_endpoint_get(const struct xcni_dp *dp, __u32 ip, struct xcni_endpoint *ep)
{
	return bpf_map_lookup_elem(dp->ep_fd, &ip, ep) ? -errno : 0;
}

int xcni_dp_endpoint6_add(const struct xcni_dp *dp, const struct in6_addr *ip6,
			  const struct xcni_endpoint *ep, struct cni_err *e)
{
	__u32 ifindex = ep->ifindex;
	struct xcni_pod_dev6 d = { .ep = *ep };
	char buf[INET6_ADDRSTRLEN];

	if (dp->ep6_fd < 0 || dp->if6_fd < 0)
		return 0;
	memcpy(d.addr.addr, ip6, 16);
	if (bpf_map_update_elem(dp->ep6_fd, ip6, ep, BPF_NOEXIST))
		return cni_fail(e, CNI_ERR_IO, "endpoints6 map: add %s: %s",
				inet_ntop(AF_INET6, ip6, buf, sizeof(buf)), map_strerror(errno)), -errno;
	if (xcni_failpoint("endpoint6") || bpf_map_update_elem(dp->if6_fd, &ifindex, &d, BPF_ANY)) {
		int err = errno ? -errno : -EIO;

		bpf_map_delete_elem(dp->ep6_fd, ip6);
		return cni_fail(e, CNI_ERR_IO, "ifindex6 map: %s", map_strerror(-err)), err;
	}
	return 0;
}

/* Removes the IPv6 entries of endpoint ep_id at ip6; another pod's are left alone. */
void xcni_dp_endpoint6_del(const struct xcni_dp *dp, const struct in6_addr *ip6, __u32 ep_id)
{
	struct xcni_endpoint ep;
	struct xcni_pod_dev6 cur;

	if (dp->ep6_fd < 0 || bpf_map_lookup_elem(dp->ep6_fd, ip6, &ep) || ep.ep_id != ep_id)
		return;
	if (bpf_map_lookup_elem(dp->if6_fd, &ep.ifindex, &cur) == 0 && !memcmp(&cur.addr, ip6, 16))
		bpf_map_delete_elem(dp->if6_fd, &ep.ifindex);
	bpf_map_delete_elem(dp->ep6_fd, ip6);
	share_del(dp, ep_id);
}

int xcni_dp_endpoint6_get(const struct xcni_dp *dp, const struct in6_addr *ip6,
			  struct xcni_endpoint *ep)
{
	if (dp->ep6_fd < 0)
		return -ENOENT;
	return bpf_map_lookup_elem(dp->ep6_fd, ip6, ep) ? -errno : 0;
}

/*
 * The keys (ksz bytes each, at most max) of the entries of endpoint map fd
 * whose device is gone or whose ep_id is in stale (n of them). Collected
 * first: deleting during the walk would restart it.
 */
static size_t gc_collect(int fd, size_t ksz, const __u32 *stale, size_t n, unsigned char *dead,
			 size_t max)
{
	unsigned char key[16];
	struct xcni_endpoint ep;
	char name[IF_NAMESIZE];
	size_t nd = 0;

	/* The kernel reads a key before it writes the next: one buffer for both. */
	for (void *prev = NULL; nd < max && !bpf_map_get_next_key(fd, prev, key); prev = key) {
		if (bpf_map_lookup_elem(fd, key, &ep))
			continue;
		int gone = !if_indextoname(ep.ifindex, name);

		for (size_t i = 0; i < n && !gone; i++)
			gone = stale[i] == ep.ep_id;
		if (gone)
			memcpy(dead + nd++ * ksz, key, ksz);
	}
	return nd;
}

/* Adds the ep_ids of endpoint map fd to ids (n of cap). */
static size_t live_ids(int fd, __u32 *ids, size_t n, size_t cap)
{
	unsigned char key[16];
	struct xcni_endpoint ep;

	for (void *prev = NULL; fd >= 0 && n < cap && !bpf_map_get_next_key(fd, prev, key); prev = key)
		if (bpf_map_lookup_elem(fd, key, &ep) == 0)
			ids[n++] = ep.ep_id;
	return n;
}

static bool id_live(const __u32 *ids, size_t n, __u32 id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * The DNS-learned addresses of ep_ids no endpoint holds: the rings first
 * (each names its addresses), then any address left without a ring (an
 * answer that landed while its pod's DEL ran). A pass takes 256 of each.
 */
static void fqdn_gc(const struct xcni_dp *dp, const __u32 *ids, size_t n)
{
	struct xcni_fqdn_key k, dead_k[256];
	__u32 key, dead[256];
	size_t nd = 0;

	for (void *prev = NULL; dp->ring_fd >= 0 && nd < 256 &&
	     !bpf_map_get_next_key(dp->ring_fd, prev, &key); prev = &key)
		if (!id_live(ids, n, key))
			dead[nd++] = key;
	for (size_t i = 0; i < nd; i++)
		fqdn_del(dp, dead[i]);
	nd = 0;
	for (void *prev = NULL; dp->fqdn_fd >= 0 && nd < 256 &&
	     !bpf_map_get_next_key(dp->fqdn_fd, prev, &k); prev = &k)
		if (!id_live(ids, n, k.ep_id))
			dead_k[nd++] = k;
	for (size_t i = 0; i < nd; i++)
		bpf_map_delete_elem(dp->fqdn_fd, &dead_k[i]);
}

/*
 * Fragment shares of no endpoint (the node's, 0, and the outside's,
 * XCNI_FRAG_OUTSIDE_MIN and up, aside): a pod's last packets
 * can make its share again after its DEL removed it. The endpoints first,
 * then the shares: a pod added in between has sent nothing yet, or loses the
 * datagrams it has in flight.
 */
void xcni_dp_share_gc(const struct xcni_dp *dp)
{
	static __u32 ids[2 * XCNI_MAX_ENDPOINTS];
	const size_t cap = sizeof(ids) / sizeof(ids[0]);
	int fds[] = { dp->frag_fd, dp->frag6_fd };
	size_t n = live_ids(dp->ep_fd, ids, 0, cap);

	/* Full: more pods than it holds (the endpoint maps grown online), a live one's could go. */
	if ((n = live_ids(dp->ep6_fd, ids, n, cap)) == cap)
		return;
	for (size_t f = 0; f < sizeof(fds) / sizeof(fds[0]); f++) {
		__u32 key, dead[256];
		size_t nd = 0;

		for (void *prev = NULL; fds[f] >= 0 && nd < 256 &&
		     !bpf_map_get_next_key(fds[f], prev, &key); prev = &key)
			if (key != 0 && key < XCNI_FRAG_OUTSIDE_MIN && !id_live(ids, n, key))
				dead[nd++] = key;
		for (size_t i = 0; i < nd; i++)
			bpf_map_delete_elem(fds[f], &dead[i]);
	}
	fqdn_gc(dp, ids, n);
}

/* GC of endpoints6 alone (DEL of an IPv6 entry, whose address the record does not keep). */
int xcni_dp_gc6(const struct xcni_dp *dp, const __u32 *stale, size_t n)
{
	struct in6_addr dead[256];
	struct xcni_endpoint ep;
	size_t nd;

	if (dp->ep6_fd < 0)
		return 0;
	nd = gc_collect(dp->ep6_fd, sizeof(dead[0]), stale, n, (unsigned char *)dead, 256);
	for (size_t i = 0; i < nd; i++)
		if (bpf_map_lookup_elem(dp->ep6_fd, &dead[i], &ep) == 0)
			xcni_dp_endpoint6_del(dp, &dead[i], ep.ep_id);
	return (int)nd;
}

/* GC: entries (both families) whose device is gone, or whose ep_id is in stale (n of them). */
int xcni_dp_gc(const struct xcni_dp *dp, const __u32 *stale, size_t n)
{
	__u32 dead[256];
	struct xcni_endpoint ep;
	size_t nd = gc_collect(dp->ep_fd, sizeof(dead[0]), stale, n, (unsigned char *)dead, 256);

	for (size_t i = 0; i < nd; i++)
		if (bpf_map_lookup_elem(dp->ep_fd, &dead[i], &ep) == 0)
			xcni_dp_endpoint_del(dp, dead[i], ep.ep_id);
	return (int)nd + xcni_dp_gc6(dp, stale, n);
}
