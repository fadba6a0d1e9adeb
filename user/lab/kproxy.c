// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: kube-proxy for the Services (svc.c).
 *
 * After every apply or delete the lab plays kube-proxy in iptables mode on
 * every node: the Services, their endpoints and the NAT rules laid out the
 * way kube-proxy lays them out: KUBE-SERVICES matching ClusterIP:port, a
 * KUBE-SVC-* chain per Service port choosing an endpoint with the statistic
 * match, a KUBE-SEP-* chain per endpoint that DNATs, KUBE-MARK-MASQ and
 * KUBE-POSTROUTING for hairpin and off-cluster sources, and a REJECT in the
 * filter table for a port with no endpoints; NodePorts through KUBE-NODEPORTS
 * and spec.externalIPs through KUBE-SERVICES to a KUBE-EXT chain per
 * port (KUBE-SVL for externalTrafficPolicy Local), per node; the ClusterIP to
 * KUBE-SVL too for internalTrafficPolicy Local (none on the node: DROP); the
 * endpoints those of the selected pods and of slices written by hand, falling
 * back to terminating ones as kube-proxy does (seps_pick); UDP conntrack
 * entries to endpoints that went away deleted (udp_flush). It is loaded the
 * way kube-proxy
 * loads it too: iptables-restore --noflush, in the node's netns. A lab with
 * IPv6 (lab up --ip-family ipv6|dual) gets the same layout from ip6tables for
 * the Services' IPv6 ClusterIPs and the pods' IPv6 addresses, as kube-proxy
 * runs one proxier per family, with the NodePorts on the node's IPv6 address
 * (its second InternalIP, underlay.h) in the IPv6 one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/ctflush.h"
#include "lib/system/hmap.h"
#include "lab/kproxy.h"
#include "lab/slice.h"
#include "lab/underlay.h"
#include "lib/system/util.h"

/* kube-proxy's masquerade mark (--iptables-masquerade-bit 14). */
#define MASQ_MARK "0x4000"

/* ---- the rules ------------------------------------------------------------------ */

/* kube-proxy's chain names: a prefix and 16 base32 characters of a hash of what they serve. */
static void chain_name(char *out, size_t len, const char *prefix, const char *what)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t h = xcni_fnv64_str(XCNI_FNV64_BASIS, what), h2;
	char *p;

	h2 = (h ^ 0x9e3779b97f4a7c15ULL) * XCNI_FNV64_PRIME;
	p = out + snprintf(out, len, "%s", prefix);
	for (int i = 0; i < 16 && (size_t)(p - out) + 1 < len; i++) {
		uint64_t x = i < 12 ? h >> (i * 5) : h2 >> ((i - 12) * 5);

		*p++ = b32[x & 31];
	}
	*p = '\0';
}

/*
 * iptables-restore input: the nat table's chain declarations, then its rules;
 * the filter table's rules. udp: "CLUSTERIP ENDPOINTIP" of every UDP endpoint.
 */
enum { R_DECL, R_NAT, R_FILTER, R_CHAINS, R_UDP, R_NR };
struct rules {
	unsigned int fam; /* LAB_FAM_V4: iptables; LAB_FAM_V6: ip6tables */
	char node_ip6[LAB_ADDR6_LEN]; /* the node's IPv6 address (ip6tables: its NodePorts') */
	/* Those texts as memory streams (R_*); R_CHAINS: ":NAME\n" of every KUBE-SVC/SEP chain made. */
	char *buf[R_NR];
	size_t len[R_NR];
	FILE *f[R_NR];
};

struct sep {
	char chain[32];
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;
	char dest[INET6_ADDRSTRLEN + 8]; /* ADDR:PORT, [ADDR]:PORT for IPv6 (as DNAT takes it) */
	bool cluster; /* in the cluster-wide set (KUBE-SVC) */
	bool local; /* on the node the rules are for, in its set (KUBE-SVL) */
};

/* The family's: a host's prefix length, the recent match's mask, the pods' CIDR, REJECT's ICMP. */
static const char *host_len(const struct rules *r)
{
	return r->fam == LAB_FAM_V6 ? "128" : "32";
}

static const char *host_mask(const struct rules *r)
{
	return r->fam == LAB_FAM_V6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255";
}

