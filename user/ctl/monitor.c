// SPDX-License-Identifier: Apache-2.0
/* xcnictl monitor: drop, verdict and trace events from the ring buffer, as they come. */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/system/clock.h"
#include "ctl/ctl.h"
#include "ctl/polsel.h"
#include "lib/observe/vocab.h"
#include "lib/observe/flows.h"

/*
 * The default text is what a Hubble user reads (hubble observe's TIMESTAMP
 * SOURCE DESTINATION VERDICT SUMMARY), narrow enough for 120 columns on the
 * lab's names: the pods by name, a verdict word as flows says it, and a
 * summary, the last column, whole (a cut one hid the rule and near misses). -o wide has every field (and JSON all of
 * them): the addresses, reason, direction, endpoint, the policy's text.
 * NODE is the first column, there with --node all only.
 */
static const struct pt_col event_cols[] = {
	{ "NODE", "node", PT_STR },
	{ "TIME", NULL, PT_STR | PT_SHOW_NARROW }, /* the time of day, to the millisecond */
	{ "TIME", "time", PT_STR | PT_SHOW_WIDE },
	{ NULL, "time_ns", PT_UINT | PT_SHOW_JSON },
	{ "SOURCE", NULL, PT_STR | PT_SHOW_NARROW }, /* NS/POD:PORT, else ADDRESS:PORT */
	{ "DESTINATION", NULL, PT_STR | PT_SHOW_NARROW },
	{ "VERDICT", NULL, PT_STR | PT_SHOW_NARROW }, /* allowed, denied, audit, forwarded */
	{ "SUMMARY", NULL, PT_STR | PT_SHOW_NARROW },
	{ "REASON", "reason", PT_STR | PT_SHOW_WIDE },
	{ NULL, "code", PT_INT | PT_SHOW_JSON },
	{ "DIRECTION", "direction", PT_STR | PT_SHOW_WIDE },
	/* The local pod's endpoint: the event's, else (a packet from the overlay,
	 * which the program judged before it knew the endpoint) the endpoints map's. */
	{ "EP-ID", "ep_id", PT_UINT | PT_SHOW_WIDE },
	{ "IFINDEX", "ifindex", PT_UINT | PT_SHOW_WIDE },
	{ "PROTO", "proto", PT_STR | PT_SHOW_WIDE },
	{ "SRC", NULL, PT_STR | PT_SHOW_WIDE },
	{ "DST", NULL, PT_STR | PT_SHOW_WIDE },
	{ NULL, "saddr", PT_STR | PT_SHOW_JSON },
	{ NULL, "sport", PT_UINT | PT_SHOW_JSON },
	{ NULL, "daddr", PT_STR | PT_SHOW_JSON },
	{ NULL, "dport", PT_UINT | PT_SHOW_JSON },
	{ NULL, "src_pod", PT_STR }, /* NS/NAME, or null: not a pod */
	{ NULL, "dst_pod", PT_STR },
	{ "LEN", "len", PT_UINT | PT_SHOW_WIDE },
	{ "TYPE", "type", PT_STR | PT_SHOW_WIDE },
	{ "VERDICT", "verdict", PT_STR | PT_SHOW_WIDE },
	{ NULL, "src_identity", PT_UINT },
	{ NULL, "dst_identity", PT_UINT },
	{ NULL, "policy", PT_STR | PT_SHOW_JSON },
	{ NULL, "rule", PT_INT | PT_SHOW_JSON },
	/* A ClusterNetworkPolicy rule's name; the tier that decided (verdicts, tier drops). */
	{ NULL, "rule_name", PT_STR | PT_SHOW_JSON },
	{ NULL, "tier", PT_STR },
	/* A policy drop: the policies that isolate the pod ("x/a,x/b"). */
	{ NULL, "isolated_by", PT_STR | PT_SHOW_JSON },
	/* Its near misses (flows' near_misses): the default text's lines of their own. */
	{ NULL, "near_misses", PT_STR },
	/*
	 * A flow a Service translated: "svc y/web:http 10.96.0.10:80/tcp ->
	 * backend y/b 10.244.1.5:8080", or "...: no backend" for a refusal.
	 * From the rev-NAT index (= service id) and backend id the event carries.
	 */
	{ "SERVICE", NULL, PT_STR | PT_SHOW_WIDE },
	{ NULL, "service", PT_STR | PT_SHOW_JSON }, /* NS/NAME */
	{ NULL, "port_name", PT_STR | PT_SHOW_JSON },
	{ NULL, "frontend", PT_STR | PT_SHOW_JSON }, /* ADDR:PORT/PROTO */
	{ NULL, "rev_nat", PT_UINT | PT_SHOW_JSON },
	{ NULL, "backend_id", PT_UINT | PT_SHOW_JSON },
	{ NULL, "backend", PT_STR | PT_SHOW_JSON }, /* ADDR:PORT */
	{ NULL, "backend_pod", PT_STR | PT_SHOW_JSON },
};

/* The narrow columns' widths before any event: an end with its port. */
/* (A world address's port may widen the column: a line then a little longer.) */
#define MONITOR_END_W (sizeof("203.0.113.254:65535") - 1)
#define MONITOR_TIME_W (sizeof("16:54:18.123") - 1)
#define MONITOR_VERDICT_W 10 /* no-backend, the widest of flow_verdict_name's */

