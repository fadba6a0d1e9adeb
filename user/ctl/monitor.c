// SPDX-License-Identifier: Apache-2.0
/* xcnictl monitor: drop, verdict and trace events from the ring buffer, as they come. */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "lib/observe/vocab.h"
#include "lib/observe/flows.h"

static const struct pt_col event_cols[] = {
	{ "TIME", "time", PT_STR },
	{ NULL, "time_ns", PT_UINT },
	{ "REASON", "reason", PT_STR },
	{ NULL, "code", PT_INT },
	{ "DIRECTION", "direction", PT_STR },
	{ "EP-ID", "ep_id", PT_UINT },
	{ "IFINDEX", "ifindex", PT_UINT },
	{ "PROTO", "proto", PT_STR },
	{ "SRC", NULL, PT_STR },
	{ "DST", NULL, PT_STR },
	{ NULL, "saddr", PT_STR },
	{ NULL, "sport", PT_UINT },
	{ NULL, "daddr", PT_STR },
	{ NULL, "dport", PT_UINT },
	{ "LEN", "len", PT_UINT },
	{ "TYPE", "type", PT_STR },
	{ "VERDICT", "verdict", PT_STR },
	{ NULL, "src_identity", PT_UINT },
	{ NULL, "dst_identity", PT_UINT },
	{ NULL, "policy", PT_STR },
	{ NULL, "rule", PT_INT },
	/* A ClusterNetworkPolicy rule's name; the tier that decided (verdicts, tier drops). */
	{ NULL, "rule_name", PT_STR },
	{ NULL, "tier", PT_STR },
	/* A policy drop: the policies that isolate the pod ("x/a,x/b"). */
	{ NULL, "isolated_by", PT_STR },
	/*
	 * A flow a Service translated: "svc y/web:http 10.96.0.10:80/tcp ->
	 * backend y/b 10.244.1.5:8080", or "...: no backend" for a refusal.
	 * From the rev-NAT index (= service id) and backend id the event carries.
	 */
	{ "SERVICE", NULL, PT_STR },
	{ NULL, "service", PT_STR }, /* NS/NAME */
	{ NULL, "port_name", PT_STR },
	{ NULL, "frontend", PT_STR }, /* ADDR:PORT/PROTO */
	{ NULL, "rev_nat", PT_UINT },
	{ NULL, "backend_id", PT_UINT },
	{ NULL, "backend", PT_STR }, /* ADDR:PORT */
	{ NULL, "backend_pod", PT_STR },
};

/* The widest a name the data plane can report is: the reasons', the directions'. */
static size_t widest_name(int lo, int hi, const char *(*name)(int))
{
	size_t w = 0;

	for (int i = lo; i <= hi; i++)
		if (name(i) && strlen(name(i)) > w)
			w = strlen(name(i));
	return w;
}

static const char *reason_name(int r)
{
	const struct xcni_reason_info *ri = xcni_reason_info(r);

	return ri ? ri->name : NULL;
}

static const char *dir_name(int d)
{
	return xcni_dir_name((unsigned int)d);
}

/*
 * The text columns as wide as any event can make them, so the lines of a
 * stream align from the first on (the print layer cannot look ahead).
 */