static const char *cluster_cidr(const struct rules *r)
{
	return r->fam == LAB_FAM_V6 ? LAB_CLUSTER_CIDR6 : LAB_CLUSTER_CIDR;
}

static const char *reject_with(const struct rules *r)
{
	return r->fam == LAB_FAM_V6 ? "icmp6-port-unreachable" : "icmp-port-unreachable";
}

/* How many spec.externalIPs svc has of the rules' family. */
static size_t ext_ips(const struct rules *r, const struct k8s_object *svc)
{
	return r->fam == LAB_FAM_V6 ? svc->svc.nexternal_ips6 : svc->svc.nexternal_ips;
}

/* The rules' family's externalIP i of svc, as text into buf (INET6_ADDRSTRLEN). */
static const char *ext_ip(const struct rules *r, const struct k8s_object *svc, size_t i,
			  char *buf, size_t len)
{
	if (r->fam == LAB_FAM_V6)
		return inet_ntop(AF_INET6, svc->svc.external_ips6[i], buf, (socklen_t)len);
	return inet_ntop(AF_INET, &svc->svc.external_ips[i], buf, (socklen_t)len);
}

/*
 * Chain `chain` picks one of seps (only the local ones: local_only): with
 * ClientIP affinity a client seen within the timeout goes back to its
 * endpoint, else endpoint i of n is taken with probability 1/(n-i), uniform
 * overall.
 */
static void pick_rules(struct rules *r, const char *chain, const char *spn, const struct sep *seps,
		       size_t nsep, bool local_only, unsigned int aff)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < nsep; i++)
		n += local_only ? seps[i].local : seps[i].cluster;
	for (size_t i = 0; aff && i < nsep; i++)
		if (local_only ? seps[i].local : seps[i].cluster)
			fprintf(r->f[R_NAT], "-A %s -m comment --comment \"%s -> %s\" -m recent --name %s "
					 "--mask %s --rsource --rcheck --seconds %u --reap -j %s\n",
				chain, spn, seps[i].dest, seps[i].chain, host_mask(r), aff, seps[i].chain);
	for (size_t i = 0; i < nsep; i++) {
		if (local_only ? !seps[i].local : !seps[i].cluster)
			continue;
		fprintf(r->f[R_NAT], "-A %s -m comment --comment \"%s -> %s\"", chain, spn, seps[i].dest);
		if (k + 1 < n)
			fprintf(r->f[R_NAT], " -m statistic --mode random --probability %.11f",
				1.0 / (double)(n - k));
		fprintf(r->f[R_NAT], " -j %s\n", seps[i].chain);
		k++;
	}
}

/* A new chain of the nat table: declared, and kept by the next sync. */
static void nat_chain(struct rules *r, char *out, size_t len, const char *prefix, const char *what)
{
	chain_name(out, len, prefix, what);
	fprintf(r->f[R_CHAINS], ":%s\n", out);
	fprintf(r->f[R_DECL], ":%s - [0:0]\n", out);
}

/*
 * The external destinations of port sp of svc (its NodePort: np; its
 * spec.externalIPs of the rules' family), as kube-proxy lays them out today: KUBE-NODEPORTS
 * (the last rule of KUBE-SERVICES jumps there for the node's address) sends
 * nodePort, and KUBE-SERVICES each externalIP:port ("external IP"), to the
 * port's KUBE-EXT chain. externalTrafficPolicy Cluster: masquerade (the
 * reply must come back through this node), then KUBE-SVC, every endpoint.
 * Local: pods and the node itself still go to KUBE-SVC (the node
 * masqueraded); traffic from outside to KUBE-SVL, this node's endpoints
 * alone, keeping the client's address; none here: dropped in the filter
 * table (a load balancer's health check steers around the node). svl: the
 * port's KUBE-SVL chain, made by the caller when the node has local endpoints
 * (nlocal of them).
 */
