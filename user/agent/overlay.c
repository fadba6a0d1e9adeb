// SPDX-License-Identifier: Apache-2.0
/*
 * The overlay side of xcnid. Geneve itself lives in the BPF programs; here
 * they are loaded, attached (as pinned bpf_links, swapped in place on
 * restart), and fed the other nodes from the cluster's Node objects.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "from_overlay.skel.h"
#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/mapw.h"
#include "lib/system/nl.h"
#include "lib/system/tunnel.h"
#include "lib/system/util.h"
#include "to_overlay.skel.h"
#include "to_underlay.skel.h"
#include "agent/overlay.h"
#include "agent/settings.h"
#include "agent/snat_held.h"
#include "xdp_underlay.skel.h"

int overlay_resolve(struct overlay *ov)
{
	struct nl_link l;
	struct in6_addr a6;
	struct nl nl;
	char a[INET6_ADDRSTRLEN];
	int err;

	err = nl_open(&nl);
	if (err)
		return err;
	err = nl_link_get(&nl, ov->underlay, &l);
	if (err) {
		pr_err("underlay device %s: %s (see --underlay-dev)\n", ov->underlay, strerror(-err));
		goto out;
	}
	ov->underlay_ifindex = l.ifindex;
	ov->underlay_mtu = l.mtu;
	/* The families: what --node-ip gave (one or both), else every one the
	 * underlay has: its first IPv4 and its first global IPv6 (a node with
	 * both reaches IPv4-only and IPv6-only nodes), the IPv6 underlay when it
	 * has no IPv4. */
	if (!ov->node_ip && !overlay_has6(ov)) {
		err = nl_addr_first(&nl, l.ifindex, &ov->node_ip);
		if (err && err != -ENOENT)
			goto out;
		err = nl_addr6_first(&nl, l.ifindex, &a6);
		if (err && err != -ENOENT)
			goto out;
		if (!err)
			memcpy(ov->node_ip6, &a6, 16);
		if (!ov->node_ip && !overlay_has6(ov)) {
			pr_err("underlay device %s has no IPv4 nor global IPv6 address (give one "
			       "with --node-ip)\n", ov->underlay);
			err = -ENOENT;
			goto out;
		}
		err = 0;
	}
	/* Without Geneve between families (same_fam: xcnid's probe) IPv6 pods
	 * reach other nodes over an IPv6 underlay or not at all: a node told
	 * only its IPv4 (--node-ip) takes its underlay's first global IPv6 too. */
	if (ov->same_fam && ov->node_ip && !overlay_has6(ov) &&
	    !nl_addr6_first(&nl, l.ifindex, &a6))
		memcpy(ov->node_ip6, &a6, 16);
	if (ov->prefer6 && !overlay_has6(ov)) {
		pr_err("--tunnel-family ipv6: this node has no IPv6 underlay address (%s has no "
		       "global IPv6; give one with --node-ip IPv4,IPv6, or --tunnel-family auto)\n",
		       ov->underlay);
		err = -EINVAL;
		goto out;
	}
	ov->underlay6 = tunnel_underlay6(ov->node_ip != 0, overlay_has6(ov), ov->prefer6);
	/* Both families, auto, and no Geneve between them: each over its own. */
	ov->same_fam = ov->same_fam && !ov->underlay6 && ov->node_ip && overlay_has6(ov);
	/* The MTU check takes the worst family this node may use. */
	if (l.mtu <= (overlay_has6(ov) ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN) + 576u) {
		pr_err("underlay device %s: MTU %u leaves pods less than 576 bytes after the %u of "
		       "Geneve over IPv%d\n", ov->underlay, l.mtu,
		       overlay_has6(ov) ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN,
		       overlay_has6(ov) ? 6 : 4);
		err = -EINVAL;
		goto out;
	}
	if (ov->node_ip && overlay_has6(ov)) {
		char a4[INET_ADDRSTRLEN];

		/* A fallback is a warning, as the probe's (xcnid logs no info without -v). */
		xlog(ov->same_fam ? XLOG_WARN : XLOG_INFO, "overlay: underlay %s (ifindex %d, MTU %u), "
		     "node addresses %s and %s (%s), VNI %u\n", ov->underlay, l.ifindex, l.mtu,
			inet_ntop(AF_INET, &ov->node_ip, a4, sizeof(a4)),
			inet_ntop(AF_INET6, ov->node_ip6, a, sizeof(a)),
			ov->underlay6 ? "tunnel family ipv6: IPv6 to nodes with an IPv6 InternalIP, "
					"IPv4 to the others" :
			ov->same_fam ? "tunnel family auto, each family over its own (the kernel lacks "
				       "Geneve between families): IPv4 to IPv4 InternalIPs, IPv6 to IPv6" :
					"tunnel family auto: IPv4 to nodes with an IPv4 InternalIP, "
					"IPv6 to IPv6-only ones", ov->vni);
		goto out;
	}
	pr_info("overlay: underlay %s (ifindex %d, MTU %u), node address %s, VNI %u\n",
		ov->underlay, l.ifindex, l.mtu,
		ov->underlay6 ? inet_ntop(AF_INET6, ov->node_ip6, a, sizeof(a)) :
				inet_ntop(AF_INET, &ov->node_ip, a, sizeof(a)),
		ov->vni);
out:
	nl_close(&nl);
	return err;
}

