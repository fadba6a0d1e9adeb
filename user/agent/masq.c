// SPDX-License-Identifier: Apache-2.0
/*
 * Masquerade for pod traffic leaving the cluster. Pods' packets to anything
 * that is not a pod already reach the host stack (from_pod: FWD_STACK), and
 * their replies come back through it to to_pod, so the address rewrite and
 * its undoing are netfilter's: one nat postrouting chain in our own table.
 *
 *   table ip xcni {
 *     set nomasq { type ipv4_addr; flags interval; elements = { every Node's
 *                  podCIDR and InternalIP, this node's, --cluster-cidr } }
 *     chain postrouting { type nat hook postrouting priority srcnat;
 *       ip saddr <pod CIDR> ip daddr != @nomasq oifname != "xc*" masquerade }
 *   }
 *   table ip6 xcni { the same for IPv6: type ipv6_addr, the Nodes' IPv6
 *                    podCIDRs and InternalIPs, ip6 saddr <IPv6 pod CIDR> ... }
 *
 * One table per family rather than one inet table: the IPv4 table keeps the
 * name and shape earlier agents wrote, so an upgrade replaces it in place,
 * and a node without IPv6 pods has no IPv6 rules at all.
 * Both tables are replaced whole ("add; delete; add with everything") in one
 * nft transaction: the kernel commits all of it or none, so a failure leaves
 * the previous tables working. They outlive xcnid, like the pinned maps.
 *
 * A nat rule acts on a flow's first packet only: a flow a pod opened before
 * the rule (before xcnid first ran, or to a prefix that was exempt until a
 * Node went away) has a conntrack entry without source NAT, and every later
 * packet of it leaves with the pod's address past the rule, as does a new
 * flow that reuses its tuple (a ping with the same identifier) while the
 * entry lives. So whenever the rule goes in or its sets change, those
 * entries are deleted (masq_ct_flush): their next packet is a new flow, and
 * masqueraded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/system/cidr.h"
#include "lib/system/ctnl.h"
#include "lib/system/clock.h"
#include "lib/system/hash.h"
#include "lib/system/log.h"
#include "lib/system/util.h"
#include "agent/masq.h"

int masq_add_cluster_cidrs(struct masq *m, const char *list)
{
	char *dup = strdup(list), *save = NULL, *tok;
	size_t n = m->ncluster, n6 = m->ncluster6;
	int err = 0;

	if (!dup)
		return -ENOMEM;
	/* Into the arrays past the counts; the counts move only if all of it parsed. */
	for (tok = strtok_r(dup, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		struct xcni_prefix p;
		bool v6 = strchr(tok, ':');

		if ((v6 ? n6 : n) >= MASQ_MAX_CLUSTER)
			err = -E2BIG;
		else if (xcni_prefix_parse(tok, XCNI_CIDR_NET, &p))
			err = -EINVAL;
		else if (v6)
			m->cluster6[n6++] = p;
		else
			m->cluster[n++] = p;
	}
	free(dup);
	if (!err) {
		m->ncluster = n;
		m->ncluster6 = n6;
	}
	return err;
}

int masq_exempt(const struct masq *m, const struct cluster *c, bool v6, struct xcni_prefix **out,
		size_t *n)
{
	static const uint8_t any[16];
	size_t nn = c ? c->n[K8S_NODE] : 0, nc = v6 ? m->ncluster6 : m->ncluster, k = 0;
	const struct xcni_prefix *pod = v6 ? &m->pod6 : &m->pod;
	struct xcni_prefix *p = calloc(2 * nn + nc + 2, sizeof(*p)), ip;

	if (!p)
		return -ENOMEM;
	if (pod->len)
		p[k++] = *pod;
	ip = xcni_prefix_host(m->node_ip, v6 ? m->node_ip6.s6_addr : NULL);
	if (memcmp(ip.addr, any, 16))
		p[k++] = ip;
	for (size_t i = 0; i < nc; i++)
		p[k++] = (v6 ? m->cluster6 : m->cluster)[i];
	for (size_t i = 0; i < nn; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
		struct xcni_prefix pc = xcni_prefix_host(nd->pod_cidr, v6 ? nd->pod_cidr6 : NULL);

		ip = xcni_prefix_host(nd->internal_ip, v6 ? nd->internal_ip6 : NULL);
		pc.len = v6 ? nd->pod_cidr6_len : nd->pod_cidr_len;
		if (pc.len)
			p[k++] = pc;
		if (memcmp(ip.addr, any, 16))
			p[k++] = ip;
	}
	*n = xcni_prefix_normalize(p, k);
	*out = p;
	return 0;
}