static void ext_rules(struct rules *r, const struct k8s_object *svc, const struct k8s_svc_port *sp,
		      const char *spn, const char *what, const char *svcchain, const char *svl,
		      size_t nlocal, bool np)
{
	const char *proto = proto_name(sp->proto);
	size_t neip = ext_ips(r, svc);
	char ext[32], eip[INET6_ADDRSTRLEN];

	if (!np && !neip)
		return;
	nat_chain(r, ext, sizeof(ext), "KUBE-EXT-", what);
	if (np)
		fprintf(r->f[R_NAT], "-A KUBE-NODEPORTS -p %s -m comment --comment \"%s\" -m %s --dport %u "
				 "-j %s\n", proto, spn, proto, sp->node_port, ext);
	for (size_t i = 0; i < neip; i++)
		fprintf(r->f[R_NAT], "-A KUBE-SERVICES -d %s/%s -p %s -m comment --comment \"%s external "
				 "IP\" -m %s --dport %u -j %s\n", ext_ip(r, svc, i, eip, sizeof(eip)),
			host_len(r), proto, spn, proto, sp->port, ext);
	if (!svc->svc.etp_local) {
		fprintf(r->f[R_NAT], "-A %s -m comment --comment \"masquerade traffic for %s external "
				 "destinations\" -j KUBE-MARK-MASQ\n", ext, spn);
		fprintf(r->f[R_NAT], "-A %s -j %s\n", ext, svcchain);
		return;
	}
	fprintf(r->f[R_NAT], "-A %s -s %s -m comment --comment \"pod traffic for %s external "
			 "destinations\" -j %s\n", ext, cluster_cidr(r), spn, svcchain);
	fprintf(r->f[R_NAT], "-A %s -m comment --comment \"masquerade LOCAL traffic for %s external "
			 "destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ\n", ext, spn);
	fprintf(r->f[R_NAT], "-A %s -m comment --comment \"route LOCAL traffic for %s external "
			 "destinations\" -m addrtype --src-type LOCAL -j %s\n", ext, spn, svcchain);
	if (!nlocal) {
		if (np)
			fprintf(r->f[R_FILTER], "-A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL "
					    "-p %s -m comment --comment \"%s has no local endpoints\" "
					    "-m %s --dport %u -j DROP\n", proto, spn, proto, sp->node_port);
		for (size_t i = 0; i < neip; i++)
			fprintf(r->f[R_FILTER], "-A KUBE-EXTERNAL-SERVICES -d %s/%s -p %s -m comment "
					    "--comment \"%s has no local endpoints\" -m %s --dport %u "
					    "-j DROP\n", ext_ip(r, svc, i, eip, sizeof(eip)), host_len(r),
				proto, spn, proto, sp->port);
		return;
	}
	fprintf(r->f[R_NAT], "-A %s -j %s\n", ext, svl);
}

/*
 * The endpoints kube-proxy uses for a port on node n (its CategorizeEndpoints):
 * cluster-wide the ready ones, else (none ready anywhere) the serving
 * terminating ones; this node's likewise on their own: its ready ones, else
 * its serving terminating ones, even where another node has a ready one. So a
 * Service whose only backends are terminating keeps serving through them; an
 * endpoint neither ready nor serving is none. Into seps, sorted as eps.
 */
static size_t seps_pick(struct rules *r, const struct lab_node *n, const char *spn,
			const char *proto, const struct lab_ep *eps, size_t neps, struct sep *seps)
{
	bool ready = false, local_ready = false;
	char what[600];
	size_t nsep = 0;

	for (size_t i = 0; i < neps; i++) {
		ready |= eps[i].ready;
		local_ready |= eps[i].ready && !strcmp(eps[i].node, n->name);
	}
	for (size_t i = 0; i < neps; i++) {
		const struct lab_ep *e = &eps[i];
		bool usable = ready ? e->ready : e->serving && e->terminating;
		bool here = !strcmp(e->node, n->name);
		bool local = here && (local_ready ? e->ready : e->serving && e->terminating);

		if (!usable && !local)
			continue;
		snprintf(seps[nsep].addr, sizeof(seps[nsep].addr), "%s", e->addr);
		seps[nsep].port = e->port;
		snprintf(seps[nsep].dest, sizeof(seps[nsep].dest), r->fam == LAB_FAM_V6 ? "[%s]:%u" :
			 "%s:%u", e->addr, e->port);
		seps[nsep].cluster = usable;
		seps[nsep].local = local;
		snprintf(what, sizeof(what), "%s%s%s", spn, proto, seps[nsep].dest);
		chain_name(seps[nsep].chain, sizeof(seps[nsep].chain), "KUBE-SEP-", what);
		nsep++;
	}
	return nsep;
}