int map_max_apply(struct bpf_object *obj, const struct map_max *mm, int n)
{
	int set = 0;

	for (int i = 0; i < n; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, mm[i].name);

		if (m && !bpf_map__set_max_entries(m, mm[i].n) &&
		    (!mm[i].has_flags || !bpf_map__set_map_flags(m, mm[i].flags)))
			set++;
	}
	return set;
}

/*
 * The decapsulation record's cookie across restarts (--overlay-decap xdp).
 * The new from_overlay used to be attached before the new xdp_underlay: in
 * between the old XDP program still decapsulated with its cookie, so a new
 * cookie in from_overlay dropped every such frame as a plain packet from a
 * pod address (drop-outside-spoof). overlay_attach's order (the new XDP
 * program first, its cookie written last) now keeps a restart hitless by
 * itself; the pin keeps the cookie the same across it. The cookie lives in a
 * one-entry array pinned under the pin dir (XCNI_PIN_DECAP_COOKIE, mode
 * 0600 in the agent's 0700 directory): no program refers to it, so nothing
 * in the data path can read it or put it on the wire, and only root with
 * CAP_BPF can open it; --uninstall removes it with every other pin. A pin
 * that is missing, of another layout or zero: a new cookie drawn and
 * pinned (pin, then rename: never a moment without one). Without
 * --overlay-decap xdp the pin goes: a secret nothing uses is not kept.
 * 0 or -errno.
 */
static int decap_cookie_pinned(struct overlay *ov, const char *pin_dir)
{
	char path[512];
	struct bpf_map_info info = {};
	__u32 k = 0, len = sizeof(info);
	struct stat st;
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, XCNI_PIN_DECAP_COOKIE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!ov->decap_xdp) {
		unlink(path);
		return 0;
	}
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bool ok = !bpf_map_get_info_by_fd(fd, &info, &len) &&
			  info.type == BPF_MAP_TYPE_ARRAY && info.key_size == 4 &&
			  info.value_size == sizeof(ov->decap_cookie) && info.max_entries == 1 &&
			  !bpf_map_lookup_elem(fd, &k, ov->decap_cookie) &&
			  (ov->decap_cookie[0] | ov->decap_cookie[1]);

		close(fd);
		if (ok) {
			/* Root's alone, whoever made it. */
			if (!stat(path, &st) && (st.st_mode & 07777) != 0600 && chmod(path, 0600))
				pr_warn("%s: chmod 0600: %s\n", path, strerror(errno));
			ov->decap_cookie_kept = true;
			return 0;
		}
		pr_warn("%s: not a decapsulation cookie this agent can use: drawing a new one "
			"(frames decapsulated by the XDP program still attached are dropped "
			"until this agent's replaces it)\n", path);
	}
	if (getrandom(ov->decap_cookie, sizeof(ov->decap_cookie), 0) != sizeof(ov->decap_cookie))
		return -errno ?: -EIO;
	ov->decap_cookie[0] |= 1; /* never all zero: zero is off */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, XCNI_PIN_DECAP_COOKIE, sizeof(k),
			    sizeof(ov->decap_cookie), 1, NULL);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* A pin is made 0600 less the umask: never more open than root's alone, then just that. */
	err = bpf_map_update_elem(fd, &k, ov->decap_cookie, BPF_ANY) ? -errno :
	      xcni_pin_atomic(fd, pin_dir, XCNI_PIN_DECAP_COOKIE);
	if (!err && chmod(path, 0600))
		err = -errno;
	close(fd);
out:
	if (err)
		pr_err("pinning the decapsulation cookie at %s: %s\n", path, strerror(-err));
	return err;
}

int overlay_load(struct overlay *ov, const char *pin_dir, const struct opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	int err;

	ov->in = from_overlay__open_opts(&oo);
	ov->out = to_overlay__open_opts(&oo);
	ov->ul_out = to_underlay__open_opts(&oo);
	ov->xdp = xdp_underlay__open_opts(&oo);
	if (!ov->in || !ov->out || !ov->ul_out || !ov->xdp)
		return -errno ?: -ENOMEM;
	const struct { struct bpf_object *obj; unsigned int set; } objs[] = {
		{ ov->in->obj, SET_FROM_OVERLAY }, { ov->out->obj, SET_TO_OVERLAY },
		{ ov->ul_out->obj, SET_TO_UNDERLAY }, { ov->xdp->obj, SET_XDP_UNDERLAY } };

	/* The same sizes as xcnid's objects, or the shared pinned maps would not match. */
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++)
		map_max_apply(objs[i].obj, ov->map_max, ov->nmap_max);
	/* --overlay-decap xdp: the pinned cookie, or a new one (from_overlay
	 * takes no record but one with the cookie xdp_underlay writes;
	 * lib/decap_xdp.h). */
	err = decap_cookie_pinned(ov, pin_dir);
	for (size_t i = 0; !err && i < ARRAY_SIZE(objs); i++)
		err = settings_write(o, objs[i].obj, objs[i].set);
	if (err)
		return err;
	err = from_overlay__load(ov->in);
	if (!err)
		err = to_overlay__load(ov->out);
	if (!err)
		err = to_underlay__load(ov->ul_out);
	if (!err)
		err = xdp_underlay__load(ov->xdp);
	if (err)
		pr_err("loading the overlay programs failed: %s (run with -v for the verifier log)\n",
		       strerror(-err));
	return err;
}