/* The widest name the data plane reports: the reasons' (reasons), else the directions'. */
static size_t widest_name(bool reasons)
{
	int hi = reasons ? XCNI_REASON_MAX : XCNI_NR_DIRS - 1;
	size_t w = 0;

	for (int i = reasons ? XCNI_REASON_MIN : 0; i <= hi; i++) {
		const struct xcni_reason_info *ri = xcni_reason_info(i);
		const char *nm = !reasons ? xcni_dir_name((unsigned int)i) : ri ? ri->name : NULL;

		if (nm && strlen(nm) > w)
			w = strlen(nm);
	}
	return w;
}

/* A column's index by its JSON key or, for a text-only one, its title and show. */
static unsigned int col_of(const char *key, const char *title, unsigned int show)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(event_cols); i++)
		if (key ? event_cols[i].key && !strcmp(event_cols[i].key, key) :
			  !event_cols[i].key && event_cols[i].title &&
				  !strcmp(event_cols[i].title, title) &&
				  ((unsigned int)event_cols[i].type & show))
			return i;
	return 0;
}

/*
 * The text columns as wide as any event can make them, so the lines of a
 * stream align from the first on (the print layer cannot look ahead). skip:
 * the columns before the table's first (NODE, without --node all).
 */
static void event_widths(struct ptable *t, unsigned int skip, size_t node_w)
{
	const struct {
		const char *key, *title;
		unsigned int show;
		size_t w;
	} widths[] = {
		{ "node", NULL, 0, node_w },
		{ NULL, "TIME", PT_SHOW_NARROW, MONITOR_TIME_W },
		{ "time", NULL, 0, sizeof("2026-11-26T03:04:05.123456Z") - 1 }, /* or a year of uptime */
		{ NULL, "SOURCE", PT_SHOW_NARROW, MONITOR_END_W },
		{ NULL, "DESTINATION", PT_SHOW_NARROW, MONITOR_END_W },
		{ NULL, "VERDICT", PT_SHOW_NARROW, MONITOR_VERDICT_W },
		{ "reason", NULL, 0, widest_name(true) },
		{ "direction", NULL, 0, widest_name(false) },
		{ "ep_id", NULL, 0, sizeof("4294967295") - 1 }, /* a hash of the container id */
		{ "ifindex", NULL, 0, 7 },
		{ "proto", NULL, 0, 4 }, /* "sctp", or a number */
		/* An ICMP echo's end is the widest: ADDRESS:id=ID. */
		{ NULL, "SRC", PT_SHOW_WIDE, sizeof("255.255.255.255:id=65535") - 1 },
		{ NULL, "DST", PT_SHOW_WIDE, sizeof("255.255.255.255:id=65535") - 1 },
		{ "len", NULL, 0, 5 },
		{ "type", NULL, 0, sizeof("verdict") - 1 },
	};

	for (size_t k = 0; k < ARRAY_SIZE(widths); k++) {
		unsigned int i = col_of(widths[k].key, widths[k].title, widths[k].show);

		if (i >= skip)
			pt_min_width(t, i - skip, widths[k].w);
	}
}

static volatile sig_atomic_t monitor_stop;

static void on_sigint(int sig)
{
	(void)sig;
	monitor_stop = 1;
}

struct monitor;

/* One node's events and the maps that name what they carry. */
struct msrc {
	struct monitor *m;
	struct ctl_ctx c; /* its pin dir */
	char node[64]; /* --node all: its name */
	char pin[PATH_MAX];
	int sub; /* xcnid --flows's stream of this node's events; -1: the ring */
	int ring_fd; /* xcni_events, when read here; -1 */
	int polname_fd; /* -1 when the agent predates policy */
	int polsel_fd, podname_fd, rulename_fd; /* -1 when the agent predates them */
	int ep_fd, identity_fd; /* -1: none */
	struct polkey6_maps k6; /* with endpoints6 */
	struct svcnames sn; /* Services' names, frontends, backends */
	/* Near misses: the objects its agent reads (NULL: unreadable), read at
	 * cc_ms, and the answer for the last pair and port (a burst of one
	 * pair's drops walks once). */
	struct ctl_cluster *cc;
	__u64 cc_ms;
	char nm_key[720], nm_text[1024];
};

struct monitor {
	const struct ctl_ctx *c;
	struct ptable *t;
	unsigned long seen;
	int err;
	struct filter f; /* --ip, --pod, --namespace, --identity, --label */
	struct flow_filter ff; /* flows' words (--from-pod, --to-port, ...) */
	bool has_ff;
	__u64 since_ns; /* events queued before monitor started are old news */
	int64_t wall_off_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, for TIME */
	bool multi; /* several nodes: the NODE column */
	size_t node_w, src_w, dst_w; /* the narrow columns' widths so far */
	struct msrc *src;
	size_t nsrc;
	struct ring_buffer *rb; /* the rings of the nodes read here */
};

/* The verdict of an event, as flows says it (flow_verdict_name's table). */
static int event_verdict(const struct xcni_event *ev)
{
	if (ev->type == XCNI_EV_DROP)
		return flow_drop_verdict(ev->reason);
	if (ev->type == XCNI_EV_TRACE)
		return VOCAB_FORWARDED;
	if ((ev->pol_flags & XCNI_POLV_DENY) && (ev->pol_flags & XCNI_POLV_AUDIT))
		return VOCAB_AUDIT;
	return VOCAB_ALLOWED;
}

/*
 * --verdict, as flows reads it (vocab.h): denied is a policy's drop,
 * no-backend a Service's without endpoints, dropped one for another named
 * reason, Hubble's DROPPED any of them; allowed a policy's allow (a verdict event), audit one that a policy in
 * audit mode would have denied; forwarded a forwarded packet (a trace);
 * Hubble's FORWARDED (passed) whatever passed. An event of a type this
 * binary does not know is none of them.
 */
