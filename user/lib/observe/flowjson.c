// SPDX-License-Identifier: Apache-2.0
/* A flow record as JSON, and the words, buffer and times it is written with (flows.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/system/clock.h"
#include "xcni_shared.h"
#include "lib/observe/flows.h"
#include "lib/system/log.h"
#include "lib/system/proto.h"
#include "lib/system/util.h"
#include "lib/observe/reasons.h"
#include "lib/observe/vocab.h"

static const char *const verdict_names[FLOW_NR_VERDICTS] = {
	"allowed", "denied", "audit", "forwarded", "refused", "no-backend", "timeout", "dropped",
};

const char *flow_verdict_name(int v)
{
	return v >= 0 && v < FLOW_NR_VERDICTS ? verdict_names[v] : "allowed";
}

int flow_verdict_parse(const char *s)
{
	for (int v = 0; s && v < FLOW_NR_VERDICTS; v++)
		if (!strcmp(s, verdict_names[v]))
			return v;
	return -EINVAL;
}

bool flow_verdict_dropped(int v)
{
	return v == FLOW_DENIED || v == FLOW_NO_BACKEND || v == FLOW_DROPPED;
}

int flow_drop_verdict(int reason)
{
	switch (reason) {
	case XCNI_DROP_POLICY_EGRESS:
	case XCNI_DROP_POLICY_INGRESS:
	case XCNI_DROP_POLICY_ADMIN:
	case XCNI_DROP_POLICY_BASELINE:
		return FLOW_DENIED;
	case XCNI_DROP_NO_BACKEND:
		return FLOW_NO_BACKEND; /* a Service without endpoints refused it */
	}
	return FLOW_DROPPED;
}

static const char *const point_names[] = {
	[FLOW_PT_NONE] = "unknown",	      [FLOW_PT_FROM_POD] = "from-pod",
	[FLOW_PT_FROM_OVERLAY] = "from-overlay", [FLOW_PT_FROM_HOST] = "from-host",
	[FLOW_PT_FROM_OUTSIDE] = "from-outside", [FLOW_PT_TO_POD] = "to-pod",
	[FLOW_PT_TO_OVERLAY] = "to-overlay",   [FLOW_PT_TO_STACK] = "to-stack",
};

const char *flow_point_name(int pt)
{
	return pt >= 0 && pt < (int)(ARRAY_SIZE(point_names)) ?
		       point_names[pt] :
		       "unknown";
}

int flow_rec_entry(const struct flow_rec *r)
{
	switch (r->src.loc) {
	case FLOW_LOC_LOCAL:
		return FLOW_PT_FROM_POD;
	case FLOW_LOC_REMOTE:
		return FLOW_PT_FROM_OVERLAY;
	case FLOW_LOC_HOST:
		return FLOW_PT_FROM_HOST;
	}
	return FLOW_PT_FROM_OUTSIDE;
}

int flow_rec_point(const struct flow_rec *r)
{
	/* A policy drop is where the policy judged: egress at the source pod,
	 * ingress at the destination; any other drop where it came in. */
	if (flow_verdict_dropped(r->verdict)) {
		if (r->pol_dir == 1)
			return FLOW_PT_TO_POD;
		return flow_rec_entry(r);
	}
	switch (r->dst.loc) {
	case FLOW_LOC_LOCAL:
		return FLOW_PT_TO_POD;
	case FLOW_LOC_REMOTE:
		return FLOW_PT_TO_OVERLAY;
	}
	return FLOW_PT_TO_STACK;
}

/* Room for need more bytes and the NUL (a power of two: never past a max that is one). */
static void fbuf_grow(struct fbuf *b, size_t need)
{
	if (b->max && b->len + need + 1 > b->max)
		b->err = -E2BIG;
	else if (xcni_grow(&b->p, &b->cap, b->len + need, 1))
		b->err = -ENOMEM;
}