/*
 * xcni0: one end of a veth pair whose other end (xcni0p) only keeps it up; no
 * packet crosses, the tc egress program takes them all. A veth rather than a
 * dummy because kernels without the dummy driver (like this one) have veth,
 * which pods need anyway. No ARP: the program routes by the ipcache, not MACs.
 */
static int overlay_dev(struct overlay *ov)
{
	unsigned int mtu = overlay_pod_mtu(ov);
	struct nl_link l, peer;
	struct nl nl;
	int err;

	err = nl_open(&nl);
	if (err)
		return err;
	err = nl_link_get(&nl, XCNI_OVERLAY_DEV, &l);
	if (err == -ENODEV || err == -ENOENT) {
		err = nl_veth_add(&nl, XCNI_OVERLAY_DEV, XCNI_OVERLAY_DEV "p", -1, mtu);
		if (!err)
			err = nl_link_get(&nl, XCNI_OVERLAY_DEV, &l);
	} else if (!err && l.mtu != mtu) {
		err = nl_link_set_mtu(&nl, l.ifindex, mtu);
	}
	if (!err)
		err = nl_link_set_flags(&nl, l.ifindex, IFF_NOARP, IFF_NOARP);
	/* After a restart both ends are already so: nl_link_up_ipv4 then writes
	 * nothing, and sets off no MLD report for to_overlay to drop. */
	if (!err)
		err = nl_link_get(&nl, XCNI_OVERLAY_DEV "p", &peer);
	if (!err)
		err = nl_link_up_ipv4(&nl, peer.ifindex, NULL);
	if (!err)
		err = nl_link_up_ipv4(&nl, l.ifindex, "xcni overlay: remote pod CIDRs");
	if (err)
		pr_err("overlay device %s: %s%s%s\n", XCNI_OVERLAY_DEV, strerror(-err),
		       nl.errmsg[0] ? ": " : "", nl.errmsg);
	else
		ov->dev_ifindex = l.ifindex;
	nl_close(&nl);
	return err;
}

static int link_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	return snprintf(buf, len, "%s/%s/%s", pin_dir, XCNI_PIN_LINKS, name) >= (int)len ?
		       -ENAMETOOLONG :
		       0;
}

/* The XDP program on ifindex (the one an agent attached through netlink) goes. */
static int xdp_detach_ours(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err, ours;

	if (bpf_xdp_query(ifindex, 0, &q) || !q.prog_id)
		return 0;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0) {
		/* By id needs CAP_SYS_ADMIN, which kind's agent has not: left, said. */
		err = -errno;
		pr_warn("XDP program id %u on ifindex %d: cannot tell whether it is xcni's: %s%s\n",
			q.prog_id, ifindex, strerror(-err),
			err == -EPERM ? " (CAP_SYS_ADMIN needed): left attached" : "");
		return err;
	}
	err = bpf_prog_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	/* Only xcni's own: another program on the underlay is not ours to remove. */
	ours = !err && !strcmp(info.name, "xdp_underlay");
	if (!ours)
		return err;
	err = bpf_xdp_detach(ifindex, q.attach_mode == XDP_ATTACHED_DRV ? XDP_FLAGS_DRV_MODE :
				      XDP_FLAGS_SKB_MODE, NULL);
	return err ? err : 1;
}

/*
 * One XDP attach in mode flags: a pinned bpf_link, or through netlink where
 * the older path is asked for (--attach tc) or the kernel has no XDP links
 * (< 5.9); *how says which.
 */
static int xdp_one(const struct overlay *ov, const char *path, int fd, __u32 flags,
		   const char **how)
{
	int err;

	if (ov->attach != XCNI_ATTACH_TC) {
		/* No link yet: what an agent on the older path attached through
		 * netlink goes first, or the kernel refuses the link (EBUSY). */
		if (access(path, F_OK))
			xdp_detach_ours(ov->underlay_ifindex);
		err = xcni_link_pinned(path, fd, ov->underlay_ifindex, BPF_XDP, flags);
		*how = "bpf_link";
		if (err != -EINVAL || ov->attach == XCNI_ATTACH_TCX)
			return err;
		*how = "netlink (XDP links unavailable: Linux < 5.9)";
	} else {
		*how = "netlink (forced: --attach tc)";
	}
	/* An earlier agent's link is replaced: netlink cannot attach beside it. */
	xcni_link_unpin(path);
	return bpf_xdp_attach(ov->underlay_ifindex, fd, flags, NULL);
}

/*
 * Whether native XDP_TX out of the underlay can reach anything. On a veth
 * the frame goes into the peer's XDP ring, and the kernel drains that ring
 * only when the peer runs a native XDP program itself (veth_xdp_flush
 * schedules the peer's NAPI for it; GRO alone gives the peer the ring but
 * not the flush): with none, the fast path's frames are counted sent and sit
 * there (docs/decisions/veth-peer-xdp.md). The peer may sit in another
 * netns (the host's end of a kind node's eth0, the lab's switch): asked for
 * through IFLA_TARGET_NETNSID. 1 with what[] naming the peer when it cannot,
 * 0 when it can (or the device is no veth), -errno when it cannot be told.
 */