/* No endpoints: the ClusterIP, NodePort and external IPs refused at once, as kube-proxy does. */
static void no_endpoint_rules(struct rules *r, const struct k8s_object *svc, const char *ip,
			      const struct k8s_svc_port *sp, const char *spn, bool np)
{
	const char *proto = proto_name(sp->proto), *hl = host_len(r);

	fprintf(r->f[R_FILTER],
		"-A KUBE-SERVICES -d %s/%s -p %s -m comment --comment \"%s has no endpoints\" "
		"-m %s --dport %u -j REJECT --reject-with %s\n",
		ip, hl, proto, spn, proto, sp->port, reject_with(r));
	if (np)
		fprintf(r->f[R_FILTER],
			"-A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL -p %s -m comment "
			"--comment \"%s has no endpoints\" -m %s --dport %u -j REJECT "
			"--reject-with %s\n",
			proto, spn, proto, sp->node_port, reject_with(r));
	for (size_t i = 0; i < ext_ips(r, svc); i++) {
		char eip[INET6_ADDRSTRLEN];

		fprintf(r->f[R_FILTER], "-A KUBE-EXTERNAL-SERVICES -d %s/%s -p %s -m comment "
				    "--comment \"%s has no endpoints\" -m %s --dport %u -j REJECT "
				    "--reject-with %s\n",
			ext_ip(r, svc, i, eip, sizeof(eip)), hl, proto, spn, proto, sp->port,
			reject_with(r));
	}
}

/* The ClusterIP into internal (its KUBE-SVC or KUBE-SVL chain; "": dropped, none local). */
static void cluster_ip_rules(struct rules *r, const char *ip, const struct k8s_svc_port *sp,
			     const char *spn, const char *internal)
{
	const char *proto = proto_name(sp->proto), *hl = host_len(r);
	char cmt[600];

	snprintf(cmt, sizeof(cmt), "%s cluster IP", spn);
	if (!*internal) {
		/* Local, and no endpoint on this node: dropped, as kube-proxy does (not rejected). */
		fprintf(r->f[R_FILTER],
			"-A KUBE-SERVICES -d %s/%s -p %s -m comment --comment \"%s has no local endpoints\" "
			"-m %s --dport %u -j DROP\n", ip, hl, proto, spn, proto, sp->port);
		return;
	}
	fprintf(r->f[R_NAT], "-A KUBE-SERVICES -d %s/%s -p %s -m comment --comment \"%s\" -m %s "
			 "--dport %u -j %s\n", ip, hl, proto, cmt, proto, sp->port, internal);
	/* Off-cluster sources are masqueraded, so replies come back this way. */
	fprintf(r->f[R_NAT], "-A %s ! -s %s -d %s/%s -p %s -m comment --comment \"%s\" -m %s "
			 "--dport %u -j KUBE-MARK-MASQ\n",
		internal, cluster_cidr(r), ip, hl, proto, cmt, proto, sp->port);
}

/* Each endpoint's KUBE-SEP chain (hairpin, DNAT), and its UDP flows to forget. */
static void sep_rules(struct rules *r, const struct k8s_object *svc, const char *ip,
		      const struct k8s_svc_port *sp, const char *spn, const struct sep *seps,
		      size_t nsep, unsigned int aff, bool np)
{
	const char *proto = proto_name(sp->proto), *hl = host_len(r);

	for (size_t i = 0; i < nsep; i++) {
		fprintf(r->f[R_CHAINS], ":%s\n", seps[i].chain);
		fprintf(r->f[R_DECL], ":%s - [0:0]\n", seps[i].chain);
		/* Hairpin: a pod reaching itself through its Service. */
		fprintf(r->f[R_NAT], "-A %s -s %s/%s -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n",
			seps[i].chain, seps[i].addr, hl, spn);
		fprintf(r->f[R_NAT], "-A %s -p %s -m comment --comment \"%s\"", seps[i].chain, proto, spn);
		if (aff)
			fprintf(r->f[R_NAT], " -m recent --set --name %s --mask %s --rsource",
				seps[i].chain, host_mask(r));
		fprintf(r->f[R_NAT], " -m %s -j DNAT --to-destination %s\n", proto, seps[i].dest);
		if (sp->proto != IPPROTO_UDP)
			continue;
		fprintf(r->f[R_UDP], "%s %s\n", ip, seps[i].addr);
		/* A NodePort's flows: to any of the node's addresses, on that port. */
		if (np)
			fprintf(r->f[R_UDP], "port/%u %s\n", sp->node_port, seps[i].addr);
		for (size_t j = 0; j < ext_ips(r, svc); j++) {
			char eip[INET6_ADDRSTRLEN];

			fprintf(r->f[R_UDP], "%s %s\n", ext_ip(r, svc, j, eip, sizeof(eip)), seps[i].addr);
		}
	}
}

