// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl explain, a flow to a Service: the translation from_pod makes (lb.h,
 * lb.h: frontend, conntrack, affinity, Maglev), then the policy verdict of
 * the flow to each backend it may get, as explain.c walks it.
 */
#include "ctl/explain.h"

/* The entry lb_frontend() finds for traffic from a pod: INT when the scopes differ. */
static bool svc_frontend(const struct svc_view *v, struct xcni_svc_key *k, struct xcni_svc *out)
{
	struct xcni_svc_key ik;

	k->scope = XCNI_SCOPE_EXT;
	if (bpf_map_lookup_elem(v->svc, k, out))
		return false;
	if (!(out->flags & XCNI_SVC_F_TWO_SCOPES))
		return true;
	ik = *k;
	ik.scope = XCNI_SCOPE_INT;
	if (!bpf_map_lookup_elem(v->svc, &ik, out))
		*k = ik;
	else
		bpf_map_lookup_elem(v->svc, k, out);
	return true;
}

/* Maglev's pick for the flow's hash, as lb_pick_h() makes it; 0 when no table. */
static __u32 maglev_pick(const struct svc_view *v, const struct xcni_svc *s, __u32 hash)
{
	__u32 key = xcni_maglev_key(s->id, s->version), inner, idx = hash % XCNI_MAGLEV_M, id = 0;
	int fd;

	if (v->maglev < 0 || bpf_map_lookup_elem(v->maglev, &key, &inner))
		return 0;
	fd = bpf_map_get_fd_by_id(inner);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &idx, &id))
		id = 0;
	close(fd);
	return id;
}

/* How a new flow from src gets its backend, and which when it is known. */
struct svc_choice {
	__u32 *ids; /* the backends new flows may use: lb_pick_h's slots */
	size_t n;
	bool terminating; /* no active backend: the terminating ones serve */
	__u32 chosen; /* 0: not determined here */
	char how[300];
};

/* The backends new flows may use (lb_pick_h's slots): the active ones, else the terminating. */
static int svc_slots(const struct svc_view *v, const struct xcni_svc *s, struct svc_choice *ch)
{
	size_t all;

	memset(ch, 0, sizeof(*ch));
	ch->ids = svc_slot_ids(v->slot, s, &all);
	ch->n = s->count ?: s->count_term;
	ch->terminating = !s->count && s->count_term;
	return ch->ids ? 0 : -ENOMEM;
}

/* A flow already open keeps its backend (the service entry in conntrack). */
static bool choose_open(const struct ctl_ctx *c, const struct svc_view *v,
			const struct xcni_svc_key *k, const __u32 *saddr, const __u32 *daddr,
			struct svc_choice *ch)
{
	bool v6 = k->family == XCNI_AF_INET6;
	struct xcni_ct_key ck = { .saddr = saddr[0], .daddr = daddr[0],
				  .sport = htons(c->sport), .dport = k->port, .proto = k->proto };
	struct xcni_ct6_key ck6 = { .sport = htons(c->sport), .dport = k->port,
				    .proto = k->proto };
	struct xcni_ct_entry e;
	struct xcni_backend b;

	if (!(c->opts & OPT_SPORT) || (v6 ? v->ct6 : v->ct) < 0)
		return false;
	memcpy(ck6.saddr, saddr, 16);
	memcpy(ck6.daddr, daddr, 16);
	if (bpf_map_lookup_elem(v6 ? v->ct6 : v->ct, v6 ? (void *)&ck6 : (void *)&ck, &e) ||
	    !(e.flags & XCNI_CT_F_SVC) ||
	    xcni_mono_ns() - e.last_ns > xcni_ct_lifetime(e.state, k->proto) ||
	    bpf_map_lookup_elem(v->be, &e.backend_id, &b))
		return false;
	ch->chosen = e.backend_id;
	snprintf(ch->how, sizeof(ch->how), "this flow (source port %u) is open: it "
		 "keeps backend %u (its service entry in conntrack)", c->sport, e.backend_id);
	return true;
}

/* Session affinity (ClientIP): the client's backend while it is fresh. a: the client. */
static bool choose_affinity(const struct svc_view *v, const struct xcni_svc_key *k,
			    const struct xcni_svc *s, const __u32 *saddr, const char *a,
			    struct svc_choice *ch)
{
	struct xcni_affinity_key ak = { .svc_id = s->id, .family = k->family };
	struct xcni_affinity af;
	struct xcni_backend b;
	__u64 now = xcni_mono_ns();