static int veth_peer_lacks_xdp(const struct overlay *ov, char *what, size_t len)
{
	struct nl_link l, p;
	struct nl nl;
	int err;

	err = nl_open(&nl);
	if (err)
		return err;
	err = nl_link_get(&nl, ov->underlay, &l);
	if (err || strcmp(l.kind, "veth") || l.link <= 0)
		goto out;
	err = nl_link_get_index(&nl, l.link, l.link_netnsid, &p);
	if (err)
		goto out;
	if (l.link_netnsid >= 0)
		snprintf(what, len, "%s (ifindex %d in netns id %d)", p.name, l.link,
			 l.link_netnsid);
	else
		snprintf(what, len, "%s (ifindex %d)", p.name, l.link);
	err = !p.xdp_drv_prog;
out:
	nl_close(&nl);
	return err;
}

/*
 * The fast path asked native and got it on a veth whose peer cannot take
 * its XDP_TX (veth_peer_lacks_xdp): with --xdp-mode auto (the fast path's
 * own default), generic XDP instead, said in one line; with --xdp-mode
 * native, an error that says what the peer needs. 0, 1 (generic wanted
 * instead) or -errno.
 */
static int np_accel_native_check(const struct overlay *ov)
{
	char peer[IF_NAMESIZE + 48] = "";
	int r = veth_peer_lacks_xdp(ov, peer, sizeof(peer));

	if (r < 0) {
		pr_info("nodeport acceleration on %s: could not read the veth peer's XDP (%s); "
			"native XDP_TX reaches it only if it runs a native XDP program\n",
			ov->underlay, strerror(-r));
		return 0;
	}
	if (!r)
		return 0;
	if (ov->xdp_want == XDP_WANT_NATIVE)
		return pr_err_ret(-ENOTCONN, "nodeport acceleration on %s: native XDP_TX on a veth "
				  "reaches its peer %s only if the peer runs a native XDP program, "
				  "and it runs none (attach one that passes, or "
				  "--nodeport-acceleration generic; docs/xcnid.8)\n", ov->underlay,
				  peer);
	printf("xcnid: nodeport acceleration on %s: native XDP_TX on a veth reaches its peer %s "
	       "only if the peer runs a native XDP program, and it runs none: generic instead\n",
	       ov->underlay, peer);
	fflush(stdout);
	return 1;
}

/*
 * --overlay-decap xdp once the XDP program is attached: its cookie written
 * (xdp_underlay's .bss) where it runs native, so that it starts to
 * decapsulate; in generic mode GRO has run before it (and the skb may be a
 * GSO packet of the tunnel type): Geneve stays for tc, said in one line.
 */
static void decap_xdp_start(struct overlay *ov)
{
	if (!ov->decap_xdp)
		return;
	if (ov->xdp_mode != XDP_FLAGS_DRV_MODE || !ov->xdp->bss) {
		printf("xcnid: overlay decapsulation on %s: tc (--overlay-decap xdp needs native "
		       "XDP, and XDP runs %s)\n", ov->underlay,
		       ov->xdp_mode == XDP_FLAGS_SKB_MODE ? "generic" : "not at all");
		return;
	}
	ov->xdp->bss->decap_cookie_xdp[0] = ov->decap_cookie[0];
	ov->xdp->bss->decap_cookie_xdp[1] = ov->decap_cookie[1];
	printf("xcnid: overlay decapsulation on %s: xdp (native; GRO merges the inner flows), "
	       "%s\n", ov->underlay, ov->decap_cookie_kept ?
	       "the record cookie kept across the restart (" XCNI_PIN_DECAP_COOKIE ")" :
	       "a new record cookie (pinned as " XCNI_PIN_DECAP_COOKIE ")");
}