/* A set element as nft writes it: the address alone for a host, else ADDR/LEN. */
static const char *elem_str(const struct xcni_prefix *p, char *buf, size_t len)
{
	xcni_prefix_str(p, buf, len);
	if (p->len == (p->family == 6 ? 128 : 32))
		*strchr(buf, '/') = '\0';
	return buf;
}

/*
 * One family's table into f: "add" first so that "delete" finds a table the
 * first time too; without a pod CIDR (pod NULL) the delete alone.
 */
static void render_table(FILE *f, const char *fam, const char *t, const char *pod,
			 const char *const *elems, size_t n)
{
	bool v6 = !strcmp(fam, "ip6");

	fprintf(f, "add table %s %s\ndelete table %s %s\n", fam, t, fam, t);
	if (!pod)
		return;
	fprintf(f, "table %s %s {\n", fam, t);
	fprintf(f, "\tset " MASQ_SET " {\n\t\ttype %s\n\t\tflags interval\n",
		v6 ? "ipv6_addr" : "ipv4_addr");
	if (n) {
		fprintf(f, "\t\telements = {");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s %s", i ? "," : "", elems[i]);
		fprintf(f, " }\n");
	}
	fprintf(f, "\t}\n");
	/* Not out a pod's veth or xcni0 ("xc*"): that traffic stays in the cluster. */
	fprintf(f, "\tchain " MASQ_CHAIN " {\n"
		   "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		   "\t\t%s saddr %s %s daddr != @" MASQ_SET " oifname != \"xc*\" counter masquerade"
		   " comment \"xcni: pods to outside the cluster\"\n"
		   "\t}\n}\n",
		fam, pod, fam);
}

/* Prefixes as nft writes them, in one block: elems[i] points into it. */
#define MASQ_ELEM_LEN (INET6_ADDRSTRLEN + 5)

int masq_render(const struct masq *m, const struct xcni_prefix *set, size_t n,
		const struct xcni_prefix *set6, size_t n6, char **out)
{
	const char *t = m->table ?: MASQ_TABLE;
	size_t max = n > n6 ? n : n6, len = 0;
	char (*buf)[MASQ_ELEM_LEN] = calloc(max + 1, sizeof(*buf));
	const char **elems = calloc(max + 1, sizeof(*elems));
	char pod[MASQ_ELEM_LEN];
	int err = 0;
	FILE *f = NULL;

	*out = NULL;
	if (!buf || !elems || !(f = open_memstream(out, &len))) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		elems[i] = elem_str(&set[i], buf[i], sizeof(buf[i]));
	render_table(f, "ip", t, m->pod.len ? elem_str(&m->pod, pod, sizeof(pod)) : NULL,
		     elems, n);
	for (size_t i = 0; i < n6; i++)
		elems[i] = elem_str(&set6[i], buf[i], sizeof(buf[i]));
	render_table(f, "ip6", t, m->pod6.len ? elem_str(&m->pod6, pod, sizeof(pod)) : NULL,
		     elems, n6);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		err = -ENOMEM;
	}
out:
	free(buf);
	free(elems);
	return err;
}