	if (!(s->flags & XCNI_SVC_F_AFFINITY) || v->affinity < 0)
		return false;
	memcpy(ak.client, saddr, k->family == XCNI_AF_INET6 ? 16 : 4);
	if (bpf_map_lookup_elem(v->affinity, &ak, &af) ||
	    !(now <= af.last_ns || now - af.last_ns <= (__u64)s->affinity_s * 1000000000ULL) ||
	    bpf_map_lookup_elem(v->be, &af.backend_id, &b) ||
	    !(b.state == XCNI_BE_ACTIVE || !s->count))
		return false;
	ch->chosen = af.backend_id;
	snprintf(ch->how, sizeof(ch->how), "session affinity (ClientIP): %s used "
		 "backend %u %llu s ago, within the %u s timeout", a, af.backend_id,
		 (unsigned long long)(now > af.last_ns ? (now - af.last_ns) / 1000000000ULL : 0),
		 s->affinity_s);
	return true;
}

/*
 * lb_select_h's choice for a new flow from src (either family: lb.h's and
 * lb.h's choose alike, over their family's tuple, conntrack and affinity key).
 */
static int svc_choose(const struct ctl_ctx *c, const struct svc_view *v,
		      const struct xcni_svc_key *k, const struct xcni_svc *s,
		      const struct flow_end *src, struct svc_choice *ch)
{
	bool v6 = k->family == XCNI_AF_INET6;
	const char *aff = s->flags & XCNI_SVC_F_AFFINITY ?
			  ", then remembered for the client (affinity)" : "";
	__u32 saddr[4] = {}, daddr[4] = {};
	char a[INET6_ADDRSTRLEN];
	int err = svc_slots(v, s, ch);

	if (err)
		return err;
	if (!ch->n) {
		snprintf(ch->how, sizeof(ch->how), "none: no backend new flows may use, the "
			 "connection is refused (TCP RST, ICMP%s port unreachable: drop-no-backend)",
			 v6 ? "v6" : "");
		return 0;
	}
	/* The words as they lie in memory: xcni_lb_hash mixes them so. */
	if (v6)
		memcpy(saddr, src->ip6, 16);
	else
		saddr[0] = src->ip;
	memcpy(daddr, k->addr, v6 ? 16 : 4);
	if (v6)
		inet_ntop(AF_INET6, src->ip6, a, sizeof(a));
	else
		xcni_ip4_str(src->ip, a);
	if (choose_open(c, v, k, saddr, daddr, ch) || choose_affinity(v, k, s, saddr, a, ch))
		return 0;
	if ((s->flags & XCNI_SVC_F_MAGLEV) && (c->opts & OPT_SPORT)) {
		__u32 h = xcni_lb_hash(v6 ? XCNI_AF_INET6 : XCNI_AF_INET, saddr, daddr,
				       htons(c->sport), k->port, k->proto);

		ch->chosen = maglev_pick(v, s, h);
		if (ch->chosen) {
			snprintf(ch->how, sizeof(ch->how), "Maglev: the flow's hash (source port %u) "
				 "is entry %u of the table, backend %u%s", c->sport,
				 h % XCNI_MAGLEV_M, ch->chosen, aff);
			return 0;
		}
	}
	if (s->flags & XCNI_SVC_F_MAGLEV)
		snprintf(ch->how, sizeof(ch->how), "one of %zu, by Maglev table over the flow's "
			 "hash (--sport PORT says which for one source port)%s", ch->n, aff);
	else
		snprintf(ch->how, sizeof(ch->how), "one of %zu, at random%s", ch->n, aff);
	return 0;
}

static const struct pt_col explain_svc_cols[] = {
	{ "SRC", NULL, PT_STR },
	{ NULL, "src", PT_STR },
	{ NULL, "src_ip", PT_STR },
	{ NULL, "src_identity", PT_UINT },
	{ NULL, "src_node", PT_STR },
	{ "SERVICE", NULL, PT_STR },
	{ NULL, "service", PT_STR },
	{ NULL, "port_name", PT_STR },
	{ "FRONTEND", "frontend", PT_STR },
	{ "SCOPE", "scope", PT_STR },
	{ "SERVICE-ID", "service_id", PT_UINT },
	/* random, maglev; affinity=Ns beside either */
	{ "ALGORITHM", "algorithm", PT_STR },
	{ "BACKENDS", NULL, PT_STR },
	{ NULL, "active", PT_UINT },
	{ NULL, "terminating", PT_UINT },
	{ "CHOICE", "choice", PT_STR },
	{ NULL, "chosen_backend_id", PT_UINT },
	/* How the backend's reply gets back to the client (reply_path). */
	{ "REPLY", "reply", PT_STR },
	/* snat or dsr: the node's --node-port-mode (from_overlay's lb_dsr); null unknown */
	{ NULL, "node_port_mode", PT_STR },
	{ "VERDICT", NULL, PT_STR },
	/* refused (no backend), allowed, denied, unknown, or depends (on the backend) */
	{ NULL, "verdict", PT_STR },
};