/* XDP: native where the driver has it (or asked), generic otherwise. */
static int attach_xdp(struct overlay *ov, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int fd = bpf_program__fd(ov->xdp->progs.xdp_underlay), err;
	const char *how = "";
	char path[512];

	if (ov->xdp_want == XDP_WANT_OFF || ov->xdp_want == XDP_WANT_TC) {
		/* An earlier agent's XDP program goes (its pinned link, or
		 * through netlink): this one runs none (off), or judges in tc,
		 * and XDP on the underlay would cost what tc avoids. Left, it
		 * would go on decapsulating Geneve with its cookie for a
		 * from_overlay that takes no records (drop-outside-spoof). */
		if (!link_path(path, sizeof(path), pin_dir, XCNI_LINK_UNDERLAY_XDP))
			xcni_link_unpin(path);
		xdp_detach_ours(ov->underlay_ifindex);
		if (ov->xdp_want == XDP_WANT_OFF)
			return 0;
		ov->xdp_mode = XCNI_XDP_MODE_TC;
		printf("xcnid: prefilter on %s: tc (from_overlay), no XDP\n", ov->underlay);
		fflush(stdout);
		return 0;
	}
	if ((err = link_path(path, sizeof(path), pin_dir, XCNI_LINK_UNDERLAY_XDP)))
		return err;
	if (ov->xdp_want != XDP_WANT_GENERIC) {
		err = xdp_one(ov, path, fd, XDP_FLAGS_DRV_MODE, &how);
		if (err && ov->xdp_want == XDP_WANT_NATIVE) {
			pr_err("native XDP on %s: %s (the driver may not support it; "
			       "--xdp-mode generic or auto)\n", ov->underlay, strerror(-err));
			return err;
		} else if (err && ov->np_accel == XCNI_NPA_NATIVE) {
			/* The NodePort fast path falls back to generic XDP, said in one line. */
			printf("xcnid: nodeport acceleration on %s: native XDP failed (%s), "
			       "generic instead\n", ov->underlay, strerror(-err));
			fflush(stdout);
		} else if (err) {
			pr_info("native XDP on %s: %s; using generic XDP\n", ov->underlay,
				strerror(-err));
		}
	}
	if (ov->xdp_want == XDP_WANT_GENERIC || err)
		err = xdp_one(ov, path, fd, XDP_FLAGS_SKB_MODE, &how);
	if (err)
		return pr_err_ret(err, "XDP on %s: %s\n", ov->underlay, strerror(-err));
	/* Whichever mode the link was made in (now or by an earlier agent) is the mode. */
	if (bpf_xdp_query(ov->underlay_ifindex, 0, &q) == 0)
		ov->xdp_mode = q.attach_mode == XDP_ATTACHED_DRV ? XDP_FLAGS_DRV_MODE :
			       q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE :
								   0;
	/* The fast path's XDP_TX must reach the wire (a veth's peer): else generic. */
	if (ov->lb && ov->np_accel == XCNI_NPA_NATIVE && ov->xdp_mode == XDP_FLAGS_DRV_MODE) {
		err = np_accel_native_check(ov);
		if (err < 0)
			return err;
		if (err) {
			/* The native link (this agent's or an earlier one's) goes first. */
			xcni_link_unpin(path);
			xdp_detach_ours(ov->underlay_ifindex);
			err = xdp_one(ov, path, fd, XDP_FLAGS_SKB_MODE, &how);
			if (err)
				return pr_err_ret(err,
						  "XDP on %s: %s\n", ov->underlay, strerror(-err));
			ov->xdp_mode = XDP_FLAGS_SKB_MODE;
		}
	}
	printf("xcnid: XDP prefilter on %s: %s, %s\n", ov->underlay,
	       ov->xdp_mode == XDP_FLAGS_DRV_MODE ? "native (driver)" :
	       ov->xdp_mode == XDP_FLAGS_SKB_MODE ? "generic (skb)" : "attached", how);
	if (ov->lb && ov->np_accel != XCNI_NPA_OFF) {
		ov->np_accel_mode = ov->xdp_mode == XDP_FLAGS_DRV_MODE ? XCNI_NPA_NATIVE :
				    ov->xdp_mode == XDP_FLAGS_SKB_MODE ? XCNI_NPA_GENERIC :
									 XCNI_NPA_OFF;
		printf("xcnid: nodeport acceleration on %s: %s XDP\n", ov->underlay,
		       ov->np_accel_mode == XCNI_NPA_NATIVE ? "native" : "generic");
	}
	fflush(stdout);
	return 0;
}

/*
 * Replies of Service flows to remote pods come back decapsulated through the
 * underlay device into the stack (for kube-proxy's un-DNAT) with a remote pod
 * as source, routed through xcni0: strict reverse-path filtering (the kernel
 * applies the larger of "all" and the device's value) would drop them. Loose
 * mode keeps the check that some route leads back.
 */
static void underlay_rp_filter(const struct overlay *ov)
{
	char path[128], all = '0', dev = '0'; /* unread: as 0 */
	int err;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ov->underlay);
	xcni_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", NULL, &all);
	xcni_sysctl(path, NULL, &dev);
	if ((all > dev ? all : dev) != '1')
		return;
	if ((err = xcni_sysctl(path, "2", NULL))) {
		pr_warn("%s: strict rp_filter, and setting it loose failed: %s; replies of "
			"Service flows from other nodes' pods may be dropped\n", ov->underlay,
			strerror(-err));
		return;
	}
	pr_info("%s: rp_filter set to loose (2): Service replies from other nodes' pods pass "
		"the stack\n", ov->underlay);
}

/*
 * One program onto one tc hook of the node, the way --attach says (TCX, else
 * tc clsact): every tc program of the overlay goes through here, so each has
 * the same fallback, log line and uninstall.
 */
static int overlay_tc(const struct overlay *ov, const char *pin_dir, struct bpf_program *prog,
		      int ifindex, const char *dev, bool egress, const char *link)
{
	struct xcni_tc_point p = { .prog = bpf_program__name(prog), .dev = dev,
				   .ifindex = ifindex, .egress = egress, .pin_dir = pin_dir,
				   .link = link };
	const char *used;

	return xcni_tc_attach(&p, bpf_program__fd(prog), ov->attach, &used);
}