/* Service port sp of svc on node n (its NodePort and local endpoints are the node's). */
static void svc_port_rules(struct rules *r, const struct lab_node *n, const struct k8s_object *svc,
			   const char *ip, const struct k8s_svc_port *sp, const struct lab_ep_pod *pods,
			   size_t npods, const struct lab_slice_list *sl)
{
	char spn[512], svcchain[32], svl[32] = "", what[600];
	const char *proto = proto_name(sp->proto);
	unsigned int aff = svc->svc.affinity_client_ip ? svc->svc.affinity_s : 0;
	/* NodePorts on the nodes' underlay addresses: IPv6 where the node has one. */
	bool np = svc->svc.node_ports && sp->node_port && (r->fam == LAB_FAM_V4 || *r->node_ip6);
	size_t nsep = 0, nlocal = 0, neps = 0;
	struct lab_ep *eps = NULL;
	struct sep *seps;

	if (lab_port_endpoints(svc, sp, r->fam, pods, npods, sl, &eps, &neps))
		return;
	seps = calloc(neps + 1, sizeof(*seps));
	if (!seps) {
		free(eps);
		return;
	}
	/* The servicePortName: ns/name:port. */
	snprintf(spn, sizeof(spn), "%s/%s:%s", svc->meta.ns, svc->meta.name,
		 sp->name ? sp->name : "");
	nsep = seps_pick(r, n, spn, proto, eps, neps, seps);
	free(eps);
	if (!nsep) {
		no_endpoint_rules(r, svc, ip, sp, spn, np);
		free(seps);
		return;
	}
	snprintf(what, sizeof(what), "%s%s", spn, proto);
	nat_chain(r, svcchain, sizeof(svcchain), "KUBE-SVC-", what);
	/* Some picked: the cluster-wide set has some (a local one is ready or serving, terminating). */
	for (size_t i = 0; i < nsep; i++)
		nlocal += seps[i].local;
	/*
	 * KUBE-SVL: this node's endpoints alone, for a traffic policy Local
	 * (internal: the ClusterIP from this node; external: outside traffic).
	 */
	if (nlocal && (svc->svc.itp_local || svc->svc.etp_local)) {
		nat_chain(r, svl, sizeof(svl), "KUBE-SVL-", what);
		pick_rules(r, svl, spn, seps, nsep, true, aff);
	}
	/* internalTrafficPolicy Local: the ClusterIP goes to KUBE-SVL, as kube-proxy's internalTrafficChain. */
	cluster_ip_rules(r, ip, sp, spn, svc->svc.itp_local ? svl : svcchain);
	pick_rules(r, svcchain, spn, seps, nsep, false, aff);
	sep_rules(r, svc, ip, sp, spn, seps, nsep, aff, np);
	ext_rules(r, svc, sp, spn, what, svcchain, svl, nlocal, np);
	free(seps);
}

static void rules_free(struct rules *r)
{
	/* Closed first: a memstream's buffer is final only then. */
	for (size_t i = 0; i < R_NR; i++) {
		if (r->f[i])
			fclose(r->f[i]);
		free(r->buf[i]);
	}
}