static bool verdict_is(const struct xcni_event *ev, int v)
{
	int e = event_verdict(ev);

	if (ev->type < XCNI_EV_DROP || ev->type > XCNI_EV_TRACE)
		return false;
	return v == VOCAB_PASSED ? e == VOCAB_ALLOWED || e == VOCAB_FORWARDED :
	       v == VOCAB_DROPS	 ? flow_verdict_dropped(e) :
				   e == v;
}

/* What an event is about, named once for the filters and the columns. */
struct evnames {
	bool v6;
	const __u8 *saddr, *daddr; /* 4 or 16 bytes, network order */
	char spod[330], dpod[330]; /* "ns/name", "" when not a pod */
	char svc[160]; /* "ns/name:port" of a translated flow, "" none */
};

/* The pod of an address: IPv4 in podname, IPv6 by its policy key (polsync_key6). */
static void pod_name(const struct msrc *s, bool v6, const __u8 *addr, char *buf, size_t len)
{
	if (!pod_of_addr(s->podname_fd, &s->k6, v6 ? XCNI_AF_INET6 : XCNI_AF_INET, addr, buf, len))
		buf[0] = '\0';
}

/* One end as a flow filter sees it: its pod split, its identity's labels. */
static void ff_peer(const struct msrc *s, const char *pod, __u32 id, struct flow_peer *p,
		    char ns[64], struct xcni_idlabels *l)
{
	const char *sl = strchr(pod, '/');

	p->identity = id;
	if (sl && (size_t)(sl - pod) < 64) {
		snprintf(ns, 64, "%.*s", (int)(sl - pod), pod);
		p->ns = ns;
		p->pod = sl + 1;
	}
	if (s->identity_fd >= 0 && !bpf_map_lookup_elem(s->identity_fd, &id, l)) {
		l->labels[sizeof(l->labels) - 1] = '\0';
		p->labels = l->labels;
	}
}

/*
 * flows' words (--from-pod, --to-port, --service, ...): the event as a flow
 * record of one packet, through the filter flows and xcnid run.
 */
static bool ff_match(const struct msrc *s, const struct xcni_event *ev, const struct evnames *n)
{
	static struct xcni_idlabels sl, dl;
	struct flow_rec r = { .seq = 1, .last_ns = ev->ts_ns, .first_ns = ev->ts_ns };
	char sns[64], dns[64];

	r.key.family = n->v6 ? 6 : 4;
	r.key.proto = ev->proto;
	r.key.sport = ntohs(ev->sport);
	r.key.dport = ntohs(ev->dport);
	memcpy(r.key.saddr, n->saddr, n->v6 ? 16 : 4);
	memcpy(r.key.daddr, n->daddr, n->v6 ? 16 : 4);
	ff_peer(s, n->spod, ev->src_identity, &r.src, sns, &sl);
	ff_peer(s, n->dpod, ev->dst_identity, &r.dst, dns, &dl);
	r.verdict = (uint8_t)event_verdict(ev);
	r.reason = ev->type == XCNI_EV_DROP ? ev->reason : 0;
	r.service = n->svc[0] ? n->svc : NULL;
	return flow_filter_match(&s->m->ff, &r, ev->ts_ns, s->m->wall_off_ns);
}

/*
 * The filters run here, on what the ring buffer already holds: the programs
 * emit the same events whether anyone watches or how, so a filter costs the
 * data plane nothing and a narrow one does not make it emit less.
 */
static bool monitor_match(const struct msrc *s, const struct xcni_event *ev,
			  const struct evnames *n)
{
	const struct monitor *m = s->m;
	const struct ctl_ctx *c = m->c;
	struct frow r = { .addr = { xcni_prefix_host(ev->saddr, NULL),
				    xcni_prefix_host(ev->daddr, NULL) }, .naddr = 2 };

	if ((c->opts & OPT_TYPE) && ev->type != c->ev_type)
		return false;
	if ((c->opts & OPT_VERDICT) && !verdict_is(ev, c->verdict))
		return false;
	if ((c->opts & OPT_REASON) && ev->reason != c->reason)
		return false;
	if (m->has_ff && !ff_match(s, ev, n))
		return false;
	/* The identities the programs had at hand; else the ipcache's. */
	if (ev->src_identity)
		r.id[r.nid++] = ev->src_identity;
	if (ev->dst_identity)
		r.id[r.nid++] = ev->dst_identity;
	return filter_match(&m->f, &r);
}

static const char *event_type_name(__u8 type)
{
	switch (type) {
	case XCNI_EV_DROP:
		return "drop";
	case XCNI_EV_VERDICT:
		return "verdict";
	case XCNI_EV_TRACE:
		return "trace";
	}
	return NULL;
}

/*
 * A policy drop: the policies that isolate the pod (egress: the source,
 * ingress: the destination), as the maps say now, into text (or "" when
 * they do not say) and json. Returns the pod's name.
 */
static const char *drop_isolators(const struct msrc *s, const struct xcni_event *ev, char *text,
				  char *json, size_t len, char pod[340])
{
	__u32 ip = ev->pol_dir == XCNI_DIR_FROM_POD ? ev->saddr : ev->daddr;
	unsigned int n;

	n = xcni_isolating_policies(s->polsel_fd, s->polname_fd, ip, ev->pol_dir, false, text, len);
	xcni_isolating_policies(s->polsel_fd, s->polname_fd, ip, ev->pol_dir, true, json, len);
	if (n)
		strcat(text, n > 1 ? " isolate " : " isolates ");
	if (!pod_of_ip(s->podname_fd, ip, pod, 340))
		xcni_ip4_str(ip, pod);
	return pod;
}