static void event_widths(struct ptable *t)
{
	const struct {
		const char *title;
		size_t w;
	} widths[] = {
		{ "TIME", sizeof("2026-11-26T03:04:05.123456Z") - 1 }, /* or a year of uptime */
		{ "REASON", widest_name(XCNI_REASON_MIN, XCNI_REASON_MAX, reason_name) },
		{ "DIRECTION", widest_name(0, XCNI_NR_DIRS - 1, dir_name) },
		{ "EP-ID", sizeof("4294967295") - 1 }, /* a hash of the container id */
		{ "IFINDEX", 7 },
		{ "PROTO", 4 }, /* "sctp", or a number */
		/* An ICMP echo's end is the widest: ADDRESS:id=ID. */
		{ "SRC", sizeof("255.255.255.255:id=65535") - 1 },
		{ "DST", sizeof("255.255.255.255:id=65535") - 1 },
		{ "LEN", 5 },
		{ "TYPE", sizeof("verdict") - 1 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(event_cols); i++)
		for (size_t k = 0; k < ARRAY_SIZE(widths); k++)
			if (event_cols[i].title && !strcmp(event_cols[i].title, widths[k].title))
				pt_min_width(t, i, widths[k].w);
}

static volatile sig_atomic_t monitor_stop;

static void on_sigint(int sig)
{
	(void)sig;
	monitor_stop = 1;
}

struct monitor {
	const struct ctl_ctx *c;
	struct ptable *t;
	unsigned long seen;
	int err;
	int polname_fd; /* -1 when the agent predates policy */
	int polsel_fd, podname_fd, rulename_fd; /* -1 when the agent predates them */
	struct svcnames sn; /* Services' names, frontends, backends */
	struct filter f; /* --ip, --pod, --namespace, --identity */
	__u64 since_ns; /* events queued before monitor started are old news */
	int64_t wall_off_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, for TIME */
};

static bool is_policy_drop(int reason)
{
	return reason == XCNI_DROP_POLICY_EGRESS || reason == XCNI_DROP_POLICY_INGRESS ||
	       reason == XCNI_DROP_POLICY_ADMIN || reason == XCNI_DROP_POLICY_BASELINE;
}

/*
 * --verdict, as flows reads it (vocab.h): denied is a drop, any reason;
 * allowed a policy's allow (a verdict event), audit one that a policy in
 * audit mode would have denied; forwarded a forwarded packet (a trace);
 * Hubble's FORWARDED whatever passed.
 */
static bool verdict_is(const struct xcni_event *ev, int v)
{
	bool audit = ev->type == XCNI_EV_VERDICT && (ev->pol_flags & XCNI_POLV_DENY) &&
		     (ev->pol_flags & XCNI_POLV_AUDIT);

	switch (v) {
	case VOCAB_DENIED:
		return ev->type == XCNI_EV_DROP;
	case VOCAB_ALLOWED:
		return ev->type == XCNI_EV_VERDICT && !audit;
	case VOCAB_AUDIT:
		return audit;
	case VOCAB_FORWARDED:
		return ev->type == XCNI_EV_TRACE;
	case VOCAB_PASSED:
		return (ev->type == XCNI_EV_VERDICT && !audit) || ev->type == XCNI_EV_TRACE;
	}
	return false;
}

/*
 * The filters run here, on what the ring buffer already holds: the programs
 * emit the same events whether anyone watches or how, so a filter costs the
 * data plane nothing and a narrow one does not make it emit less.
 */
static bool monitor_match(const struct monitor *m, const struct xcni_event *ev)
{
	const struct ctl_ctx *c = m->c;
	struct frow r = { .addr = { ev->saddr, ev->daddr }, .plen = { 32, 32 }, .naddr = 2 };

	if ((c->opts & OPT_TYPE) && ev->type != c->ev_type)
		return false;
	if ((c->opts & OPT_VERDICT) && !verdict_is(ev, c->verdict))
		return false;
	if ((c->opts & OPT_REASON) && ev->reason != c->reason)
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
static const char *drop_isolators(const struct monitor *m, const struct xcni_event *ev, char *text,
				  char *json, size_t len, char pod[340])
{
	__u32 ip = ev->pol_dir == XCNI_DIR_FROM_POD ? ev->saddr : ev->daddr;
	unsigned int n;

	n = isolating_policies(m->polsel_fd, m->polname_fd, ip, ev->pol_dir, false, text, len);
	isolating_policies(m->polsel_fd, m->polname_fd, ip, ev->pol_dir, true, json, len);
	if (n)
		strcat(text, n > 1 ? " isolate " : " isolates ");
	if (!pod_of_ip(m->podname_fd, ip, pod, 340))
		ip_str(ip, pod);
	return pod;
}

/* ` "name"` for a named ClusterNetworkPolicy rule, "" otherwise. */
static const char *quoted_rule(const struct monitor *m, const struct xcni_event *ev, char *buf,
			       size_t len)
{
	char rn[XCNI_RULENAME_LEN];

	if (!polsync_rule_name(m->rulename_fd, ev->policy_id, ev->pol_dir, ev->rule, rn,
	                       sizeof(rn)))
		return "";
	snprintf(buf, len, " \"%s\"", rn);
	return buf;
}

/* The policy side of an event: which rule allowed it, or that nothing did. */
static void monitor_verdict(struct monitor *m, const struct xcni_event *ev)
{
	static const char *const tw[] = { "networkpolicy", "admin", "baseline", "default" };
	const char *side = ev->pol_dir == XCNI_DIR_FROM_POD ? "egress" : "ingress";
	char name[340], by[800] = "", by_json[800] = "", pod[340], qr[XCNI_RULENAME_LEN + 4];
	char rn[XCNI_RULENAME_LEN];

	if (ev->type == XCNI_EV_VERDICT && (ev->pol_flags & XCNI_POLV_DENY) &&
	    (ev->pol_flags & XCNI_POLV_AUDIT)) {
		/* allowed, but a policy in audit mode would have denied it */
		policy_name(m->polname_fd, ev->policy_id, name, sizeof(name));
		pt_strf(m->t, "audit %s: would deny, by %s rule %u%s", side, name, ev->rule,
			quoted_rule(m, ev, qr, sizeof(qr)));
	} else if (ev->type == XCNI_EV_VERDICT && XCNI_POLV_TIER(ev->pol_flags) == XCNI_TIER_DEFAULT) {
		pt_strf(m->t, "allow %s: no tier decided (allowed by default)", side);
	} else if (ev->type == XCNI_EV_VERDICT) {
		policy_name(m->polname_fd, ev->policy_id, name, sizeof(name));
		pt_strf(m->t, "allow %s by %s rule %u%s", side, name, ev->rule,
			quoted_rule(m, ev, qr, sizeof(qr)));
	} else if ((ev->reason == XCNI_DROP_POLICY_ADMIN || ev->reason == XCNI_DROP_POLICY_BASELINE) &&
		   ev->type == XCNI_EV_DROP) {
		policy_name(m->polname_fd, ev->policy_id, name, sizeof(name));
		pt_strf(m->t, "deny %s by %s rule %u%s", side, name, ev->rule,
			quoted_rule(m, ev, qr, sizeof(qr)));
	} else if (is_policy_drop(ev->reason)) {
		/* "deny ingress: x/deny isolates x/b, nothing allows" */
		drop_isolators(m, ev, by, by_json, sizeof(by) - 16, pod);
		if (by[0])
			pt_strf(m->t, "deny %s: %s%s, nothing allows", side, by, pod);
		else
			pt_strf(m->t, "deny %s: isolated, nothing allows", side);
	} else {
		pt_null(m->t);
	}
	pt_uint(m->t, ev->src_identity);
	pt_uint(m->t, ev->dst_identity);
	if (ev->type == XCNI_EV_VERDICT || ev->reason == XCNI_DROP_POLICY_ADMIN ||
	    ev->reason == XCNI_DROP_POLICY_BASELINE) {
		pt_str(m->t, policy_name(m->polname_fd, ev->policy_id, name, sizeof(name)));
		pt_int(m->t, ev->rule);
		pt_str(m->t, polsync_rule_name(m->rulename_fd, ev->policy_id, ev->pol_dir, ev->rule,
		                               rn, sizeof(rn)));
		pt_str(m->t, tw[XCNI_POLV_TIER(ev->pol_flags)]);
	} else {
		for (int i = 0; i < 4; i++)
			pt_null(m->t);
	}
	pt_str(m->t, by_json[0] ? by_json : NULL);
}

/* The Service side of an event: which Service and backend a translated flow got. */
static void monitor_service(struct monitor *m, const struct xcni_event *ev)
{
	char fe[80], name[160], be[80], pod[340], text[600];
	struct xcni_svcname n;
	struct xcni_backend b;
	bool named, have_be, have_pod = false;
	size_t tl;

	if (!ev->rev_nat) {
		for (int i = 0; i < 8; i++) /* the columns below */
			pt_null(m->t);
		return;
	}
	svcnames_frontend(&m->sn, ev->rev_nat, fe, sizeof(fe));
	named = svcnames_name(&m->sn, ev->rev_nat, &n);
	have_be = svcnames_backend_of(&m->sn, ev->backend_id, &b);
	if (have_be) {
		svc_addr_str(b.family, b.addr, b.port, be, sizeof(be));
		if (b.family == XCNI_AF_INET) {
			__u32 ip;

			memcpy(&ip, b.addr, 4);
			have_pod = m->podname_fd >= 0 && pod_of_ip(m->podname_fd, ip, pod, sizeof(pod));
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
	if (named && n.port[0])
		pt_strf(m->t, "%.*s", (int)strnlen(n.port, sizeof(n.port)), n.port);
	else
		pt_null(m->t);
	pt_strf(m->t, "%s/%s", fe, proto_name(ev->proto) ?: "?");
	pt_uint(m->t, ev->rev_nat);
	if (ev->backend_id) {
		pt_uint(m->t, ev->backend_id);
		pt_str(m->t, have_be ? be : NULL);
	} else {
		pt_null(m->t);
		pt_null(m->t);
	}
	pt_str(m->t, have_pod ? pod : NULL);
}

static int on_event(void *arg, void *data, size_t len)
{
	struct monitor *m = arg;
	struct xcni_event6 ev6 = {};
	const struct xcni_event *ev = &ev6.ev;
	const struct xcni_reason_info *ri;
	char buf[INET6_ADDRSTRLEN];
	const char *s;
	/* An IPv6 packet's record: the IPv4 one with the IPv6 addresses after it. */
	bool v6 = len >= sizeof(struct xcni_event6);

	/* Programs from before the Service fields write the shorter record, whose
	 * last two bytes (a pad then) are rev_nat's, always 0. */
	_Static_assert(offsetof(struct xcni_event, backend_id) == XCNI_EVENT_LEN_V1,
		       "the first record's fields keep their places");
	if (len < XCNI_EVENT_LEN_V1)
		return 0;
	memcpy(&ev6, data, len < sizeof(ev6) ? len : sizeof(ev6));
	if (ev->ts_ns < m->since_ns || !monitor_match(m, ev))
		return 0;
	ri = xcni_reason_info(ev->reason);
	if (m->c->time_mono) {
		pt_strf(m->t, "%llu.%06llu", (unsigned long long)(ev->ts_ns / 1000000000ULL),
			(unsigned long long)(ev->ts_ns % 1000000000ULL / 1000));
	} else {
		char t[48];

		flow_time_fmt((int64_t)ev->ts_ns + m->wall_off_ns, t, sizeof(t));
		pt_str(m->t, t);
	}
	pt_uint(m->t, ev->ts_ns);
	if (ri)
		pt_str(m->t, ri->name);
	else
		pt_strf(m->t, "reason%d", ev->reason);
	pt_int(m->t, ev->reason);
	pt_str(m->t, xcni_dir_name(ev->dir));
	pt_uint(m->t, ev->ep_id);
	pt_uint(m->t, ev->ifindex);
	if ((s = proto_name(ev->proto)))
		pt_str(m->t, s);
	else
		pt_strf(m->t, "%u", ev->proto);
	if (v6) {
		pt_addr6_port(m->t, ev->proto, ev6.saddr6, ev->sport);
		pt_addr6_port(m->t, ev->proto, ev6.daddr6, ev->dport);
		pt_str(m->t, inet_ntop(AF_INET6, ev6.saddr6, buf, sizeof(buf)));
		pt_uint(m->t, ntohs(ev->sport));
		pt_str(m->t, inet_ntop(AF_INET6, ev6.daddr6, buf, sizeof(buf)));
	} else {
		pt_addr_port(m->t, ev->proto, ev->saddr, ev->sport);
		pt_addr_port(m->t, ev->proto, ev->daddr, ev->dport);
		pt_str(m->t, ip_str(ev->saddr, buf));
		pt_uint(m->t, ntohs(ev->sport));
		pt_str(m->t, ip_str(ev->daddr, buf));
	}
	pt_uint(m->t, ntohs(ev->dport));
	pt_uint(m->t, ev->len);
	if (event_type_name(ev->type))
		pt_str(m->t, event_type_name(ev->type));
	else
		pt_strf(m->t, "%u", ev->type);
	monitor_verdict(m, ev);
	monitor_service(m, ev);
	m->err = pt_flush_fmt(m->t, stdout, m->c->out);
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

/* One poll of the stream: each record through on_event. 0, or -errno (the
 * agent went away: -ECONNRESET). */
static int sub_poll(int fd, struct monitor *m, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned char buf[sizeof(struct flows_evmsg) + FLOWS_EVMSG_MAX];
	struct flows_evmsg h;
	ssize_t n;
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return -errno;
	while (r > 0) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0) {
			pr_warn("xcnid's event stream ended (the agent stopped): reading the ring\n");
			return -ECONNRESET;
		}
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.lost)
			pr_warn("%u events lost before this one (monitor read too slowly)\n", h.lost);
		if (h.len > (size_t)n - sizeof(h))
			continue;
		if (on_event(m, buf + sizeof(h), h.len))
			return 0;
	}
	return 0;
}

static int cmd_monitor(const struct ctl_ctx *c, char **argv)
{
	struct monitor m = { .c = c, .polname_fd = -1, .polsel_fd = -1, .podname_fd = -1,
			     .rulename_fd = -1 };
	struct ring_buffer *rb = NULL;
	__u64 deadline = 0;
	int fd = -1, sub, err = 0;

	(void)argv;
	/* Names are resolved before the stream starts: an unknown pod is an
	 * error now, not a monitor that silently shows nothing. */
	err = filter_open(c, &m.f, 0);
	if (err)
		return err;
	/* The ring has one reader position: where xcnid --flows reads it, the
	 * events come from xcnid (every record it reads, passed on), not the ring. */
	sub = subscribe(c);
	if (sub < 0) {
		fd = map_open(c, &m_events);
		if (fd < 0) {
			filter_close(&m.f);
			return fd;
		}
	}
	m.since_ns = xcni_mono_ns();
	/* The events' clock is CLOCK_MONOTONIC: shown as the wall clock, UTC. */
	m.wall_off_ns = xcni_wall_off_ns(m.since_ns);
	m.t = pt_new(event_cols, ARRAY_SIZE(event_cols), 0);
	event_widths(m.t);
	m.polname_fd = map_open_quiet(c, &m_polname);
	m.polsel_fd = map_open_quiet(c, &m_polsel);
	m.rulename_fd = map_open_quiet(c, &m_rulename);
	m.podname_fd = map_open_quiet(c, &m_podname);
	svcnames_open(c, &m.sn);
	if (sub < 0)
		rb = ring_buffer__new(fd, on_event, &m, NULL);
	if ((sub < 0 && !rb) || !m.t) {
		err = sub >= 0 || rb ? -ENOMEM : -errno;
		pr_err("%s: %s\n", m_events.name, strerror(-err));
		goto out;
	}
	if (c->opts & OPT_TIMEOUT)
		deadline = xcni_mono_ns() + (__u64)c->timeout_ms * 1000000ULL;
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	/* Short polls, so a signal or the deadline ends the stream promptly. */
	while (!monitor_stop && (!deadline || xcni_mono_ns() < deadline)) {
		err = sub >= 0 ? sub_poll(sub, &m, 100) : ring_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err == -ECONNRESET && sub >= 0) {
			/* The agent stopped: the ring has no reader but this one now. */
			close(sub);
			sub = -1;
			fd = map_open(c, &m_events);
			rb = fd >= 0 ? ring_buffer__new(fd, on_event, &m, NULL) : NULL;
			if (!rb) {
				err = fd < 0 ? fd : -errno;
				break;
			}
			err = 0;
			continue;
		}
		if (err < 0 || m.err || (c->count && m.seen >= c->count))
			break;
		err = 0;
	}
	if (m.err)
		err = m.err;
	if (err < 0)
		pr_err("%s: %s\n", m_events.name, strerror(-err));
	else
		err = 0;
out:
	ring_buffer__free(rb);
	if (sub >= 0)
		close(sub);
	pt_free(m.t);
	for (int *p = (int[]){ m.polname_fd, m.polsel_fd, m.podname_fd, m.rulename_fd, -2 };
	     *p != -2; p++)
		if (*p >= 0)
			close(*p);
	svcnames_close(&m.sn);
	filter_close(&m.f);
	if (fd >= 0)
		close(fd);
	return err;
}

const struct cmd monitor_cmds[] = {
	{ "monitor", NULL, cmd_monitor, 0,
	  OPT_COUNT | OPT_TIMEOUT | OPT_FILTERS | OPT_REASON | OPT_VERDICT | OPT_TYPE | OPT_TIME,
	  "[--count N] [--timeout-ms MS] [--time rfc3339|mono] [filters]",
	  "Stream drop, policy verdict and trace events as the data plane reports them.\n\n"
	  "One line per event (with --json, one object per line) until Ctrl-C.\n"
	  "TIME (\"time\" in JSON) is the wall clock, RFC 3339 in UTC (--time mono: seconds\n"
	  "since boot, CLOCK_MONOTONIC; time_ns is always that). The programs emit one event\n"
	  "per dropped packet and one per new flow a policy allowed, into a ring\n"
	  "buffer, whether anyone watches or not; monitor only reads that ring, and\n"
	  "the filters run here, so a filter does not make the data plane emit less.\n"
	  "Traces of forwarded packets (type trace; REASON says how: fwd-local,\n"
	  "fwd-reply, fwd-encap, ...) are off unless xcnictl config set trace-sample N\n"
	  "(or xcnid --trace-sample N) turns them on for one packet in N.\n"
	  "All events share a per-CPU budget (config set events-rate); those over it,\n"
	  "or that find the ring full because monitor falls behind, are lost (never\n"
	  "packets) and counted: see metrics (events-lost-*).\n"
	  "Readers of one ring share it: one monitor per node at a time.\n"
	  "An event of a flow a Service translated (in BPF) says which under SERVICE:\n"
	  "\"svc NS/NAME:PORT-NAME FRONTEND/PROTO -> backend [POD] ADDR:PORT\" (the\n"
	  "backend its first packet got; DST is that backend, or for a reply the\n"
	  "frontend), or \": no backend\" for a connection refused (drop-no-backend).\n\n"
	  "  --count N              stop after N events (that pass the filters)\n"
	  "  --timeout-ms MS        stop after MS milliseconds\n"
	  "  --time rfc3339|mono    TIME as the wall clock (default) or seconds since boot\n"
	  "The filters are the words of every view (xcnictl filters lists them):\n"
	  "  --ip IP                events from or to IP\n"
	  "  --pod POD              events from or to POD (NAMESPACE/NAME or IP)\n"
	  "  -n, --namespace NS     events from or to a pod of namespace NS\n"
	  "  --identity ID          events from or to identity ID\n"
	  "  --label SELECTOR       events from or to labels matching SELECTOR (k=v,k!=v,k,!k)\n"
	  "  --reason NAME          events of that reason (drop-policy-ingress, ...;\n"
	  "                         see metrics --all)\n"
	  "  --verdict V            denied (drops, any reason: with --reason, which),\n"
	  "                         allowed (a policy's allow), audit, forwarded\n"
	  "                         (traces); Hubble's DROPPED, FORWARDED (allowed or\n"
	  "                         forwarded), AUDIT; the old allow, deny\n"
	  "  --type drop|verdict|trace\n"
	  "                         drop events, policy verdict events, or traces\n\n"
	  "Filters combine: an event is shown when it passes every one given.", NULL },
	{}
};