int overlay_attach(struct overlay *ov, const char *pin_dir)
{
	int err;

	bool xdp_first = ov->xdp_want != XDP_WANT_TC;

	err = overlay_dev(ov);
	if (err)
		return err;
	underlay_rp_filter(ov);
	/*
	 * A restart may switch where Geneve is decapsulated (--overlay-decap
	 * xdp -> tc, tc -> xdp) or draw a new cookie: the old from_overlay
	 * takes the records of the old XDP program only, the new one those of
	 * the new. So the new XDP program, its cookie still zero (it takes
	 * nothing apart), replaces the old one first, while the old
	 * from_overlay still takes what the old XDP program decapsulated and,
	 * as any from_overlay does, Geneve whole; then the new from_overlay;
	 * the cookie is written last (decap_xdp_start). No frame is then
	 * decapsulated for a from_overlay that cannot take its record (before,
	 * xdp -> tc dropped every frame between the two attaches as
	 * drop-outside-spoof; tests/lab/decap.sh). Where XDP moves to tc
	 * (--xdp-mode tc), the new from_overlay comes first, so that its
	 * prefilter (tc_prefilter) is in place before XDP's leaves; with
	 * --xdp-mode off (no prefilter asked) the old XDP program goes first,
	 * Geneve reaching the old from_overlay whole meanwhile.
	 */
	if (xdp_first && (err = attach_xdp(ov, pin_dir)))
		return err;
	err = overlay_tc(ov, pin_dir, ov->in->progs.from_overlay, ov->underlay_ifindex,
			 ov->underlay, false, XCNI_LINK_UNDERLAY_IN);
	/* The array from_overlay's tail calls go through is emptied once
	 * nothing holds it (then drop-tail-call): pinned for when xcnid is
	 * gone, once the new from_overlay is attached (the pin held the old
	 * one's, still attached until then; this agent's descriptor holds
	 * the new one's meanwhile). */
	if (!err && (err = xcni_pin_atomic(bpf_map__fd(ov->in->maps.xcni_ovlcalls), pin_dir,
				      XCNI_PIN_OVLCALLS)))
		pr_err("pinning %s under %s: %s\n", XCNI_PIN_OVLCALLS, pin_dir, strerror(-err));
	if (!err)
		err = overlay_tc(ov, pin_dir, ov->out->progs.to_overlay, ov->dev_ifindex,
				 XCNI_OVERLAY_DEV, true, XCNI_LINK_OVERLAY_OUT);
	if (err)
		return err;
	err = overlay_tc(ov, pin_dir, ov->ul_out->progs.to_underlay, ov->underlay_ifindex,
			 ov->underlay, true, XCNI_LINK_UNDERLAY_OUT);
	if (err)
		return err;
	if (!xdp_first && (err = attach_xdp(ov, pin_dir)))
		return err;
	decap_xdp_start(ov);
	fflush(stdout);
	/* The NodePort SNAT's held counts (--snat-client-max), off the loop. */
	if (ov->lb && !ov->held &&
	    !snat_held_open(bpf_map__fd(ov->in->maps.xcni_snat), bpf_map__fd(ov->in->maps.xcni_snat_cl),
			    bpf_map__fd(ov->in->maps.xcni_ct), bpf_map__fd(ov->in->maps.xcni_ct6),
			    &ov->held) &&
	    (err = snat_held_start(ov->held)))
		pr_warn("NodePort SNAT: no thread to count the clients' tuples: %s\n", strerror(-err));
	return 0;
}

int overlay_uninstall(const char *pin_dir, const char *underlay)
{
	struct xcni_tc_point p = { .pin_dir = pin_dir };
	char path[512];
	struct nl_link l;
	struct nl nl;
	int n = 0, err;

	err = nl_open(&nl);
	if (err)
		return err;
	/* The underlay stays (it is the node's); what xcnid put on it goes. */
	if (underlay && !nl_link_get(&nl, underlay, &l)) {
		p.dev = underlay;
		p.ifindex = l.ifindex;
		p.prog = "from_overlay";
		p.link = XCNI_LINK_UNDERLAY_IN;
		if ((err = xcni_tc_detach(&p)) < 0)
			pr_warn("%s: removing from_overlay: %s\n", underlay, strerror(-err));
		n += err > 0;
		p.prog = "to_underlay";
		p.link = XCNI_LINK_UNDERLAY_OUT;
		p.egress = true;
		if ((err = xcni_tc_detach(&p)) < 0)
			pr_warn("%s: removing to_underlay: %s\n", underlay, strerror(-err));
		n += err > 0;
		p.egress = false;
		if (!link_path(path, sizeof(path), pin_dir, XCNI_LINK_UNDERLAY_XDP) &&
		    !xcni_link_unpin(path))
			n++;
		if ((err = xdp_detach_ours(l.ifindex)) < 0)
			pr_warn("%s: removing the XDP prefilter: %s\n", underlay, strerror(-err));
		n += err > 0;
	}
	/* xcni0 is xcnid's: it goes, and its filters, qdisc and routes with it. */
	p.dev = XCNI_OVERLAY_DEV;
	p.ifindex = nl_link_get(&nl, XCNI_OVERLAY_DEV, &l) ? 0 : l.ifindex;
	p.prog = "to_overlay";
	p.link = XCNI_LINK_OVERLAY_OUT;
	if (p.ifindex && (err = xcni_tc_detach(&p)) < 0)
		pr_warn("%s: removing to_overlay: %s\n", XCNI_OVERLAY_DEV, strerror(-err));
	if (p.ifindex && (err = nl_link_del(&nl, p.ifindex)))
		pr_warn("removing %s: %s\n", XCNI_OVERLAY_DEV, strerror(-err));
	else if (p.ifindex)
		n++;
	/* A pin whose device is gone: only the pin is left to remove. */
	if (!link_path(path, sizeof(path), pin_dir, XCNI_LINK_OVERLAY_OUT))
		unlink(path);
	nl_close(&nl);
	if (n)
		pr_info("overlay: removed %d attachments and devices\n", n);
	return 0;
}

/* The pod CIDRs of both families routed through xcni0. */
struct route_prune {
	struct nl *nl;
	struct xcni_prefix *want;
	size_t n;
};

static bool route_wanted(const struct route_prune *p, int fam, const void *dst, uint8_t len)
{
	struct xcni_prefix r = { .family = (uint8_t)fam, .len = len };

	memcpy(r.addr, dst, fam == 6 ? 16 : 4);
	for (size_t i = 0; i < p->n; i++)
		if (!xcni_prefix_cmp(&p->want[i], &r))
			return true;
	return false;
}

