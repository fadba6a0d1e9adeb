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
 *
 * The table is replaced whole ("add; delete; add with everything") in one
 * nft transaction: the kernel commits all of it or none, so a failure leaves
 * the previous table working. It outlives xcnid, like the pinned maps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"
#include "lib/log.h"
#include "agent/masq.h"

int masq_add_cluster_cidrs(struct masq *m, const char *list)
{
	char *dup = strdup(list), *save = NULL, *tok;
	int err = 0;

	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		__u32 addr;
		__u8 len;

		if (m->ncluster >= MASQ_MAX_CLUSTER)
			err = -E2BIG;
		else if (xcni_cidr4_parse(tok, &addr, &len))
			err = -EINVAL;
		else
			m->cluster[m->ncluster++] =
				(struct masq_prefix){ addr & htonl(xcni_prefix_mask(len)), len };
	}
	free(dup);
	return err;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct masq_prefix *x = a, *y = b;
	__u32 xa = ntohl(x->net), ya = ntohl(y->net);

	if (xa != ya)
		return xa < ya ? -1 : 1;
	return (int)x->len - (int)y->len; /* the wider first: it covers the narrower */
}

size_t masq_normalize(struct masq_prefix *p, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++)
		p[i].net &= htonl(xcni_prefix_mask(p[i].len));
	qsort(p, n, sizeof(*p), prefix_cmp);
	/* Sorted by start, wider first: a prefix is covered iff the last kept one covers it. */
	for (size_t i = 0; i < n; i++) {
		if (out) {
			const struct masq_prefix *k = &p[out - 1];
			__u32 mask = xcni_prefix_mask(k->len);

			if ((ntohl(p[i].net) & mask) == ntohl(k->net))
				continue;
		}
		p[out++] = p[i];
	}
	return out;
}

int masq_exempt(const struct masq *m, const struct cluster *c, struct masq_prefix **out,
		size_t *n)
{
	size_t nn = c ? c->n[K8S_NODE] : 0, k = 0;
	struct masq_prefix *p = calloc(2 * nn + m->ncluster + 2, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p[k++] = m->pod;
	if (m->node_ip)
		p[k++] = (struct masq_prefix){ m->node_ip, 32 };
	for (size_t i = 0; i < m->ncluster; i++)
		p[k++] = m->cluster[i];
	for (size_t i = 0; i < nn; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;

		if (nd->pod_cidr_len)
			p[k++] = (struct masq_prefix){ nd->pod_cidr, nd->pod_cidr_len };
		if (nd->internal_ip)
			p[k++] = (struct masq_prefix){ nd->internal_ip, 32 };
	}
	*n = masq_normalize(p, k);
	*out = p;
	return 0;
}

static const char *prefix_str(const struct masq_prefix *p, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &p->net, a, sizeof(a));
	if (p->len == 32)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->len);
	return buf;
}

int masq_render(const struct masq *m, const struct masq_prefix *set, size_t n, char **out)
{
	const char *t = m->table ?: MASQ_TABLE;
	char pod[32], e[32];
	size_t len = 0;
	FILE *f;

	f = open_memstream(out, &len);
	if (!f)
		return -errno;
	/* "add" first so that "delete" finds a table the first time too. */
	fprintf(f, "add table ip %s\ndelete table ip %s\ntable ip %s {\n", t, t, t);
	fprintf(f, "\tset " MASQ_SET " {\n\t\ttype ipv4_addr\n\t\tflags interval\n");
	if (n) {
		fprintf(f, "\t\telements = {");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s %s", i ? "," : "", prefix_str(&set[i], e, sizeof(e)));
		fprintf(f, " }\n");
	}
	fprintf(f, "\t}\n");
	/* Not out a pod's veth or xcni0 ("xc*"): that traffic stays in the cluster. */
	fprintf(f, "\tchain " MASQ_CHAIN " {\n"
		   "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		   "\t\tip saddr %s ip daddr != @" MASQ_SET " oifname != \"xc*\" counter masquerade"
		   " comment \"xcni: pods to outside the cluster\"\n"
		   "\t}\n}\n",
		prefix_str(&m->pod, pod, sizeof(pod)));
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
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
	uint64_t h = 0xcbf29ce484222325ull;

#define MIX(v)                                                                    \
	do {                                                                      \
		const unsigned char *b_ = (const unsigned char *)&(v);            \
		for (size_t i_ = 0; i_ < sizeof(v); i_++)                         \
			h = (h ^ b_[i_]) * 0x100000001b3ull;                        \
	} while (0)
	MIX(m->pod.net);
	MIX(m->pod.len);
	MIX(m->node_ip);
	MIX(m->ncluster);
	for (size_t i = 0; i < m->ncluster; i++) {
		MIX(m->cluster[i].net);
		MIX(m->cluster[i].len);
	}
	MIX(nn);
	for (size_t i = 0; i < nn; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;

		MIX(nd->pod_cidr);
		MIX(nd->pod_cidr_len);
		MIX(nd->internal_ip);
	}
#undef MIX
	return h;
}