/* kube-proxy's rules for node n. */
static int rules_build(struct lab *lab, const struct lab_node *n, struct rules *r)
{
	struct lab_slice_list sl = {};
	struct lab_ep_pod *pods = NULL;
	struct lab_svc_list l;
	size_t npods = 0;
	int err;

	for (size_t i = 0; i < R_NR; i++)
		if (!(r->f[i] = open_memstream(&r->buf[i], &r->len[i])))
			return -ENOMEM;
	if (r->fam == LAB_FAM_V6 && lab_node_ip6(lab, n, r->node_ip6, sizeof(r->node_ip6)))
		return -EINVAL;
	err = lab_svc_list_load(lab, &l);
	if (err)
		return err;
	err = lab_ep_pods_load(lab, &pods, &npods);
	if (!err)
		err = lab_slice_list_load(lab, &sl);
	if (err)
		goto out;
	fputs(":KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
	      ":KUBE-NODEPORTS - [0:0]\n", r->f[R_DECL]);
	fputs("-A KUBE-MARK-MASQ -j MARK --or-mark " MASQ_MARK "\n"
	      "-A KUBE-POSTROUTING -m mark ! --mark " MASQ_MARK "/" MASQ_MARK " -j RETURN\n"
	      "-A KUBE-POSTROUTING -j MARK --xor-mark " MASQ_MARK "\n"
	      "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring "
	      "SNAT\" -j MASQUERADE --random-fully\n",
	      r->f[R_NAT]);
	fputs(":KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n", r->f[R_FILTER]);
	for (size_t i = 0; i < l.n; i++) {
		struct lab_svc_ips ips;
		char ip[INET6_ADDRSTRLEN];

		/* Headless: no ClusterIP, no rules (kube-proxy skips them); nor a family it has none of. */
		if (lab_svc_ips_get(l.v[i]->raw, &ips) || ips.headless ||
		    !*lab_svc_ip_str(&ips, r->fam, ip, sizeof(ip)))
			continue;
		for (size_t j = 0; j < l.v[i]->svc.nports; j++)
			svc_port_rules(r, n, l.v[i], ip, &l.v[i]->svc.ports[j], pods, npods, &sl);
	}
	/* After every ClusterIP: the node's own address (--nodeport-addresses primary). */
	if (r->fam == LAB_FAM_V4 || *r->node_ip6)
		fprintf(r->f[R_NAT], "-A KUBE-SERVICES -d %s/%s -m comment --comment \"kubernetes service "
				 "nodeports; NOTE: this must be the last rule in this chain\" -j "
				 "KUBE-NODEPORTS\n", r->fam == LAB_FAM_V4 ? n->ip : r->node_ip6,
			host_len(r));
	for (size_t i = 0; !err && i < R_NR; i++)
		if (fflush(r->f[i]))
			err = -ENOMEM;
out:
	lab_slice_list_free(&sl);
	lab_ep_pods_free(pods, npods);
	lab_svc_list_free(&l);
	return err;
}

/* The netfilter hooks into kube-proxy's chains, added once. */
static const char *const hooks[][2] = {
	{ "nat", "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" },
	{ "nat", "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" },
	{ "nat", "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING" },
	{ "filter", "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" },
	{ "filter", "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" },
	{ "filter", "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES" },
	{ "filter", "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES" },
};

/* The chains a sync made, keys into buf: looked up once per chain the node has (not a scan each). */
struct chain_set {
	struct hmap m;
	char *buf;
};

/* From r->buf[R_CHAINS], ":NAME\n" a line. */
static int chains_load(struct chain_set *set, const struct rules *r)
{
	char *line, *sp;

	*set = (struct chain_set){ .buf = strdup(r->buf[R_CHAINS] ? r->buf[R_CHAINS] : "") };
	if (!set->buf || hmap_init(&set->m, true, 0))
		return -ENOMEM;
	for (line = strtok_r(set->buf, "\n", &sp); line; line = strtok_r(NULL, "\n", &sp))
		if (hmap_put(&set->m, hstr(line), (uintptr_t)line, line))
			return -ENOMEM;
	return 0;
}