void flows_fbuf_printf(struct fbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EINVAL;
		return;
	}
	if (!b->p || (size_t)n >= b->cap - b->len) {
		fbuf_grow(b, (size_t)n);
		if (b->err)
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void flows_fbuf_free(struct fbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void flows_fbuf_json_esc(struct fbuf *b, const char *key, const char *s, bool html)
{
	if (!s) {
		flows_fbuf_printf(b, "%snull", key ?: "");
		return;
	}
	flows_fbuf_printf(b, "%s\"", key ?: "");
	for (char esc[7]; *s; s++)
		if (xlog_json_esc((unsigned char)*s, html, esc))
			flows_fbuf_printf(b, "%s", esc);
		else
			flows_fbuf_printf(b, "%c", *s);
	flows_fbuf_printf(b, "\"");
}

/* What an end is when it is no pod: the reserved identity's name. */
const char *flow_peer_kind(const struct flow_peer *p)
{
	if (p->pod)
		return "pod";
	switch (p->identity) {
	case XCNI_ID_HOST:
		return "host";
	case XCNI_ID_REMOTE_NODE:
		return "remote-node";
	case XCNI_ID_UNMANAGED:
		return "unmanaged";
	case XCNI_ID_WORLD:
	case XCNI_ID_ANY:
		return "world";
	}
	return p->identity >= XCNI_ID_CIDR_BASE ? "world" : "pod";
}

static void json_peer(struct fbuf *b, const char *name, const struct flow_peer *p,
		      uint8_t family, const uint8_t *addr, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	flows_fbuf_printf(b,
	                  "\"%s\":{\"ip\":\"%s\",\"port\":%u,\"identity\":%u,\"kind\":\"%s\","
	                  "\"namespace\":",
	                  name, ip, port, p->identity, flow_peer_kind(p));
	flows_fbuf_json_str(b, p->ns);
	flows_fbuf_kstr(b, ",\"pod\":", p->pod);
	flows_fbuf_kstr(b, ",\"labels\":", p->labels);
	flows_fbuf_printf(b, "}");
}

/* RFC 3339 UTC, or CLOCK_MONOTONIC seconds with rc->mono. */
static void json_time(struct fbuf *b, uint64_t mono_ns, const struct flow_render_ctx *rc)
{
	char t[48];

	if (rc->mono) {
		flows_fbuf_printf(b, "%llu.%06llu", (unsigned long long)(mono_ns / 1000000000ULL),
		                  (unsigned long long)(mono_ns % 1000000000ULL / 1000));
		return;
	}
	xcni_rfc3339_fmt((int64_t)mono_ns + rc->wall_off_ns, 6, t, sizeof(t));
	flows_fbuf_printf(b, "\"%s\"", t);
}

const char *flow_client_str(const struct flow_rec *r, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!r->client_family)
		return NULL;
	inet_ntop(r->client_family == 4 ? AF_INET : AF_INET6, r->client_addr, ip, sizeof(ip));
	snprintf(buf, len, r->client_family == 4 ? "%s:%u" : "[%s]:%u", ip, r->client_port);
	return buf;
}

int flow_client_parse(const char *s, struct flow_rec *r)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *colon = s ? strrchr(s, ':') : NULL;
	size_t l = colon ? (size_t)(colon - s) : 0;
	bool v6 = s && s[0] == '[';

	if (!colon || l < 3 || l - v6 * 2 >= INET6_ADDRSTRLEN || (v6 && s[l - 1] != ']'))
		return -EINVAL;
	snprintf(ip, sizeof(ip), "%.*s", (int)(l - v6 * 2), s + v6);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, r->client_addr) != 1)
		return -EINVAL;
	r->client_family = v6 ? 6 : 4;
	r->client_port = (uint16_t)atoi(colon + 1);
	return 0;
}

/* Does s start an item of scoped_list: "ns/...", "Admin N ..." or "Baseline N ..."? */
static bool item_start(const char *s, const char *ns, size_t nl)
{
	return (!strncmp(s, ns, nl) && s[nl] == '/') || !strncmp(s, "Admin ", 6) ||
	       !strncmp(s, "Baseline ", 9);
}