/* ` "name"` for a named ClusterNetworkPolicy rule, "" otherwise. */
static const char *quoted_rule(const struct msrc *s, const struct xcni_event *ev, char *buf,
			       size_t len)
{
	char rn[XCNI_RULENAME_LEN];

	if (!polsync_rule_name(s->rulename_fd, ev->policy_id, ev->pol_dir, ev->rule, rn,
	                       sizeof(rn)))
		return "";
	snprintf(buf, len, " \"%s\"", rn);
	return buf;
}

/* Near misses read the cluster's objects again after this long (a policy fixed
 * meanwhile shows): a list from the API server, or the lab's manifests. */
#define MONITOR_CLUSTER_MS 10000

/*
 * An isolation drop's near misses, as flows and explain name them (one
 * walk, pol_nm_near_misses, which leaves out a denial a rule intends), into
 * buf ("" none): the pod whose side isolated it, the other end by name.
 */
static void event_near_misses(struct msrc *s, const struct xcni_event *ev,
			      const struct evnames *n, char *buf, size_t len)
{
	bool in = ev->pol_dir != XCNI_DIR_FROM_POD;
	const char *self = in ? n->dpod : n->spod, *other = in ? n->spod : n->dpod;
	const struct k8s_pod *sp;
	char key[sizeof(s->nm_key)];

	if (xcni_mono_ms() - s->cc_ms >= MONITOR_CLUSTER_MS) {
		ctl_cluster_close(s->cc);
		s->cc = NULL;
		s->cc_ms = xcni_mono_ms();
		s->nm_key[0] = '\0';
		ctl_cluster_open(&s->c, true, &s->cc);
	}
	snprintf(key, sizeof(key), "%d|%s|%s|%u|%u", in, self, other, ev->proto, ntohs(ev->dport));
	if (s->cc && self[0] && strcmp(key, s->nm_key) && (sp = ctl_cluster_pod(s->cc, self, 0)) &&
	    ctl_near_misses(s->cc, sp, other[0] ? ctl_cluster_pod(s->cc, other, 0) : NULL,
			    in ? NM_INGRESS : NM_EGRESS, ev->proto, ntohs(ev->dport), s->nm_text,
			    sizeof(s->nm_text), NULL) >= 0)
		snprintf(s->nm_key, sizeof(s->nm_key), "%s", key);
	snprintf(buf, len, "%s", strcmp(key, s->nm_key) ? "" : s->nm_text);
}

/* The policy side of an event, said two ways: the -o wide text and the summary's. */
struct evpolicy {
	char text[1200]; /* "deny ingress: x/deny isolates x/b, nothing allows"; "" none */
	char summary[1200]; /* "drop-policy-ingress: isolated by x/deny" */
	char by_json[800]; /* the isolating policies, "x/a,x/b"; "" none */
	char near[1024]; /* an isolation drop's near misses; "" none */
	char reason[48]; /* the reason's name, "reasonN" for one this binary does not know */
};

/* Which rule allowed an event, or that nothing did. */
static void event_policy(struct msrc *s, const struct xcni_event *ev, const struct evnames *n,
			 struct evpolicy *p)
{
	const char *side = ev->pol_dir == XCNI_DIR_FROM_POD ? "egress" : "ingress";
	const struct xcni_reason_info *ri = xcni_reason_info(ev->reason);
	bool tier_drop = (ev->reason == XCNI_DROP_POLICY_ADMIN ||
			  ev->reason == XCNI_DROP_POLICY_BASELINE) && ev->type == XCNI_EV_DROP;
	char name[340], by[800] = "", pod[340], qr[XCNI_RULENAME_LEN + 4], rule[800];

	p->text[0] = p->by_json[0] = '\0';
	snprintf(p->reason, sizeof(p->reason), "reason%d", ev->reason);
	if (ri)
		snprintf(p->reason, sizeof(p->reason), "%s", ri->name);
	snprintf(p->summary, sizeof(p->summary), "%s", p->reason);
	/* The rule that decided: "x/allow rule 0", a named one's name quoted after. */
	if (ev->type == XCNI_EV_VERDICT || tier_drop)
		snprintf(rule, sizeof(rule), "%s rule %u%s",
			 policy_name(s->polname_fd, ev->policy_id, name, sizeof(name)), ev->rule,
			 quoted_rule(s, ev, qr, sizeof(qr)));
	if (ev->type == XCNI_EV_VERDICT && event_verdict(ev) == VOCAB_AUDIT) {
		/* allowed, but a policy in audit mode would have denied it */
		snprintf(p->text, sizeof(p->text), "audit %s: would deny, by %s", side, rule);
		snprintf(p->summary, sizeof(p->summary), "%s: %s would deny", side, rule);
	} else if (ev->type == XCNI_EV_VERDICT && XCNI_POLV_TIER(ev->pol_flags) == XCNI_TIER_DEFAULT) {
		snprintf(p->text, sizeof(p->text), "allow %s: no tier decided (allowed by default)", side);
		snprintf(p->summary, sizeof(p->summary), "%s: no tier decided", side);
	} else if (ev->type == XCNI_EV_VERDICT) {
		snprintf(p->text, sizeof(p->text), "allow %s by %s", side, rule);
		snprintf(p->summary, sizeof(p->summary), "%s by %s", side, rule);
	} else if (tier_drop) {
		snprintf(p->text, sizeof(p->text), "deny %s by %s", side, rule);
		snprintf(p->summary, sizeof(p->summary), "%s: %s", p->reason, rule);
	} else if (flow_drop_verdict(ev->reason) == FLOW_DENIED) {
		/* "deny ingress: x/deny isolates x/b, nothing allows" */
		drop_isolators(s, ev, by, p->by_json, sizeof(by) - 16, pod);
		if (by[0]) {
			snprintf(p->text, sizeof(p->text), "deny %s: %s%s, nothing allows", side, by, pod);
			snprintf(p->summary, sizeof(p->summary), "%s: isolated by %s", p->reason,
				 p->by_json);
			event_near_misses(s, ev, n, p->near, sizeof(p->near));
		} else {
			snprintf(p->text, sizeof(p->text), "deny %s: isolated, nothing allows", side);
		}
	}
}