/*
 * How the replies of the flow get back to its client: a pod's through its own
 * node, which undoes the DNAT; a client from outside (the NodePort, externalIP
 * or load-balancer IP path, from_overlay's) through this node when the backend
 * is here, else as the node's --node-port-mode says (nodeport.h): SNAT
 * to this node's address, so the reply comes back through it, or DSR, the
 * backend's node answering the client itself. nlocal, nremote: the backends the
 * flow may get on this node and on others (rnode: one of the latter's node,
 * by name or underlay address).
 */
static const char *reply_path(const struct flow *f0, int mode_err, bool dsr, size_t nlocal,
			      size_t nremote, const char *rnode, char *buf, size_t len)
{
	char remote[200];

	if (!nlocal && !nremote)
		return NULL;
	if (f0->src.is_pod)
		return "through the client pod's node, whose conntrack undoes the DNAT";
	if (mode_err)
		snprintf(remote, sizeof(remote), "unknown: this node's --node-port-mode (no underlay "
						 "attachment to read it from)");
	else if (dsr)
		snprintf(remote, sizeof(remote), "DSR: the backend's node%s%s%s answers the client "
						 "itself, the client's address kept (--node-port-mode dsr)",
			 rnode[0] ? " (" : "", rnode, rnode[0] ? ")" : "");
	else
		snprintf(remote, sizeof(remote), "SNAT: the request leaves with this node's address, "
						 "the reply comes back through this node (--node-port-mode snat)");
	if (!nremote)
		snprintf(buf, len, "the backend is on this node: the client's address kept, the "
				   "reply leaves through this node");
	else if (!nlocal)
		snprintf(buf, len, "%s", remote);
	else
		snprintf(buf, len, "depends on the backend: on this node, through it; on another, %s",
			 remote);
	return buf;
}

/* The policy verdict of the flow to each backend it may get, and where they are. */
struct svc_judged {
	struct ptable **rec; /* the walk to each backend; NULL: missing */
	const char **verdicts;
	struct xcni_backend *bes;
	size_t nallow, ndeny, nlocal, nremote; /* of the backends this flow may get */
	char rnode[64]; /* a remote one's node, by name or underlay address */
};

static void svc_judged_free(struct svc_judged *j, size_t n)
{
	for (size_t i = 0; j->rec && i < n; i++)
		pt_free(j->rec[i]);
	free(j->rec);
	free(j->verdicts);
	free(j->bes);
}

/* Each backend new flows may use: the flow as policy sees it, after the DNAT. */
static int svc_judge(const struct node_maps *sm,
		     const struct node_maps *dm, const struct svc_view *v, const struct flow *f0,
		     const struct xcni_svc_key *k, const struct svc_choice *ch, struct svc_judged *j)
{
	int err;

	j->rec = calloc(ch->n ? ch->n : 1, sizeof(*j->rec));
	j->verdicts = calloc(ch->n ? ch->n : 1, sizeof(*j->verdicts));
	j->bes = calloc(ch->n ? ch->n : 1, sizeof(*j->bes));
	if (!j->rec || !j->verdicts || !j->bes)
		return -ENOMEM;
	for (size_t i = 0; i < ch->n; i++) {
		struct flow f = *f0;
		char a[INET6_ADDRSTRLEN];

		/* The translation keeps the family: lb6 drops a backend of the other. */
		if (!ch->ids[i] || bpf_map_lookup_elem(v->be, &ch->ids[i], &j->bes[i]) ||
		    j->bes[i].family != k->family) {
			j->verdicts[i] = "unknown";
			continue;
		}
		memset(&f.dst, 0, sizeof(f.dst));
		f.port = ntohs(j->bes[i].port);
		inet_ntop(k->family == XCNI_AF_INET6 ? AF_INET6 : AF_INET, j->bes[i].addr, a, sizeof(a));
		if ((err = explain_end_resolve(sm, dm, a, k->family == XCNI_AF_INET6, &f.dst)) ||
		    (err = explain_flow(sm, explain_maps_of(sm, f.dst.node, dm), &f, &j->rec[i],
					&j->verdicts[i])))
			return err;
		if (!ch->chosen || ch->chosen == ch->ids[i]) {
			/* Behind a tunnel of either family: on another node (rnode:
			 * the first one's name, else its underlay address). */
			char tn[64];
			bool remote = explain_tunnel_of(sm, &f.dst.ipc, a, tn, sizeof(tn));

			j->nallow += flow_verdict_parse(j->verdicts[i]) == FLOW_ALLOWED;
			j->ndeny += flow_verdict_parse(j->verdicts[i]) == FLOW_DENIED;
			j->nlocal += !remote;
			j->nremote += remote;
			if (remote && !j->rnode[0])
				snprintf(j->rnode, sizeof(j->rnode), "%s",
					 f.dst.node[0] ? f.dst.node : tn[0] ? tn : a);
		}
	}
	return 0;
}