int masq_sync(struct masq *m, const struct cluster *c)
{
	const char *t = m->table ?: MASQ_TABLE;
	struct masq_prefix *set = NULL;
	char *cmds = NULL, err[512];
	size_t n = 0;
	uint64_t in;
	int rc;

	if (!m->on)
		return 0;
	in = masq_inputs(m, c);
	if (m->applied && in == m->applied_in)
		return 0;
	rc = masq_exempt(m, c, &set, &n);
	if (!rc)
		rc = masq_render(m, set, n, &cmds);
	free(set);
	if (rc) {
		pr_err("masquerade: building table ip %s: %s\n", t, strerror(-rc));
		return rc;
	}
	if (m->applied && !strcmp(m->applied, cmds)) {
		m->applied_in = in;
		free(cmds);
		return 0;
	}
	rc = masq_run(m, cmds, err, sizeof(err));
	if (rc) {
		pr_err("masquerade: replacing table ip %s failed, the previous one stays: %s "
		       "(--no-masquerade turns masquerade off)\n", t, err);
		free(cmds);
		return rc;
	}
	free(m->applied);
	m->applied = cmds;
	m->applied_in = in;
	/* Said on stdout like the other state changes people look for in the log. */
	printf("xcnid: masquerade: table ip %s: pod traffic masqueraded except to %zu exempt "
	       "prefixes (pod CIDRs, node addresses, cluster CIDRs)\n", t, n);
	fflush(stdout);
	return 0;
}

int masq_remove(struct masq *m)
{
	const char *t = m->table ?: MASQ_TABLE;
	char cmds[128], err[512];
	int rc;

	snprintf(cmds, sizeof(cmds), "add table ip %s\ndelete table ip %s\n", t, t);
	rc = masq_run(m, cmds, err, sizeof(err));
	if (rc)
		pr_err("masquerade: removing table ip %s: %s\n", t, err);
	free(m->applied);
	m->applied = NULL;
	return rc;
}

char *masq_list_json(struct masq *m, char *err, size_t errlen)
{
	const char *t = m->table ?: MASQ_TABLE;
	unsigned int flags;
	char cmd[96], *out = NULL;

	if (ctx_get(m)) {
		snprintf(err, errlen, "cannot make an nftables context");
		return NULL;
	}
	flags = nft_ctx_output_get_flags(m->nft);
	nft_ctx_output_set_flags(m->nft, flags | NFT_CTX_OUTPUT_JSON);
	snprintf(cmd, sizeof(cmd), "list table ip %s", t);
	if (nft_run_cmd_from_buffer(m->nft, cmd))
		nft_error(m, err, errlen);
	else
		out = strdup(nft_ctx_get_output_buffer(m->nft) ?: "");
	nft_ctx_output_set_flags(m->nft, flags);
	return out;
}

void masq_free(struct masq *m)
{
	free(m->applied);
	m->applied = NULL;
	if (m->nft)
		nft_ctx_free(m->nft);
	m->nft = NULL;
}