/* The policy's JSON-only cells (after the text's). */
static void monitor_policy_cells(const struct msrc *s, const struct xcni_event *ev,
				 const struct evpolicy *p)
{
	static const char *const tw[] = { "networkpolicy", "admin", "baseline", "default" };
	struct monitor *m = s->m;
	char name[340], rn[XCNI_RULENAME_LEN];

	pt_str(m->t, p->text[0] ? p->text : NULL);
	pt_uint(m->t, ev->src_identity);
	pt_uint(m->t, ev->dst_identity);
	if (ev->type == XCNI_EV_VERDICT || ev->reason == XCNI_DROP_POLICY_ADMIN ||
	    ev->reason == XCNI_DROP_POLICY_BASELINE) {
		pt_str(m->t, policy_name(s->polname_fd, ev->policy_id, name, sizeof(name)));
		pt_int(m->t, ev->rule);
		pt_str(m->t, polsync_rule_name(s->rulename_fd, ev->policy_id, ev->pol_dir, ev->rule,
		                               rn, sizeof(rn)));
		pt_str(m->t, tw[XCNI_POLV_TIER(ev->pol_flags)]);
	} else {
		pt_nulls(m->t, 4);
	}
	pt_str(m->t, p->by_json[0] ? p->by_json : NULL);
	pt_str(m->t, p->near[0] ? p->near : NULL);
}

/* The Service side of an event: which Service and backend a translated flow got. */
static void monitor_service(struct msrc *s, const struct xcni_event *ev)
{
	struct monitor *m = s->m;
	char fe[80], name[160], be[80], pod[340], text[600];
	struct xcni_svcname n;
	struct xcni_backend b;
	bool named, have_be, have_pod = false;
	size_t tl;

	if (!ev->rev_nat) {
		pt_nulls(m->t, 8); /* the columns below */
		return;
	}
	svcnames_frontend(&s->sn, ev->rev_nat, fe, sizeof(fe));
	named = svcnames_name(&s->sn, ev->rev_nat, &n);
	have_be = svcnames_backend_of(&s->sn, ev->backend_id, &b);
	if (have_be) {
		svc_addr_str(b.family, b.addr, b.port, be, sizeof(be));
		if (b.family == XCNI_AF_INET) {
			__u32 ip;

			memcpy(&ip, b.addr, 4);
			have_pod = s->podname_fd >= 0 && pod_of_ip(s->podname_fd, ip, pod, sizeof(pod));
		}
	} else if (ev->backend_id) {
		snprintf(be, sizeof(be), "backend#%u", ev->backend_id); /* gone since */
	}
	tl = (size_t)snprintf(text, sizeof(text), "svc %s %s/%s",
			      named ? svcname_str(&n, true, name, sizeof(name)) : "?", fe,
			      proto_name(ev->proto) ?: "?");
	if (tl < sizeof(text)) {
		if (!ev->backend_id)
			snprintf(text + tl, sizeof(text) - tl, ": no backend");
		else
			snprintf(text + tl, sizeof(text) - tl, " -> backend %s%s%s",
				 have_pod ? pod : "", have_pod ? " " : "", be);
	}
	pt_str(m->t, text);
	pt_str(m->t, named ? svcname_str(&n, false, name, sizeof(name)) : NULL);
	pt_field(m->t, named ? n.port : "", sizeof(n.port));
	pt_strf(m->t, "%s/%s", fe, proto_name(ev->proto) ?: "?");
	pt_uint(m->t, ev->rev_nat);
	if (ev->backend_id) {
		pt_uint(m->t, ev->backend_id);
		pt_str(m->t, have_be ? be : NULL);
	} else {
		pt_nulls(m->t, 2);
	}
	pt_str(m->t, have_pod ? pod : NULL);
}

/*
 * The local pod's endpoint: the event's; for one the program sent before
 * it knew it (from the overlay: ep_id 0), the endpoints map's entry of the
 * end that lives here (the destination first for a packet coming in).
 */
static __u32 event_ep(const struct msrc *s, const struct xcni_event *ev, const struct evnames *n)
{
	bool in = ev->dir == XCNI_DIR_FROM_OVERLAY || ev->dir == XCNI_DIR_TO_POD;
	const __u8 *ends[2] = { in ? n->daddr : n->saddr, in ? n->saddr : n->daddr };
	struct xcni_endpoint ep;

	if (ev->ep_id)
		return ev->ep_id;
	for (int i = 0; i < 2; i++) {
		struct xcni_in6 k6;
		__u32 k4;
		int fd = n->v6 ? s->k6.endpoints6 : s->ep_fd;

		if (n->v6)
			memcpy(k6.addr, ends[i], 16);
		else
			memcpy(&k4, ends[i], 4);
		if (fd >= 0 && !bpf_map_lookup_elem(fd, n->v6 ? (void *)&k6 : (void *)&k4, &ep))
			return ep.ep_id;
	}
	return 0;
}