/*
 * Routes through xcni0 that no Node asks for any more go; the kernel's own
 * IPv6 ones (link-local fe80::/64, multicast ff00::/8) stay.
 */
static int prune_route(const struct nl_route *r, void *arg)
{
	struct route_prune *p = arg;
	const uint8_t *d = r->dst6.s6_addr;
	bool v6 = r->af == AF_INET6;

	if ((v6 && (d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80))) ||
	    route_wanted(p, v6 ? 6 : 4, d, r->dst_len))
		return 0;
	if (nl_route_del(p->nl, r))
		pr_warn("removing the route to a gone node's %spod CIDR: %s\n", v6 ? "IPv6 " : "",
			p->nl->errmsg);
	return 0;
}

/*
 * Whether node nd has an entry in the tunnel map of family fam (4: xcni_tunnel,
 * 6: xcni_tunnel6), the nodes this node accepts Geneve from at that address
 * (and counts): at each InternalIP of nd in a family this node has an
 * underlay address in, so that a node sending in the other family than this
 * one picks (a rolling change of --tunnel-family) is still known; and at
 * the endpoint tunnel_v6 picks whatever this node has (a node of no family
 * in common still listed, as before). Never this node's own address.
 */
static bool tunnel_listed(const struct overlay *ov, const struct k8s_node *nd, int fam)
{
	static const uint8_t none[16];
	bool v6 = tunnel_v6(nd->internal_ip, nd->internal_ip6, ov->underlay6);

	if (fam == 4)
		return nd->internal_ip && nd->internal_ip != ov->node_ip && (ov->node_ip || !v6);
	return memcmp(nd->internal_ip6, none, 16) && memcmp(nd->internal_ip6, ov->node_ip6, 16) &&
	       (overlay_has6(ov) || v6);
}

/*
 * The tunnel entries of family FAM (4, 6: tfd, sfd its tunnel and counter
 * maps) of nodes that are gone, or no longer listed at that address
 * (tunnel_listed): deleted, with their counters (traffic to their pods is then
 * dropped with drop-no-tunnel, not sent into the void). Collected first, then
 * deleted: a hash walk does not survive deletes.
 */
static void tunnel_prune(const struct overlay *ov, const struct cluster *c, int tfd, int sfd,
			 int fam)
{
	size_t ks = fam == 6 ? 16 : 4, n;
	unsigned char *keys;

	if (mapw_keys(tfd, ks, &keys, &n))
		return;
	for (size_t k = 0; k < n; k++) {
		const unsigned char *key = keys + k * ks;
		bool keep = false;

		for (size_t i = 0; i < c->n[K8S_NODE] && !keep; i++) {
			const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
			const void *a = fam == 6 ? (const void *)nd->internal_ip6 : &nd->internal_ip;

			keep = !memcmp(a, key, ks) && tunnel_listed(ov, nd, fam);
		}
		if (!keep) {
			bpf_map_delete_elem(tfd, key);
			bpf_map_delete_elem(sfd, key);
		}
	}
	free(keys);
}