static int node_sync(const struct lab_node *n, const struct rules *r)
{
	struct chain_set made;
	const bool v6 = r->fam == LAB_FAM_V6;
	char path[PATH_MAX], *saved = NULL, *in = NULL, *line, *sp;
	char *const save_argv[] = { v6 ? "ip6tables-save" : "iptables-save", NULL };
	char *const restore_argv[] = { v6 ? "ip6tables-restore" : "iptables-restore", "--noflush", NULL };
	FILE *f;
	size_t len = 0;
	int err;

	lab_netns_path(n->netns, path, sizeof(path));
	err = chains_load(&made, r);
	if (err)
		goto out;
	err = lab_run(path, save_argv, NULL, NULL, &saved, NULL, NULL);
	if (err) {
		fprintf(stderr, "lab: node %s: %s failed\n", n->name, save_argv[0]);
		goto out;
	}
	f = open_memstream(&in, &len);
	if (!f) {
		err = -ENOMEM;
		goto out;
	}
	for (int t = 0; t < 2; t++) {
		const char *table = t ? "filter" : "nat";
		char *stale = NULL;
		size_t stale_len = 0;
		FILE *fs = open_memstream(&stale, &stale_len);

		fprintf(f, "*%s\n", table);
		if (!t)
			fputs(r->buf[R_DECL], f);
		/* Chains of Services or endpoints that are gone: emptied, then removed. */
		if (!t && fs) {
			char *copy = strdup(saved);

			for (line = copy ? strtok_r(copy, "\n", &sp) : NULL; line;
			     line = strtok_r(NULL, "\n", &sp)) {
				if (strncmp(line, ":KUBE-SVC-", 10) && strncmp(line, ":KUBE-SEP-", 10) &&
				    strncmp(line, ":KUBE-EXT-", 10) && strncmp(line, ":KUBE-SVL-", 10))
					continue;
				*strchrnul(line, ' ') = '\0';
				if (hmap_has(&made.m, hstr(line), (uintptr_t)line))
					continue;
				fprintf(f, "%s - [0:0]\n", line);
				fprintf(fs, "-X %s\n", line + 1);
			}
			free(copy);
		}
		fputs(t ? r->buf[R_FILTER] : r->buf[R_NAT], f);
		for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
			if (!strcmp(hooks[i][0], table) && !strstr(saved, hooks[i][1]))
				fprintf(f, "%s\n", hooks[i][1]);
		if (fs)
			fclose(fs);
		fprintf(f, "%sCOMMIT\n", stale ? stale : "");
		free(stale);
	}
	fclose(f);
	err = lab_run(path, restore_argv, NULL, in, NULL, NULL, NULL);
	if (err)
		fprintf(stderr, "lab: node %s: %s refused kube-proxy's rules\n", n->name,
			restore_argv[0]);
out:
	hmap_free(&made.m);
	free(made.buf);
	free(saved);
	free(in);
	return err;
}

/* Line `line` ("KEY EP") of a kproxy-udp file into m (any_ep: the key alone); 0 or -EINVAL. */
static int udp_line_match(const char *line, int family, bool any_ep, struct lab_ct_match *m)
{
	char key[64];
	const char *ep = strchr(line, ' ');

	if (!ep || (size_t)(ep - line) >= sizeof(key))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	snprintf(key, sizeof(key), "%.*s", (int)(ep - line), line);
	if (lab_ct_match_key(m, family, key))
		return -EINVAL;
	m->any_ep = any_ep;
	return any_ep || inet_pton(family, ep + 1, m->ep) == 1 ? 0 : -EINVAL;
}

/* Is KEY (the start of line, up to its space) the key of a line of list? */
static bool udp_key_in(const char *list, const char *line)
{
	const char *ep = strchr(line, ' ');
	size_t klen = ep ? (size_t)(ep - line) + 1 : strlen(line);

	/* list starts with a line too: look at it as if after a newline. */
	for (const char *p = list; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, klen))
			return true;
	return false;
}

/*
 * UDP has no connection to end: a client keeps its conntrack entry, DNATed to
 * an endpoint that is gone, for as long as it keeps sending. kube-proxy
 * deletes the entries of every destination (ClusterIP, NodePort: any address
 * on that port, externalIP) and endpoint pair that went away, and all of a
 * destination's once it has endpoints again (entries made while it was
 * rejected); so does the lab, over ctnetlink (ctflush.c), on every node: a
 * NodePort or externalIP flow is on the node the client sent it to. The
 * pairs of the last sync ("KEY EP", KEY an address or port/NODEPORT) are
 * kept in kproxy-udp.
 */