/* The VERDICT column over every backend the flow may get; the verdict word returned. */
static const char *svc_verdict(struct ptable *t, const struct svc_choice *ch,
			       const struct svc_judged *j)
{
	const char *verdict;
	size_t i;

	if (!ch->n) {
		/* flows' and monitor's word for its drop: a policy refused nothing here. */
		pt_str(t, "no-backend: Service backend not found (drop-no-backend)");
		return flow_verdict_name(FLOW_NO_BACKEND);
	}
	if (ch->chosen) {
		for (i = 0; i < ch->n && ch->ids[i] != ch->chosen; i++)
			;
		verdict = i < ch->n ? j->verdicts[i] : "unknown";
		pt_strf(t, "%s: the flow gets backend %u", verdict, ch->chosen);
	} else if (j->nallow == ch->n || j->ndeny == ch->n) {
		verdict = flow_verdict_name(j->nallow == ch->n ? FLOW_ALLOWED : FLOW_DENIED);
		pt_strf(t, "%s: by every backend it may get", verdict);
	} else if (j->nallow || j->ndeny) {
		verdict = "depends";
		pt_strf(t, "depends on the backend: %zu of %zu allow, %zu deny", j->nallow, ch->n,
			j->ndeny);
	} else {
		verdict = "unknown";
		pt_str(t, "unknown: decided on the backends' nodes");
	}
	return verdict;
}

/* The Service's record: the translation, the choice, the reply path, the verdict. */
static struct ptable *svc_table(const struct svc_view *v, const struct flow *f0,
				const struct xcni_svc_key *k, const struct xcni_svc *s,
				const struct svc_choice *ch, const struct svc_judged *j,
				const char *dir)
{
	struct ptable *t = pt_new(explain_svc_cols, ARRAY_SIZE(explain_svc_cols), PT_RECORD);
	char buf[200], alg[64], reply[320];
	struct xcni_svcname n;
	bool named, dsr = false;
	int mode_err = ctl_node_port_dsr(dir, &dsr);

	explain_end_row(t, &f0->src);
	named = v->name >= 0 && !bpf_map_lookup_elem(v->name, &s->id, &n) && n.name[0];
	pt_str(t, named ? svcname_str(&n, true, buf, sizeof(buf)) : NULL);
	pt_str(t, named ? svcname_str(&n, false, buf, sizeof(buf)) : NULL);
	pt_field(t, named ? n.port : "", sizeof(n.port));
	svc_addr_str(k->family, k->addr, k->port, buf, sizeof(buf));
	pt_strf(t, "%s/%s", buf, proto_name(k->proto) ?: "?");
	pt_str(t, k->scope == XCNI_SCOPE_INT ? "int" : "ext");
	pt_uint(t, s->id);
	snprintf(alg, sizeof(alg), "%s", s->flags & XCNI_SVC_F_MAGLEV ? "maglev" : "random");
	if (s->flags & XCNI_SVC_F_AFFINITY)
		snprintf(alg + strlen(alg), sizeof(alg) - strlen(alg), ",affinity=%us", s->affinity_s);
	pt_str(t, alg);
	pt_strf(t, "%u active, %u terminating%s", s->count, s->count_term,
		!s->count && s->count_term ? " (no active one: the terminating ones serve)" :
		s->count && s->count_term ? " (unused while an active one is left)" : "");
	pt_uint(t, s->count);
	pt_uint(t, s->count_term);
	pt_str(t, ch->how);
	pt_uint_if(t, ch->chosen, ch->chosen);
	pt_str(t, reply_path(f0, mode_err, dsr, j->nlocal, j->nremote, j->rnode, reply,
			     sizeof(reply)));
	pt_str(t, mode_err ? NULL : dsr ? "dsr" : "snat");
	pt_str(t, svc_verdict(t, ch, j));
	return t;
}