static bool name_in(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/*
 * A node no underlay family of this one reaches (tunnel_fam 0): named in
 * the log when it becomes one (not per generation), as traffic to and from
 * its pods is dropped (drop-tunnel-family) rather than lost unexplained.
 */
static void unreach_note(const struct overlay *ov, const struct k8s_node *nd, char ***now,
			 size_t *nnow)
{
	char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	const char *name = nd->meta.name ? nd->meta.name : "?";
	char **n;

	if (!name_in(ov->unreach, ov->nunreach, name)) {
		if (nd->internal_ip)
			inet_ntop(AF_INET, &nd->internal_ip, a4, sizeof(a4));
		else
			inet_ntop(AF_INET6, nd->internal_ip6, a6, sizeof(a6));
		pr_warn("overlay: node %s (InternalIP %s%s) has no underlay family in common with "
			"this node's (IPv%d only): traffic between its pods and this node's is "
			"dropped (drop-tunnel-family); give this node an IPv%d underlay address "
			"(--node-ip once per family)\n", name, a4, a6,
			ov->node_ip ? 4 : 6, ov->node_ip ? 6 : 4);
	}
	n = realloc(*now, (*nnow + 1) * sizeof(*n));
	if (!n)
		return;
	*now = n;
	if ((n[*nnow] = strdup(name)))
		(*nnow)++;
}

static void unreach_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int overlay_sync_nodes(struct overlay *ov, const struct cluster *c, const char *node_name)
{
	char **unreach = NULL;
	size_t nunreach = 0;
	bool tun6 = false;
	int tfd = bpf_map__fd(ov->in->maps.xcni_tunnel), sfd = bpf_map__fd(ov->in->maps.xcni_tunstat);
	int tfd6 = bpf_map__fd(ov->in->maps.xcni_tunnel6);
	int sfd6 = bpf_map__fd(ov->in->maps.xcni_tunstat6);
	size_t n = c->n[K8S_NODE], nw = 0;
	struct xcni_prefix *want = calloc(n ? 2 * n : 1, sizeof(*want));
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat *zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	struct route_prune rp;
	struct nl nl;
	int err = 0;

	if (!want || !zero) {
		err = -ENOMEM;
		goto out;
	}
	err = nl_open(&nl);
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
		struct xcni_tunnel t = { .pod_cidr = nd->pod_cidr, .pod_cidr_len = nd->pod_cidr_len };
		struct nl_route r = { .dst = nd->pod_cidr, .dst_len = nd->pod_cidr_len,
				      .oif = ov->dev_ifindex, .scope = RT_SCOPE_LINK,
				      .prefsrc = ov->node_ip };

		/* Listed at each address it may send from (tunnel_listed); the
		 * ipcache's XCNI_IPC_TUN6 alone says which one it is sent to. */
		bool in4 = tunnel_listed(ov, nd, 4), in6 = tunnel_listed(ov, nd, 6);
		bool failed = false;

		if ((!in4 && !in6) ||
		    (node_name && nd->meta.name && !strcmp(nd->meta.name, node_name)))
			continue;
		switch (tunnel_fam(nd->internal_ip, nd->internal_ip6, ov->node_ip != 0,
				       overlay_has6(ov), ov->prefer6)) {
		case 0: unreach_note(ov, nd, &unreach, &nunreach); break;
		case 6: tun6 = true; break;
		}
		snprintf(t.node, sizeof(t.node), "%s", nd->meta.name);
		for (int f = 4; f <= 6; f += 2) {
			int ftfd = f == 6 ? tfd6 : tfd, fsfd = f == 6 ? sfd6 : sfd;
			const void *k = f == 6 ? (const void *)nd->internal_ip6 :
						 (const void *)&nd->internal_ip;

			if (!(f == 6 ? in6 : in4))
				continue;
			if (bpf_map_update_elem(ftfd, k, &t, BPF_ANY) ||
			    (bpf_map_update_elem(fsfd, k, zero, BPF_NOEXIST) && errno != EEXIST)) {
				err = -errno;
				pr_err("tunnel to node %s: %s\n", nd->meta.name, strerror(errno));
				failed = true;
			}
		}
		if (failed)
			continue;
		/* The node's IPv6 pod CIDR: the host's IPv6 to its pods leaves
		 * through xcni0 too (to_overlay, Geneve over the IPv4 underlay). */
		if (nd->pod_cidr6_len) {
			struct nl_route r6 = { .af = AF_INET6, .dst_len = nd->pod_cidr6_len,
					       .oif = ov->dev_ifindex };

			memcpy(&r6.dst6, nd->pod_cidr6, 16);
			want[nw] = xcni_prefix_host(0, nd->pod_cidr6);
			want[nw++].len = r6.dst_len;
			if (nl_route_replace(&nl, &r6))
				pr_err("route to node %s's IPv6 pod CIDR via %s: %s\n", nd->meta.name,
				       XCNI_OVERLAY_DEV, nl.errmsg[0] ? nl.errmsg : "failed");
		}
		if (!nd->pod_cidr_len)
			continue;
		want[nw] = xcni_prefix_host(nd->pod_cidr, NULL);
		want[nw++].len = nd->pod_cidr_len;
		if (nl_route_replace(&nl, &r))
			pr_err("route to node %s's pod CIDR via %s: %s\n", nd->meta.name,
			       XCNI_OVERLAY_DEV, nl.errmsg[0] ? nl.errmsg : "failed");
	}
	tunnel_prune(ov, c, tfd, sfd, 4);
	tunnel_prune(ov, c, tfd6, sfd6, 6);
	/* A node with both addresses and now (or no longer) an IPv6 tunnel: the
	 * MTU of xcni0 and of new pods follows (xcnid writes pod_mtu with the
	 * generation). Pods made before keep theirs: their packets too big for
	 * the IPv6 underlay go to the stack, which answers Packet Too Big /
	 * fragmentation needed from xcni0's MTU. */
	if (tun6 != ov->tun6_used && ov->node_ip && overlay_has6(ov)) {
		ov->tun6_used = tun6;
		if (ov->dev_ifindex && nl_link_set_mtu(&nl, ov->dev_ifindex, overlay_pod_mtu(ov)))
			pr_err("overlay device %s: setting MTU %u: %s\n", XCNI_OVERLAY_DEV,
			       overlay_pod_mtu(ov), nl.errmsg);
		else
			pr_info("overlay: %s IPv6 tunnel: pods' MTU %u (underlay %u - %u)\n",
				tun6 ? "a node reached through an" : "no more", overlay_pod_mtu(ov),
				ov->underlay_mtu, ov->underlay_mtu - overlay_pod_mtu(ov));
	}
	rp = (struct route_prune){ &nl, want, nw };
	nl_route_dump_oif(&nl, AF_INET, ov->dev_ifindex, prune_route, &rp);
	nl_route_dump_oif(&nl, AF_INET6, ov->dev_ifindex, prune_route, &rp);
	nl_close(&nl);
	unreach_free(ov->unreach, ov->nunreach);
	ov->unreach = unreach;
	ov->nunreach = nunreach;
	unreach = NULL;
	nunreach = 0;
out:
	unreach_free(unreach, nunreach);
	free(want);
	free(zero);
	return err;
}

void overlay_free(struct overlay *ov)
{
	snat_held_free(ov->held);
	ov->held = NULL;
	unreach_free(ov->unreach, ov->nunreach);
	ov->unreach = NULL;
	ov->nunreach = 0;
	xdp_underlay__destroy(ov->xdp);
	to_underlay__destroy(ov->ul_out);
	to_overlay__destroy(ov->out);
	from_overlay__destroy(ov->in);
	ov->xdp = NULL;
	ov->out = NULL;
	ov->ul_out = NULL;
	ov->in = NULL;
}