/* An end for the default text: NS/POD:PORT (a pod), else its address, as SRC/DST say it. */
static void end_str(const char *pod, bool v6, const __u8 *addr, __u8 proto, __u16 port, char *buf,
		    size_t len)
{
	char a[340];
	bool ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
	bool icmp = proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;

	if (pod[0]) {
		snprintf(a, sizeof(a), "%.*s", (int)sizeof(a) - 1, pod);
	} else {
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(v6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
		snprintf(a, sizeof(a), v6 && ports ? "[%s]" : "%s", ip);
	}
	if (ports)
		snprintf(buf, len, "%s:%u", a, ntohs(port));
	else if (icmp && !v6)
		snprintf(buf, len, "%s:id=%u", a, ntohs(port));
	else
		snprintf(buf, len, "%s", a);
}

/* An event's time cells: the default text's (to the millisecond), whole, in ns. */
static void time_cells(struct monitor *m, __u64 ts_ns)
{
	char when[48];
	const char *t;

	if (m->c->time_mono) {
		snprintf(when, sizeof(when), "%llu.%06llu", (unsigned long long)(ts_ns / 1000000000ULL),
			 (unsigned long long)(ts_ns % 1000000000ULL / 1000));
		/* The default text to the millisecond. */
		pt_strf(m->t, "%.*s", (int)(strlen(when) - 3), when);
	} else {
		xcni_rfc3339_fmt((int64_t)ts_ns + m->wall_off_ns, 6, when, sizeof(when));
		/* "2026-11-26T03:04:05.123456Z": the time of day, to the millisecond. */
		t = strchr(when, 'T');
		pt_strf(m->t, "%.12s", t ? t + 1 : when);
	}
	pt_str(m->t, when);
	pt_uint(m->t, ts_ns);
}

static int on_event(void *arg, void *data, size_t len)
{
	struct msrc *s = arg;
	struct monitor *m = s->m;
	struct xcni_event6 ev6 = {};
	const struct xcni_event *ev = &ev6.ev;
	struct evnames n = {};
	struct evpolicy *p;
	char se[400], de[400];
	/* An IPv6 packet's record: the IPv4 one with the IPv6 addresses after it. */
	bool v6 = len >= sizeof(struct xcni_event6);
	__u8 fam = v6 ? XCNI_AF_INET6 : XCNI_AF_INET;

	/* Programs from before the Service fields write the shorter record, whose
	 * last two bytes (a pad then) are rev_nat's, always 0. */
	_Static_assert(offsetof(struct xcni_event, backend_id) == XCNI_EVENT_LEN_V1,
		       "the first record's fields keep their places");
	if (len < XCNI_EVENT_LEN_V1)
		return 0;
	memcpy(&ev6, data, len < sizeof(ev6) ? len : sizeof(ev6));
	if (ev->ts_ns < m->since_ns)
		return 0;
	/* A batch of the ring goes on past a callback's non-zero: none after the count. */
	if (m->c->count && m->seen >= m->c->count)
		return 1;
	n.v6 = v6;
	n.saddr = v6 ? ev6.saddr6 : (const __u8 *)&ev->saddr;
	n.daddr = v6 ? ev6.daddr6 : (const __u8 *)&ev->daddr;
	pod_name(s, v6, n.saddr, n.spod, sizeof(n.spod));
	pod_name(s, v6, n.daddr, n.dpod, sizeof(n.dpod));
	if (ev->rev_nat) {
		struct xcni_svcname sn;

		if (svcnames_name(&s->sn, ev->rev_nat, &sn))
			svcname_str(&sn, true, n.svc, sizeof(n.svc));
	}
	if (!monitor_match(s, ev, &n))
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	event_policy(s, ev, &n, p);
	if (n.svc[0] || ev->rev_nat)
		ctl_catf(p->summary, sizeof(p->summary), " svc %s%s", n.svc[0] ? n.svc : "?",
			 ev->backend_id ? "" : ": no backend");
	if (m->multi)
		pt_str(m->t, s->node);
	time_cells(m, ev->ts_ns);
	end_str(n.spod, v6, n.saddr, ev->proto, ev->sport, se, sizeof(se));
	end_str(n.dpod, v6, n.daddr, ev->proto, ev->dport, de, sizeof(de));
	if (strlen(se) > m->src_w)
		m->src_w = strlen(se);
	if (strlen(de) > m->dst_w)
		m->dst_w = strlen(de);
	pt_str(m->t, se);
	pt_str(m->t, de);
	pt_str(m->t, flow_verdict_name(event_verdict(ev)));
	pt_str(m->t, p->summary);
	pt_str(m->t, p->reason);
	pt_int(m->t, ev->reason);
	pt_str(m->t, xcni_dir_name(ev->dir));
	pt_uint(m->t, event_ep(s, ev, &n));
	pt_uint(m->t, ev->ifindex);
	pt_proto(m->t, ev->proto);
	pt_end(m->t, fam, ev->proto, n.saddr, ev->sport);
	pt_end(m->t, fam, ev->proto, n.daddr, ev->dport);
	pt_ip(m->t, fam, n.saddr);
	pt_uint(m->t, ntohs(ev->sport));
	pt_ip(m->t, fam, n.daddr);
	pt_uint(m->t, ntohs(ev->dport));
	pt_str(m->t, n.spod[0] ? n.spod : NULL);
	pt_str(m->t, n.dpod[0] ? n.dpod : NULL);
	pt_uint(m->t, ev->len);
	pt_name(m->t, event_type_name(ev->type), "%u", ev->type);
	monitor_policy_cells(s, ev, p);
	monitor_service(s, ev);
	m->err = pt_flush_fmt(m->t, stdout, m->c->out);
	/* Under the row, wrapped, whole (-o wide: the NEAR_MISSES column). */
	if (!m->err && m->c->out == PT_TEXT)
		flow_near_miss_lines(stdout, p->near, 5, FLOWS_TEXT_COLS);
	free(p);
	fflush(stdout);
	m->seen++;
	/* Non-zero ends ring_buffer__poll(): the count is reached or output failed. */
	return m->err ? m->err : (m->c->count && m->seen >= m->c->count);
}

/* xcnid --flows's event stream for this node (flows.h, struct flows_evmsg): the
 * connected socket, or -1 where there is none (no --flows: read the ring). */
static int subscribe(const struct ctl_ctx *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char sock[108];
	int fd;

	if (flows_sock_path(c->pin_dir, sock, sizeof(sock)) ||
	    flows_events_path(sock, sa.sun_path, sizeof(sa.sun_path)) || access(sa.sun_path, F_OK))
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		/* A socket left by an agent that is gone: the ring has no other reader. */
		close(fd);
		return -1;
	}
	return fd;
}