static void udp_flush(struct lab *lab, const struct rules *r)
{
	char path[PATH_MAX], netns[PATH_MAX], *old = NULL, *copy, *line, *sp;
	int family = r->fam == LAB_FAM_V6 ? AF_INET6 : AF_INET;
	struct lab_ct_match *m = NULL;
	size_t n = 0, cap = 0;

	lab_path(lab, path, sizeof(path), r->fam == LAB_FAM_V6 ? "kproxy-udp6" : "kproxy-udp");
	/* None, or empty: nothing of the last sync to flush. */
	if (lab_read_file(path, &old) || !*old) {
		free(old);
		old = NULL;
	}
	/* Pass 0: the pairs that went away; 1: keys served now and not at the last sync. */
	for (int pass = 0; pass < 2 && old; pass++) {
		copy = strdup(pass ? r->buf[R_UDP] : old);
		for (line = copy ? strtok_r(copy, "\n", &sp) : NULL; line;
		     line = strtok_r(NULL, "\n", &sp)) {
			char want[160];

			snprintf(want, sizeof(want), "\n%s\n", line);
			if (pass ? udp_key_in(old, line) :
				   (!strncmp(r->buf[R_UDP], want + 1, strlen(want + 1)) ||
				    strstr(r->buf[R_UDP], want)))
				continue;
			if (XCNI_GROW(m, n, cap))
				break;
			if (!udp_line_match(line, family, pass, &m[n]))
				n++;
		}
		free(copy);
	}
	for (size_t i = 0; n && i < lab->nnodes; i++) {
		lab_netns_path(lab->nodes[i].netns, netns, sizeof(netns));
		/* A failure is said, and the next sync tries no better: go on with the rest. */
		lab_ct_udp_flush(netns, family, m, n);
	}
	free(m);
	free(old);
	lab_write_atomic(path, r->buf[R_UDP], r->len[R_UDP]);
}

/* One node's rules built and loaded: 0 or -errno (said). */
static int node_proxy(struct lab *lab, struct lab_node *n, struct rules *r)
{
	int err = rules_build(lab, n, r);

	return err ? err : node_sync(n, r);
}

/* A child's exit status as node_proxy's result. */
static int child_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

/* A node's kube-proxy in a child process; 0 when none could be made (done here then). */
static pid_t node_proxy_fork(struct lab *lab, struct lab_node *n, unsigned int fam, int *err)
{
	struct rules r = { .fam = fam };
	pid_t pid = fork();
	int e;

	if (pid > 0)
		return pid;
	e = node_proxy(lab, n, &r);
	rules_free(&r);
	if (!pid)
		_exit(e ? 1 : 0);
	*err = *err ? *err : e;
	return 0;
}

/*
 * kube-proxy on every node: the NAT rules for every Service and its endpoints
 * now. Each node is a kube-proxy of its own, so they run side by side, a
 * process per node (up to one per CPU, the last node in this one):
 * iptables-restore of the nf_tables backend is most of a sync (77% of a 5k
 * Service apply), and it is per node.
 */
int lab_kube_proxy_sync(struct lab *lab)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t width = ncpu > 1 ? (size_t)ncpu : 1;
	pid_t *kids;
	int err = 0, r;

	if (!lab->nnodes)
		return 0;
	kids = calloc(lab->nnodes, sizeof(*kids));
	if (!kids)
		return -ENOMEM;
	/* Each node's own: its NodePort address and its local endpoints differ. One proxier per family. */
	for (unsigned int fam = LAB_FAM_V4; !err && fam <= LAB_FAM_V6; fam <<= 1) {
		size_t last = lab->nnodes - 1, reaped = 0, running = 0;
		struct rules rl = { .fam = fam };

		if (!(lab->family & fam))
			continue;
		fflush(NULL);
		for (size_t i = 0; i < last; i++) {
			/* At most width at once, this process counted among them. */
			for (; running + 1 >= width && reaped < i; reaped++) {
				if (!kids[reaped])
					continue;
				r = child_wait(kids[reaped]);
				err = err ? err : r;
				running--;
			}
			kids[i] = node_proxy_fork(lab, &lab->nodes[i], fam, &err);
			running += kids[i] > 0;
		}
		r = node_proxy(lab, &lab->nodes[last], &rl);
		err = err ? err : r;
		for (; reaped < last; reaped++) {
			if (!kids[reaped])
				continue;
			r = child_wait(kids[reaped]);
			err = err ? err : r;
		}
		/* The ClusterIP pairs are every node's: flushed once, after the last. */
		if (!err)
			udp_flush(lab, &rl);
		rules_free(&rl);
	}
	free(kids);
	return err;
}