/*
 * Policy names or near-miss sentences of a denied flow's isolated end (list,
 * sep-joined: ", " names, "; " sentences), the end in namespace ns, as a
 * scoped reader sees them: the NetworkPolicies (all ns's, "ns/name") whole
 * when mine (ns is the reader's), else "a policy of another namespace"; a
 * ClusterNetworkPolicy ("name [Admin N]" in a list, "Admin N name" or
 * "Baseline N name" in a sentence) "an admin policy"; each said once. A
 * sentence ends at a sep followed by an item's start: only the admin's own
 * text (a rule name) could fake one, and a piece cut off is never shown whole.
 */
static const char *scoped_list(const char *list, const char *sep, const char *ns, bool mine,
			       char *buf, size_t len)
{
	size_t o = 0, nl = strlen(ns), sl = strlen(sep);
	bool other = false, admin = false;
	const char *p = list, *e;

	buf[0] = '\0';
	while (*p) {
		for (e = strstr(p, sep); e && *sep == ';' && !item_start(e + sl, ns, nl);
		     e = strstr(e + sl, sep))
			;
		if (!e)
			e = p + strlen(p);
		if (!strncmp(p, ns, nl) && p[nl] == '/' && mine)
			xcni_bufadd(buf, len, &o, "%s%.*s", o ? sep : "", (int)(e - p), p);
		else if (!strncmp(p, ns, nl) && p[nl] == '/')
			other = true;
		else
			admin = true;
		p = *e ? e + sl : e;
	}
	if (other)
		xcni_bufadd(buf, len, &o, "%s%s", o ? sep : "", "a policy of another namespace");
	if (admin)
		xcni_bufadd(buf, len, &o, "%s%s", o ? sep : "", "an admin policy");
	return buf;
}

/*
 * The name of the policy that decided (or had decided) a flow, as rc's
 * reader sees it: a NetworkPolicy of its namespace as it is, another
 * namespace's "a policy of another namespace", a ClusterNetworkPolicy
 * ("name [Admin N]") "an admin policy".
 */
static const char *scoped_policy(const struct flow_render_ctx *rc, const char *name)
{
	size_t nl;

	if (!name || !rc || !rc->reader_ns)
		return name;
	nl = strlen(rc->reader_ns);
	if (!strncmp(name, rc->reader_ns, nl) && name[nl] == '/')
		return name;
	return strchr(name, '/') && name[strlen(name) - 1] != ']' ? "a policy of another namespace" :
								      "an admin policy";
}

/* A denied flow's isolated_by or near_misses (s) as rc's reader sees it. */
static const char *scoped_field(const struct flow_rec *r, const struct flow_render_ctx *rc,
				const char *s, const char *sep, char *buf, size_t len)
{
	const struct flow_peer *iso = r->pol_dir == 1 ? &r->dst : &r->src;

	if (!s || !rc || !rc->reader_ns)
		return s;
	return scoped_list(s, sep, iso->ns ? iso->ns : "", iso->ns && !strcmp(iso->ns, rc->reader_ns),
			   buf, len);
}