/* What a node's stream holds now, each record through on_event. 0, 1 (stop:
 * the count reached or output failed), or -errno (the agent went away: -ECONNRESET). */
static int sub_drain(struct msrc *s)
{
	unsigned char buf[sizeof(struct flows_evmsg) + FLOWS_EVMSG_MAX];
	struct flows_evmsg h;
	ssize_t n;

	for (;;) {
		n = recv(s->sub, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0) {
			pr_warn("%s%sxcnid's event stream ended (the agent stopped): reading the ring\n",
				s->node, s->node[0] ? ": " : "");
			return -ECONNRESET;
		}
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.lost)
			pr_warn("%s%s%u events lost before this one (monitor read too slowly)\n",
				s->node, s->node[0] ? ": " : "", h.lost);
		if (h.len > (size_t)n - sizeof(h))
			continue;
		if (on_event(s, buf + sizeof(h), h.len))
			return 1;
	}
}

/* A node's ring, read here: added to the one ring_buffer of every node's. 0 or -errno (said). */
static int ring_add(struct monitor *m, struct msrc *s)
{
	int err;

	s->ring_fd = map_open(&s->c, &m_events);
	if (s->ring_fd < 0)
		return s->ring_fd;
	if (!m->rb) {
		m->rb = ring_buffer__new(s->ring_fd, on_event, s, NULL);
		err = m->rb ? 0 : -errno;
	} else {
		err = ring_buffer__add(m->rb, s->ring_fd, on_event, s);
	}
	if (err)
		pr_err("%s%s%s: %s\n", s->node, s->node[0] ? ": " : "", m_events.name, strerror(-err));
	return err;
}

/* A node's maps and its events (xcnid's stream, else its ring). 0 or -errno (said). */
static int msrc_open(struct monitor *m, struct msrc *s)
{
	s->m = m;
	s->c.pin_dir = s->pin;
	s->polname_fd = map_open_quiet(&s->c, &m_polname);
	s->polsel_fd = map_open_quiet(&s->c, &m_polsel);
	s->rulename_fd = map_open_quiet(&s->c, &m_rulename);
	s->podname_fd = map_open_quiet(&s->c, &m_podname);
	s->ep_fd = map_open_quiet(&s->c, &m_endpoints);
	polsync_key6_open(&s->k6, s->pin, ctl_map_open);
	s->identity_fd = m->has_ff ? map_open_quiet(&s->c, &m_identity) : -1;
	svcnames_open(&s->c, &s->sn);
	/* The ring has one reader position: where xcnid --flows reads it, the
	 * events come from xcnid (every record it reads, passed on), not the ring. */
	s->sub = subscribe(&s->c);
	return s->sub >= 0 ? 0 : ring_add(m, s);
}

static void msrc_close(struct msrc *s)
{
	for (int *p = (int[]){ s->polname_fd, s->polsel_fd, s->podname_fd, s->rulename_fd,
			       s->ep_fd, s->identity_fd, s->sub, s->ring_fd, -2 };
	     *p != -2; p++)
		xcni_close(&*p);
	polsync_key6_close(&s->k6);
	svcnames_close(&s->sn);
	ctl_cluster_close(s->cc);
}