/* Text: the record, then each backend's walk. Frees t and the walks shown. */
static int svc_print_text(const struct ctl_ctx *c, struct ptable *t, const struct svc_choice *ch,
			  struct svc_judged *j)
{
	char buf[200];
	int err = show(c, t);

	if (err)
		return err;
	for (size_t i = 0; i < ch->n; i++) {
		printf("\nbackend %u %s%s\n", ch->ids[i],
		       j->rec[i] ? svc_addr_str(j->bes[i].family, j->bes[i].addr, j->bes[i].port,
						buf, sizeof(buf)) : "(missing)",
		       ch->chosen == ch->ids[i] ? " (this flow's)" : "");
		if (j->rec[i] && (err = show(c, j->rec[i]))) {
			j->rec[i] = NULL;
			return err;
		}
		j->rec[i] = NULL;
	}
	return 0;
}

/* JSON: the record's object with "backends", each with its walk as "policy". */
static int svc_print_json(struct ptable *t, const struct svc_choice *ch,
			  const struct svc_judged *j)
{
	char buf[200], *tj, *rj;
	int err = 0;

	tj = pt_json_string(t, &err);
	if (!tj)
		return err;
	tj[strlen(tj) - 1] = 0; /* the object, open for its backends */
	printf("%s,\"backends\":[", tj);
	free(tj);
	for (size_t i = 0; i < ch->n; i++) {
		printf("%s{\"id\":%u,\"backend\":", i ? "," : "", ch->ids[i]);
		if (j->rec[i])
			printf("\"%s\",", svc_addr_str(j->bes[i].family, j->bes[i].addr,
						       j->bes[i].port, buf, sizeof(buf)));
		else
			printf("null,");
		printf("\"state\":\"%s\",\"chosen\":%s,\"verdict\":\"%s\",\"policy\":",
		       !j->rec[i] ? "missing" : j->bes[i].state == XCNI_BE_ACTIVE ? "active" :
		       "terminating", ch->chosen == ch->ids[i] ? "true" : "false", j->verdicts[i]);
		if (j->rec[i] && (rj = pt_json_string(j->rec[i], &err))) {
			printf("%s}", rj);
			free(rj);
		} else if (j->rec[i]) {
			return err;
		} else {
			printf("null}");
		}
	}
	if (puts("]}") == EOF || fflush(stdout))
		return -EIO;
	return 0;
}

/*
 * explain SRC svc/NS/NAME PORT/PROTO (or SRC FRONTEND-ADDR PORT/PROTO): the
 * translation from_pod makes (the frontend and scope lb_frontend finds, the
 * backends lb_pick_h chooses among, the one this flow gets when that is
 * determined), then the policy verdict of the flow to each of those backends
 * as explain_flow walks it.
 */
int explain_service(const struct ctl_ctx *c, const struct node_maps *sm, const struct node_maps *dm,
		    const struct svc_view *v, const struct flow *f0,
		    const struct xcni_svc_key *key0)
{
	struct xcni_svc_key k = *key0;
	struct svc_choice ch = {};
	struct svc_judged j = {};
	struct xcni_svc s;
	struct ptable *t;
	int err;

	if (!svc_frontend(v, &k, &s))
		return 1; /* not a frontend */
	if ((err = svc_choose(c, v, &k, &s, &f0->src, &ch)))
		return err;
	err = svc_judge(sm, dm, v, f0, &k, &ch, &j);
	if (!err) {
		t = svc_table(v, f0, &k, &s, &ch, &j, sm->dir);
		if (!c->json) {
			err = svc_print_text(c, t, &ch, &j); /* frees t */
		} else {
			err = svc_print_json(t, &ch, &j);
			pt_free(t);
		}
	}
	svc_judged_free(&j, ch.n);
	free(ch.ids);
	return err;
}