void flow_rec_json(struct fbuf *b, const struct flow_rec *r, const struct flow_render_ctx *rc)
{
	const struct xcni_reason_info *ri = r->reason ? xcni_reason_info(r->reason) : NULL;
	const char *ps = proto_label(r->key.proto);
	char flags[24] = "", client[INET6_ADDRSTRLEN + 8], scoped[1024];

	flows_fbuf_kstr(b, "{\"node\":", rc->node);
	flows_fbuf_printf(b, ",\"family\":\"ipv%u\",\"protocol\":", r->key.family);
	if (ps)
		flows_fbuf_printf(b, "\"%s\"", ps);
	else
		flows_fbuf_printf(b, "\"%u\"", r->key.proto);
	flows_fbuf_printf(b, ",");
	json_peer(b, "source", &r->src, r->key.family, r->key.saddr, r->key.sport);
	flows_fbuf_printf(b, ",");
	json_peer(b, "destination", &r->dst, r->key.family, r->key.daddr, r->key.dport);
	flows_fbuf_printf(b,
	                  ",\"verdict\":\"%s\",\"observation_point\":\"%s\",\"entry_point\":\"%s\","
	                  "\"policy_side\":",
	                  flow_verdict_name(r->verdict), flow_point_name(flow_rec_point(r)),
	                  flow_point_name(flow_rec_entry(r)));
	if (r->pol_dir <= 1)
		flows_fbuf_printf(b, "\"%s\"", r->pol_dir ? "ingress" : "egress");
	else
		flows_fbuf_printf(b, "null");
	flows_fbuf_kstr(b, ",\"policy\":", scoped_policy(rc, r->policy));
	if (r->policy)
		flows_fbuf_printf(b, ",\"rule\":%u", r->rule);
	else
		flows_fbuf_printf(b, ",\"rule\":null");
	/* A ClusterNetworkPolicy's rule: named where its policy is. */
	flows_fbuf_kstr(b, ",\"rule_name\":",
			r->policy && scoped_policy(rc, r->policy) == r->policy ? r->rule_name : NULL);
	flows_fbuf_kstr(b, ",\"domain\":", r->policy ? r->domain : NULL);
	flows_fbuf_printf(b, ",\"drop_reason\":");
	if (ri)
		flows_fbuf_json_str(b, ri->name);
	else if (r->reason)
		flows_fbuf_printf(b, "\"reason%d\"", r->reason);
	else
		flows_fbuf_printf(b, "null");
	flows_fbuf_kstr(b, ",\"isolated_by\":",
			r->verdict == FLOW_DENIED ?
				scoped_field(r, rc, r->isolators, ", ", scoped, sizeof(scoped)) : NULL);
	flows_fbuf_kstr(b, ",\"near_misses\":",
			r->verdict == FLOW_DENIED ?
				scoped_field(r, rc, r->near_misses, "; ", scoped, sizeof(scoped)) : NULL);
	flows_fbuf_printf(b, ",\"previous_verdict\":");
	if (r->prev_verdict)
		flows_fbuf_printf(b, "\"%s\"", flow_verdict_name(r->prev_verdict - 1));
	else
		flows_fbuf_printf(b, "null");
	flows_fbuf_kstr(b, ",\"previous_policy\":",
			r->prev_verdict ? scoped_policy(rc, r->prev_policy) : NULL);
	flows_fbuf_kstr(b, ",\"service\":", r->service);
	flows_fbuf_kstr(b, ",\"backend\":", r->backend);
	flows_fbuf_kstr(b, ",\"client\":", flow_client_str(r, client, sizeof(client)));
	flows_fbuf_kstr(b, ",\"service_path\":", r->svc_path == FLOW_SVC_PATH_XDP ? "xdp" :
		    r->svc_path == FLOW_SVC_PATH_TC  ? "tc" : NULL);
	flows_fbuf_printf(b,
	                  ",\"packets\":%llu,\"bytes\":%llu,\"reply_packets\":%llu,"
	                  "\"reply_bytes\":%llu,\"drops\":%llu,",
	                  (unsigned long long)r->pkts[0], (unsigned long long)r->bytes[0],
	                  (unsigned long long)r->pkts[1], (unsigned long long)r->bytes[1],
	                  (unsigned long long)r->drops);
	if (r->tcp_flags & FLOW_TCP_SYN)
		strcat(flags, ",\"SYN\"");
	if (r->tcp_flags & FLOW_TCP_ACK)
		strcat(flags, ",\"ACK\"");
	if (r->tcp_flags & FLOW_TCP_FIN)
		strcat(flags, ",\"FIN\"");
	if (r->tcp_flags & FLOW_TCP_RST)
		strcat(flags, ",\"RST\"");
	flows_fbuf_printf(b, "\"tcp_flags\":[%s],\"first_seen\":", flags[0] ? flags + 1 : "");
	json_time(b, r->first_ns, rc);
	flows_fbuf_printf(b, ",\"last_seen\":");
	json_time(b, r->last_ns, rc);
	flows_fbuf_printf(b, ",\"updated\":");
	json_time(b, r->updated_ns ? r->updated_ns : r->last_ns, rc);
	flows_fbuf_printf(b, ",\"active\":%s,\"seq\":%llu}\n", r->in_ct ? "true" : "false",
	                  (unsigned long long)r->seq);
}