/* The nodes to read: this one (c's pin dir), or with --node all every lab node. 0 or -errno. */
static int monitor_nodes(struct monitor *m)
{
	static struct ctl_lab_node ln[CTL_EXPLAIN_MAX_NODES + 1];
	size_t n = 1;
	int err;

	if (m->c->node_all) {
		err = ctl_lab_nodes("all", ln, ARRAY_SIZE(ln), &n);
		if (err)
			return err;
		if (n > CTL_EXPLAIN_MAX_NODES)
			return pr_err_ret(-EINVAL, "--node all: the lab has more than %d nodes, "
					  "more than monitor reads at once\n",
					  CTL_EXPLAIN_MAX_NODES);
	}
	m->src = calloc(n, sizeof(*m->src));
	if (!m->src)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct msrc *s = &m->src[i];

		s->c = *m->c;
		s->sub = s->ring_fd = -1;
		if (m->c->node_all) {
			snprintf(s->node, sizeof(s->node), "%.63s", ln[i].name);
			snprintf(s->pin, sizeof(s->pin), "%.*s", PATH_MAX - 1, ln[i].pin);
			if (strlen(s->node) > m->node_w)
				m->node_w = strlen(s->node);
		} else {
			snprintf(s->pin, sizeof(s->pin), "%s", m->c->pin_dir);
		}
		m->nsrc = i + 1;
		err = msrc_open(m, s);
		if (err)
			return err;
	}
	m->multi = m->c->node_all;
	if (m->node_w < sizeof("NODE") - 1)
		m->node_w = sizeof("NODE") - 1;
	return 0;
}

/* One wait for events on every node, then what they hold. 0, 1 (stop), or -errno. */
static int monitor_poll(struct monitor *m, int timeout_ms)
{
	struct pollfd pf[CTL_EXPLAIN_MAX_NODES + 1];
	nfds_t np = 0;
	int r;

	for (size_t i = 0; i < m->nsrc; i++)
		if (m->src[i].sub >= 0)
			pf[np++] = (struct pollfd){ .fd = m->src[i].sub, .events = POLLIN };
	if (m->rb)
		pf[np++] = (struct pollfd){ .fd = ring_buffer__epoll_fd(m->rb), .events = POLLIN };
	r = poll(pf, np, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (size_t i = 0; i < m->nsrc; i++) {
		struct msrc *s = &m->src[i];

		if (s->sub < 0)
			continue;
		r = sub_drain(s);
		if (r == -ECONNRESET) {
			/* The agent stopped: the ring has no reader but this one now. */
			close(s->sub);
			s->sub = -1;
			r = ring_add(m, s);
		}
		if (r)
			return r;
	}
	if (m->rb) {
		r = ring_buffer__consume(m->rb);
		if (r < 0 && r != -EINTR)
			return r;
		if (m->err || (m->c->count && m->seen >= m->c->count))
			return 1;
	}
	return 0;
}

static int cmd_monitor(const struct ctl_ctx *c, char **argv)
{
	struct monitor m = { .c = c, .src_w = MONITOR_END_W, .dst_w = MONITOR_END_W };
	unsigned int skip;
	__u64 deadline = 0;
	char e[300];
	int err = 0;

	(void)argv;
	flow_filter_init(&m.ff);
	/* Names are resolved before the stream starts: an unknown pod is an
	 * error now, not a monitor that silently shows nothing. With --node
	 * all, by the first node's maps (podname and the ipcache are the cluster's). */
	if (c->node_all) {
		static struct ctl_lab_node first[CTL_EXPLAIN_MAX_NODES + 1];
		static struct ctl_ctx fc;
		size_t n;

		err = ctl_lab_nodes("all", first, ARRAY_SIZE(first), &n);
		if (err)
			return err;
		fc = *c;
		fc.pin_dir = first[0].pin;
		err = filter_open(&fc, &m.f, 0);
	} else {
		err = filter_open(c, &m.f, 0);
	}
	if (err)
		return err;
	if (c->flow_reqlen) {
		/* Checked when parsed: the same text parses again. */
		if (flow_filter_parse(&m.ff, c->flow_req, e, sizeof(e))) {
			err = pr_err_ret(-EINVAL, "%s\n", e);
			goto out;
		}
		m.has_ff = true;
	}
	m.since_ns = xcni_mono_ns();
	/* The events' clock is CLOCK_MONOTONIC: shown as the wall clock, UTC. */
	m.wall_off_ns = xcni_wall_off_ns(m.since_ns);
	err = monitor_nodes(&m);
	if (err)
		goto out;
	skip = m.multi ? 0 : 1;
	m.t = pt_new(event_cols + skip, ARRAY_SIZE(event_cols) - skip, 0);
	if (!m.t) {
		err = -ENOMEM;
		goto out;
	}
	event_widths(m.t, skip, m.node_w);
	if (c->opts & OPT_TIMEOUT)
		deadline = xcni_mono_ns() + (__u64)c->timeout_ms * 1000000ULL;
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	/* Short polls, so a signal or the deadline ends the stream promptly. */
	while (!monitor_stop && (!deadline || xcni_mono_ns() < deadline)) {
		err = monitor_poll(&m, 100);
		if (err)
			break;
	}
	if (m.err)
		err = m.err;
	if (err < 0)
		pr_err("%s: %s\n", m_events.name, strerror(-err));
	else
		err = 0;
out:
	ring_buffer__free(m.rb);
	pt_free(m.t);
	for (size_t i = 0; i < m.nsrc; i++)
		msrc_close(&m.src[i]);
	free(m.src);
	filter_close(&m.f);
	flow_filter_free(&m.ff);
	return err;
}

const struct cmd monitor_cmds[] = {
	{ "monitor", NULL, cmd_monitor, 0,
	  OPT_COUNT | OPT_TIMEOUT | OPT_FILTERS | OPT_REASON | OPT_VERDICT | OPT_TYPE | OPT_TIME |
		  OPT_FLOWF,
	  "[--count N] [--timeout-ms MS] [--time rfc3339|mono] [filters]",
	  "Stream drop, policy verdict and trace events as the data plane reports them.\n\n"
	  "The data plane emits them whether watched or not: the filters run here.", NULL },
	{}
};