static int ctx_get(struct masq *m)
{
	if (m->nft)
		return 0;
	m->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!m->nft)
		return -ENOMEM;
	if (nft_ctx_buffer_output(m->nft) || nft_ctx_buffer_error(m->nft)) {
		nft_ctx_free(m->nft);
		m->nft = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The first line of nft's error buffer, which names the command and the kernel's reason. */
static void nft_error(struct masq *m, char *err, size_t errlen)
{
	const char *e = nft_ctx_get_error_buffer(m->nft);
	size_t l;

	snprintf(err, errlen, "%s", e && *e ? e : "nft failed without a message");
	l = strcspn(err, "\n");
	err[l] = '\0';
}

int masq_run(struct masq *m, const char *cmds, char *err, size_t errlen)
{
	int rc = ctx_get(m);

	if (rc) {
		snprintf(err, errlen, "cannot make an nftables context");
		return rc;
	}
	if (nft_run_cmd_from_buffer(m->nft, cmds)) {
		nft_error(m, err, errlen);
		return -EIO;
	}
	/* Reading a buffer empties it: nothing of this run is left for the next. */
	nft_ctx_get_error_buffer(m->nft);
	nft_ctx_get_output_buffer(m->nft);
	return 0;
}

/* FNV-1a over what masq_exempt reads. */
static uint64_t masq_inputs(const struct masq *m, const struct cluster *c)
{
	size_t nn = c ? c->n[K8S_NODE] : 0;
	uint64_t h = XCNI_FNV64_BASIS;

#define MIX(v) (h = xcni_fnv64(h, &(v), sizeof(v)))
	MIX(m->pod);
	MIX(m->node_ip);
	MIX(m->ncluster);
	for (size_t i = 0; i < m->ncluster; i++)
		MIX(m->cluster[i]);
	MIX(m->pod6);
	MIX(m->node_ip6);
	MIX(m->ncluster6);
	for (size_t i = 0; i < m->ncluster6; i++)
		MIX(m->cluster6[i]);
	MIX(nn);
	for (size_t i = 0; i < nn; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;

		MIX(nd->pod_cidr);
		MIX(nd->pod_cidr_len);
		MIX(nd->internal_ip);
		MIX(nd->pod_cidr6);
		MIX(nd->pod_cidr6_len);
		MIX(nd->internal_ip6);
	}
#undef MIX
	return h;
}

/* FNV-1a over what the tables hold besides the sets' elements. */
static uint64_t masq_frame(const struct masq *m)
{
	const char *t = m->table ?: MASQ_TABLE;
	uint64_t h = XCNI_FNV64_BASIS;

#define MIX(v) (h = xcni_fnv64(h, &(v), sizeof(v)))
	for (const char *p = t; *p; p++)
		MIX(*p);
	MIX(m->pod);
	MIX(m->pod6);
#undef MIX
	return h;
}

/*
 * "delete element" and "add element" for what differs between the sets the
 * kernel holds (old, sorted) and the new ones, for one family: a sorted merge.
 * *nch counts the elements.
 */
static void render_delta(FILE *f, const char *fam, const char *t, const struct xcni_prefix *old,
			 size_t nold, const struct xcni_prefix *new, size_t nnew, size_t *nch)
{
	char buf[MASQ_ELEM_LEN];

	for (int add = 0; add < 2; add++) {
		const struct xcni_prefix *a = add ? new : old, *b = add ? old : new;
		size_t na = add ? nnew : nold, nb = add ? nold : nnew, j = 0, k = 0;

		/* Deletes first: an added prefix may overlap one that goes. */
		for (size_t i = 0; i < na; i++) {
			const char *e;
			int d = 1;

			while (j < nb && (d = xcni_prefix_cmp(&b[j], &a[i])) < 0)
				j++;
			if (j < nb && !d)
				continue; /* in both */
			e = elem_str(&a[i], buf, sizeof(buf));
			if (!k++)
				fprintf(f, "%s element %s %s " MASQ_SET " { %s", add ? "add" : "delete",
					fam, t, e);
			else
				fprintf(f, ", %s", e);
		}
		if (k)
			fprintf(f, " }\n");
		*nch += k;
	}
}

/*
 * The element commands from the applied sets to set and set6; *out NULL with
 * 0 when nothing differs.
 */
static int masq_render_delta(const struct masq *m, const struct xcni_prefix *set, size_t n,
			     const struct xcni_prefix *set6, size_t n6, char **out, size_t *nch)
{
	const char *t = m->table ?: MASQ_TABLE;
	size_t len = 0;
	FILE *f = open_memstream(out, &len);

	*nch = 0;
	if (!f)
		return -ENOMEM;
	if (m->pod.len)
		render_delta(f, "ip", t, m->aset, m->naset, set, n, nch);
	if (m->pod6.len)
		render_delta(f, "ip6", t, m->aset6, m->naset6, set6, n6, nch);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	if (!*nch) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/* The prefix of the sorted, merged set (one family) that covers address a
 * (the last one starting at or below it), or NULL. */
static const struct xcni_prefix *set_cover(const struct xcni_prefix *set, size_t n,
					   const uint8_t *a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(set[mid].addr, a, set[mid].family == 6 ? 16 : 4) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && xcni_prefix_has(set[lo - 1].addr, set[lo - 1].len, a) ? &set[lo - 1] : NULL;
}

bool masq_ct_unmasqueraded(const struct masq *m, const struct xcni_prefix *set, size_t n,
			   const struct xcni_prefix *set6, size_t n6, const struct ctnl_flow *f)
{
	/* Masqueraded, or a null binding the rule would now give a source NAT: only the
	 * latter. The destination is where the flow went after any DNAT: the reply's source. */
	if (f->status & IPS_SRC_NAT)
		return false;
	if (f->family == AF_INET && m->pod.len)
		return set_cover(&m->pod, 1, f->osrc) && !set_cover(set, n, f->rsrc);
	if (f->family == AF_INET6 && m->pod6.len)
		return set_cover(&m->pod6, 1, f->osrc) && !set_cover(set6, n6, f->rsrc);
	return false;
}

struct ct_pick {
	const struct masq *m;
	const struct xcni_prefix *set;
	size_t n;
	const struct xcni_prefix *set6;
	size_t n6;
};

static bool ct_pick(const struct ctnl_flow *f, void *arg)
{
	const struct ct_pick *p = arg;

	return masq_ct_unmasqueraded(p->m, p->set, p->n, p->set6, p->n6, f);
}

/*
 * Whether every prefix of the applied set old is inside one prefix of the new
 * set (both sorted, merged). If so, no destination left the exempt set: a
 * flow without source NAT to a destination outside the new set was outside
 * the old one too, and the rule has masqueraded every such flow since the
 * last flush. A flush then finds nothing to delete, and a conntrack dump
 * walks the whole table (~10 ms at each Node change under churn).
 */
static bool set_kept(const struct xcni_prefix *old, size_t nold, const struct xcni_prefix *set,
		     size_t n)
{
	for (size_t i = 0; i < nold; i++) {
		const struct xcni_prefix *c = set_cover(set, n, old[i].addr);

		if (!c || c->len > old[i].len)
			return false;
	}
	return true;
}

/*
 * The conntrack entries of flows from this node's pods that left unmasqueraded
 * to where the rule now masquerades, deleted (both families with a pod CIDR).
 * A failure is logged, not returned: the tables are in, and only flows older
 * than them are affected.
 */
static void masq_ct_flush(const struct masq *m, const struct xcni_prefix *set, size_t n,
			  const struct xcni_prefix *set6, size_t n6, const bool fam_due[2])
{
	struct ct_pick p = { m, set, n, set6, n6 };
	char err[256];

	for (int i = 0; i < 2; i++) {
		int fam = i ? AF_INET6 : AF_INET;
		int ret;

		if (!(i ? m->pod6.len : m->pod.len) || !fam_due[i])
			continue;
		((struct masq *)m)->nflush++;
		ret = ctnl_delete(NULL, fam, ct_pick, &p, err, sizeof(err));
		if (ret < 0)
			pr_warn("masquerade: deleting the conntrack entries of %s flows that left "
				"unmasqueraded before the rule failed (%s): those flows keep the "
				"pods' addresses until they end\n", i ? "IPv6" : "IPv4", err);
		else if (ret)
			printf("xcnid: masquerade: deleted %d conntrack entries of %s pod flows that "
			       "left unmasqueraded before the rule (their next packets are "
			       "masqueraded)\n", ret, i ? "IPv6" : "IPv4");
	}
}

int masq_sync(struct masq *m, const struct cluster *c)
{
	const char *t = m->table ?: MASQ_TABLE;
	struct xcni_prefix *set = NULL;
	struct xcni_prefix *set6 = NULL;
	char *cmds = NULL, err[512];
	size_t n = 0, n6 = 0, nch = 0;
	uint64_t in, frame;
	bool whole = true;
	int rc;

	if (!m->on)
		return 0;
	in = masq_inputs(m, c);
	if (m->applied && in == m->applied_in)
		return 0;
	frame = masq_frame(m);
	rc = masq_exempt(m, c, false, &set, &n);
	if (!rc)
		rc = masq_exempt(m, c, true, &set6, &n6);
	if (!rc && m->applied && frame == m->aframe) {
		rc = masq_render_delta(m, set, n, set6, n6, &cmds, &nch);
		if (!rc && !cmds) {
			/* The same sets from other inputs (a covered prefix). */
			m->applied_in = in;
			free(set);
			free(set6);
			return 0;
		}
		if (!rc && !(rc = masq_run(m, cmds, err, sizeof(err)))) {
			whole = false;
		} else if (rc == -EIO) {
			/* Someone else changed the tables: replace them whole. */
			pr_warn("masquerade: changing %zu elements of tables ip/ip6 %s failed (%s): "
				"replacing them whole\n", nch, t, err);
			rc = 0;
		}
		free(cmds);
		cmds = NULL;
	}
	if (!rc && whole)
		rc = masq_render(m, set, n, set6, n6, &cmds);
	if (rc) {
		pr_err("masquerade: building tables ip/ip6 %s: %s\n", t, strerror(-rc));
		goto fail;
	}
	if (whole && (rc = masq_run(m, cmds, err, sizeof(err)))) {
		pr_err("masquerade: replacing tables ip/ip6 %s failed, the previous ones stay: %s "
		       "(--no-masquerade turns masquerade off)\n", t, err);
		goto fail;
	}
	free(cmds);
	if (whole) {
		/* The rule goes in (or is replaced): every family's flows, now. */
		const bool all[2] = { true, true };

		masq_ct_flush(m, set, n, set6, n6, all);
		m->flush_due[0] = m->flush_due[1] = false;
		m->flush_at = 0;
	} else {
		/* A delta: the families whose exempt set lost a prefix (set_kept),
		 * flushed within MASQ_FLUSH_DELAY_MS (masq_flush_tick). */
		bool lost4 = !set_kept(m->aset, m->naset, set, n);
		bool lost6 = !set_kept(m->aset6, m->naset6, set6, n6);

		m->flush_due[0] |= lost4;
		m->flush_due[1] |= lost6;
		if ((lost4 || lost6) && !m->flush_at)
			m->flush_at = xcni_mono_ms() + MASQ_FLUSH_DELAY_MS;
	}
	free(m->aset);
	free(m->aset6);
	m->aset = set;
	m->naset = n;
	m->aset6 = set6;
	m->naset6 = n6;
	m->aframe = frame;
	m->applied = true;
	m->applied_in = in;
	if (whole)
		m->nwhole++;
	else
		m->ndelta++;
	/* Said on stdout like the other state changes people look for in the log. */
	for (int v6 = 0; v6 < 2; v6++)
		if (v6 ? m->pod6.len : m->pod.len)
			printf("xcnid: masquerade: table %s %s: %spod traffic masqueraded except to "
			       "%zu exempt prefixes (pod CIDRs, node addresses, cluster CIDRs)%s\n",
			       v6 ? "ip6" : "ip", t, v6 ? "IPv6 " : "", v6 ? n6 : n,
			       whole ? "" : ", changed by its elements");
	fflush(stdout);
	return 0;
fail:
	free(cmds);
	free(set);
	free(set6);
	return rc;
}

int masq_flush_tick(struct masq *m, uint64_t now)
{
	if (!m->flush_at)
		return -1;
	if (now < m->flush_at)
		return (int)(m->flush_at - now);
	masq_ct_flush(m, m->aset, m->naset, m->aset6, m->naset6, m->flush_due);
	m->flush_due[0] = m->flush_due[1] = false;
	m->flush_at = 0;
	return -1;
}

int masq_remove(struct masq *m)
{
	const char *t = m->table ?: MASQ_TABLE;
	char cmds[256], err[512];
	int rc;

	snprintf(cmds, sizeof(cmds), "add table ip %s\ndelete table ip %s\n"
		 "add table ip6 %s\ndelete table ip6 %s\n", t, t, t, t);
	rc = masq_run(m, cmds, err, sizeof(err));
	if (rc)
		pr_err("masquerade: removing tables ip/ip6 %s: %s\n", t, err);
	m->applied = false;
	return rc;
}

void masq_free(struct masq *m)
{
	free(m->aset);
	free(m->aset6);
	m->aset = NULL;
	m->aset6 = NULL;
	m->naset = m->naset6 = 0;
	m->applied = false;
	if (m->nft)
		nft_ctx_free(m->nft);
	m->nft = NULL;
}
