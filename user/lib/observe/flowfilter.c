// SPDX-License-Identifier: Apache-2.0
/*
 * The filters of xcnictl flows (flows.h): parsed from its options or a
 * request's query, and matched against a record.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"
#include "lib/system/cidr.h"
#include "lib/system/proto.h"
#include "lib/system/util.h"
#include "lib/observe/reasons.h"
#include "lib/observe/vocab.h"

void flow_filter_init(struct flow_filter *ff)
{
	memset(ff, 0, sizeof(*ff));
	ff->verdict = ff->port = ff->sport = ff->dport = ff->proto = -1;
}

void flow_filter_free(struct flow_filter *ff)
{
	for (unsigned int i = 0; i < ff->nnots; i++)
		flow_filter_free(&ff->nots[i]);
	free(ff->nots);
	ff->nots = NULL;
	ff->nnots = 0;
}

#define FERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static bool match_peer(const struct flow_match *m, const struct flow_peer *p, uint8_t family,
		       const uint8_t *addr);

static bool is_label_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/' ||
	       c == ':';
}

/* "k=v,k!=v,k,!k" (a Kubernetes equality selector) into m. */
static int parse_selector(struct flow_match *m, const char *name, const char *s,
			  const char *shown, char *err, size_t errlen)
{
	char buf[512], *save, *tok;

	if (strlen(s) >= sizeof(buf))
		return FERR("--%s %s: label selector too long", name, shown);
	snprintf(buf, sizeof(buf), "%s", s);
	m->kind = FM_LABELS;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *k = tok, *v = NULL;
		uint8_t op = 'e';

		if (m->nsel == FLOW_SEL_MAX)
			return FERR("--%s %s: more than %d label requirements", name, shown,
				    FLOW_SEL_MAX);
		if (*k == '!') {
			op = 'n';
			k++;
		}
		if (eq) {
			if (op == 'n')
				return FERR("--%s %s: '!' goes before a key alone", name, shown);
			op = '=';
			if (eq > tok && eq[-1] == '!') {
				op = '!';
				eq[-1] = '\0';
			}
			*eq = '\0';
			v = eq + 1;
			if (*v == '=') /* "k==v" */
				v++;
		}
		if (!*k || strlen(k) >= sizeof(m->sel[0].key) ||
		    (v && strlen(v) >= sizeof(m->sel[0].val)))
			return FERR("--%s %s: empty or too long label key or value", name, shown);
		for (const char *c = k; *c; c++)
			if (!is_label_char(*c))
				return FERR("--%s %s: '%c' in label key %s", name, shown, *c, k);
		for (const char *c = v; c && *c; c++)
			if (!is_label_char(*c))
				return FERR("--%s %s: '%c' in label value %s", name, shown, *c, v);
		snprintf(m->sel[m->nsel].key, sizeof(m->sel[0].key), "%s", k);
		snprintf(m->sel[m->nsel].val, sizeof(m->sel[0].val), "%s", v ? v : "");
		m->sel[m->nsel++].op = op;
	}
	if (!m->nsel)
		return FERR("--%s %s: empty label selector", name, shown);
	return 0;
}

/* An address or prefix of either family (an address alone: its host prefix). */
static int match_cidr(struct flow_match *m, const char *s)
{
	if (strlen(s) >= 64 || xcni_prefix_parse(s, XCNI_CIDR_BARE, &m->cidr))
		return -EINVAL;
	m->kind = FM_CIDR;
	return 0;
}

/*
 * --from/--to: "pod:NS/NAME", "ns:NS", "label:SELECTOR", "ip:IP[/LEN]", or
 * the same without its prefix when the shape tells: an address or prefix, a
 * selector (has '='), a pod (has '/'), else a namespace.
 */
static int parse_match(struct flow_match *m, const char *name, const char *v, char *err,
		       size_t errlen)
{
	const char *kind = NULL, *s = v, *colon = strchr(v, ':');
	static const char *const kinds[] = { "pod", "ns", "namespace", "label", "ip", "identity" };

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; colon && i < ARRAY_SIZE(kinds); i++)
		if ((size_t)(colon - v) == strlen(kinds[i]) && !strncmp(v, kinds[i], colon - v)) {
			kind = kinds[i];
			s = colon + 1;
		}
	if (!*s)
		return FERR("--%s %s: empty", name, v);
	if (!kind) {
		char a[64];
		uint8_t t[16];

		/* An address before any '/' is a prefix, right or wrong. */
		snprintf(a, sizeof(a), "%.*s", (int)strcspn(s, "/"), s);
		if (inet_pton(AF_INET, a, t) == 1 || inet_pton(AF_INET6, a, t) == 1)
			kind = "ip";
		else if (strchr(s, '='))
			kind = "label";
		else if (strchr(s, '/'))
			kind = "pod";
		else
			kind = "ns";
	}
	if (!strcmp(kind, "ip")) {
		if (match_cidr(m, s))
			return FERR("--%s %s: not an IP address or CIDR", name, v);
		return 0;
	}
	if (!strcmp(kind, "label"))
		return parse_selector(m, name, s, v, err, errlen);
	if (!strcmp(kind, "identity")) {
		char e[200];

		if (vocab_identity(s, &m->id, e, sizeof(e)))
			return FERR("--%s %s: %s", name, v, strstr(e, ": ") + 2);
		m->kind = FM_IDENTITY;
		return 0;
	}
	if (!strcmp(kind, "pod")) {
		const char *slash = strchr(s, '/');
		size_t nl = slash ? (size_t)(slash - s) : 0;

		if (!slash || !nl || !slash[1] || strchr(slash + 1, '/'))
			return FERR("--%s %s: a pod is NAMESPACE/NAME", name, v);
		if (nl >= sizeof(m->ns) || strlen(slash + 1) >= sizeof(m->name))
			return FERR("--%s %s: namespace or name too long", name, v);
		memcpy(m->ns, s, nl);
		snprintf(m->name, sizeof(m->name), "%s", slash + 1);
		m->kind = FM_POD;
		return 0;
	}
	if (strchr(s, '/') || strlen(s) >= sizeof(m->ns))
		return FERR("--%s %s: not a namespace name", name, v);
	snprintf(m->ns, sizeof(m->ns), "%s", s);
	m->kind = FM_NS;
	return 0;
}

/* "90s", "5m", "2h", "1d", or plain seconds, into ns. */
static int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1000000000ULL;

	if (!*s || *s == '-')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (end == s)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mul = 1000000ULL;
	else if (!strcmp(end, "m"))
		mul *= 60;
	else if (!strcmp(end, "h"))
		mul *= 3600;
	else if (!strcmp(end, "d"))
		mul *= 86400;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -EINVAL;
	*ns = v * mul;
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end || errno || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Hubble's --from-pod/--to-pod: "[NAMESPACE/]NAME-PREFIX", the namespace "default" when not given. */
static int parse_pod_prefix(struct flow_match *m, const char *name, const char *v, char *err,
			    size_t errlen)
{
	const char *slash = strchr(v, '/'), *pod = slash ? slash + 1 : v;
	size_t nl = slash ? (size_t)(slash - v) : 0;

	memset(m, 0, sizeof(*m));
	if (!*pod || (slash && !nl) || strchr(pod, '/'))
		return FERR("--%s %s: a pod is [NAMESPACE/]NAME (a prefix of the name)", name, v);
	if (nl >= sizeof(m->ns) || strlen(pod) >= sizeof(m->name))
		return FERR("--%s %s: namespace or name too long", name, v);
	if (slash)
		memcpy(m->ns, v, nl);
	else
		snprintf(m->ns, sizeof(m->ns), "default");
	snprintf(m->name, sizeof(m->name), "%s", pod);
	m->kind = FM_POD;
	m->prefix = 1;
	return 0;
}

/* An RFC 3339 time, or a duration before now (Hubble's --since/--until take both). */
static bool is_time(const char *s)
{
	return strlen(s) >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-';
}

/* Negated filters: what can be negated is what says which records, not how many. */
static int filter_not(struct flow_filter *ff, const char *name, const char *value, char *err,
		      size_t errlen)
{
	static const char *const never[] = { "since", "until", "last", "first", "after", "time" };
	struct flow_filter *n;
	int e;

	for (size_t i = 0; i < ARRAY_SIZE(never); i++)
		if (!strcmp(name, never[i]))
			return FERR("--not --%s: a window of time or a count cannot be negated", name);
	if (ff->nnots == FLOW_NOT_MAX)
		return FERR("--not --%s: at most %d negated filters", name, FLOW_NOT_MAX);
	n = realloc(ff->nots, (ff->nnots + 1) * sizeof(*n));
	if (!n)
		return FERR("--not --%s: out of memory", name);
	ff->nots = n;
	flow_filter_init(&n[ff->nnots]);
	e = flow_filter_set(&n[ff->nnots], name, value, err, errlen);
	if (!e)
		ff->nnots++;
	return e;
}

/* --port, --from-port, --to-port: either end's, the source's, the destination's. */
static int filter_port(struct flow_filter *ff, const char *name, const char *value, char *err,
		       size_t errlen)
{
	uint64_t v;

	if (parse_u64(value, 65535, &v) || !v)
		return FERR("--%s %s: not a port (1-65535)", name, value);
	*(name[0] == 'p' ? &ff->port : name[0] == 'f' ? &ff->sport : &ff->dport) = (int)v;
	return 0;
}

/* A direction: --from/--to, or Hubble's --from-KIND/--to-KIND (KIND:VALUE). */
static int filter_direction(struct flow_filter *ff, const char *name, const char *value,
			    char *err, size_t errlen)
{
	static const char *const kinds[] = { "ip", "namespace", "label", "identity" };
	bool from = name[0] == 'f';
	const char *kind = name + (from ? 4 : 2), *dir = from ? "from" : "to";
	struct flow_match *m = from ? &ff->from : &ff->to;
	char v[600];

	if (*kind && strcmp(kind, "-pod") && strcmp(kind, "-port")) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(kinds); i++)
			if (kind[0] == '-' && !strcmp(kind + 1, kinds[i]))
				break;
		if (i == ARRAY_SIZE(kinds))
			return FERR("--%s: no such filter", name);
	}
	if (!strcmp(kind, "-port"))
		return filter_port(ff, name, value, err, errlen);
	if (m->kind != FM_NONE)
		return FERR("--%s %s: the %s is given twice (one of --%s, --%s-pod, --%s-ip, "
			    "--%s-namespace, --%s-label, --%s-identity)", name, value,
			    from ? "source" : "destination", dir, dir, dir, dir, dir, dir);
	if (!strcmp(kind, "-pod"))
		return parse_pod_prefix(m, name, value, err, errlen);
	if (!*kind)
		return parse_match(m, name, value, err, errlen);
	/* --from-ip X is --from ip:X: the kind said, not guessed from the shape. */
	if (snprintf(v, sizeof(v), "%s:%s", !strcmp(kind, "-namespace") ? "ns" : kind + 1,
		     value) >= (int)sizeof(v))
		return FERR("--%s: too long", name);
	if (parse_match(m, name, v, err, errlen)) {
		/* said of "ip:X": say it of the value given */
		snprintf(err, errlen, "--%s %s: not %s", name, value,
			 !strcmp(kind, "-ip") ? "an IP address or CIDR" :
			 !strcmp(kind, "-namespace") ? "a namespace name" :
			 !strcmp(kind, "-label") ? "a label selector (k=v,k!=v,k,!k)" :
			 "an identity (a number or reserved:NAME)");
		return -EINVAL;
	}
	return 0;
}

/* Either end, the words of every view (vocab.h): --pod, --ip, --namespace, --identity, --label. 1: not one. */
static int filter_either(struct flow_filter *ff, const char *name, const char *value, char *err,
			 size_t errlen)
{
	struct flow_match *m;
	char v[600];

	if (!strcmp(name, "pod")) {
		/* NAMESPACE/NAME, exactly (the map views' --pod), or the pod's IP. */
		if (vocab_pod(value, err, errlen))
			return -EINVAL;
		snprintf(v, sizeof(v), "%s:%s", strchr(value, '/') ? "pod" : "ip", value);
		if (parse_match(&ff->either[FLOW_EITHER_POD], name, v, err, errlen))
			return FERR("--pod %s: a pod is NAMESPACE/NAME or its IP", value);
		return 0;
	}
	if (!strcmp(name, "ip")) {
		snprintf(v, sizeof(v), "ip:%s", value);
		if (parse_match(&ff->either[FLOW_EITHER_IP], name, v, err, errlen))
			return FERR("--ip %s: not an IP address or CIDR", value);
		return 0;
	}
	if (!strcmp(name, "identity")) {
		m = &ff->either[FLOW_EITHER_ID];
		memset(m, 0, sizeof(*m));
		if (vocab_identity(value, &m->id, err, errlen))
			return -EINVAL;
		m->kind = FM_IDENTITY;
		return 0;
	}
	if (!strcmp(name, "namespace")) {
		m = &ff->either[FLOW_EITHER_NS];
		if (vocab_namespace(value, sizeof(m->ns), err, errlen))
			return -EINVAL;
		memset(m, 0, sizeof(*m));
		snprintf(m->ns, sizeof(m->ns), "%s", value);
		m->kind = FM_NS;
		return 0;
	}
	if (!strcmp(name, "label")) {
		memset(&ff->either[FLOW_EITHER_LABEL], 0, sizeof(ff->either[0]));
		return parse_selector(&ff->either[FLOW_EITHER_LABEL], name, value, value, err,
				      errlen);
	}
	return 1;
}

/* --since/--until VALUE: an RFC 3339 time into *wall_ns, else a duration (> 0) into *ago_ns. */
static int filter_when(const char *name, const char *value, int64_t *wall_ns, uint64_t *ago_ns,
		       char *err, size_t errlen)
{
	if (is_time(value)) {
		if (xcni_rfc3339_parse(value, wall_ns))
			return FERR("--%s %s: not an RFC 3339 time (2026-11-26T03:04:05Z) or a "
				    "duration", name, value);
		return 0;
	}
	if (parse_duration(value, ago_ns) || !*ago_ns)
		return FERR("--%s %s: not a duration (30s, 5m, 2h, 1d)%s", name, value,
			    name[0] == 'u' ? " or an RFC 3339 time" : "");
	return 0;
}

/* Which records and how many: --since, --until, --first, --last, --after, --time. 1: not one. */
static int filter_window(struct flow_filter *ff, const char *name, const char *value, char *err,
			 size_t errlen)
{
	bool first = !strcmp(name, "first");

	if (!strcmp(name, "until"))
		return filter_when(name, value, &ff->until_wall_ns, &ff->until_ago_ns, err, errlen);
	if (!strcmp(name, "since"))
		return filter_when(name, value, &ff->since_wall_ns, &ff->since_ns, err, errlen);
	if (first || !strcmp(name, "last")) {
		uint64_t *n = first ? &ff->first : &ff->last;

		if (parse_u64(value, FLOWS_WINDOW_MAX, n) || !*n)
			return FERR("--%s %s: not a count (1-%u)", name, value, FLOWS_WINDOW_MAX);
		if (first ? ff->last : ff->first)
			return FERR("--first and --last: give one");
		return 0;
	}
	if (!strcmp(name, "after")) {
		if (parse_u64(value, UINT64_MAX, &ff->after))
			return FERR("after %s: not a cursor", value);
		return 0;
	}
	if (!strcmp(name, "time")) {
		if (!strcmp(value, "mono"))
			ff->time_mono = true;
		else if (!strcmp(value, "rfc3339") || !strcmp(value, "wall"))
			ff->time_mono = false;
		else
			return FERR("--time %s: rfc3339 (wall clock, UTC) or mono", value);
		return 0;
	}
	return 1;
}

/* --protocol: a name (tcp, udp, icmp, icmpv6, sctp) or a number. */
static int filter_protocol(struct flow_filter *ff, const char *value, char *err, size_t errlen)
{
	static const struct {
		const char *n;
		int p;
	} protos[] = { { "tcp", IPPROTO_TCP },	 { "udp", IPPROTO_UDP },
		       { "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 },
		       { "sctp", IPPROTO_SCTP } };
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcasecmp(value, protos[i].n)) {
			ff->proto = protos[i].p;
			return 0;
		}
	if (parse_u64(value, 255, &v))
		return FERR("--protocol %s: not tcp, udp, icmp, icmpv6, sctp or a number", value);
	ff->proto = (int)v;
	return 0;
}

int flow_filter_set(struct flow_filter *ff, const char *name, const char *value, char *err,
		    size_t errlen)
{
	int r;

	if (!strncmp(name, "not.", 4))
		return filter_not(ff, name + 4, value, err, errlen);
	if (!strcmp(name, "port"))
		return filter_port(ff, name, value, err, errlen);
	if (!strncmp(name, "from", 4) || !strncmp(name, "to", 2))
		return filter_direction(ff, name, value, err, errlen);
	if ((r = filter_either(ff, name, value, err, errlen)) != 1 ||
	    (r = filter_window(ff, name, value, err, errlen)) != 1)
		return r;
	if (!strcmp(name, "verdict"))
		return vocab_verdict(value, &ff->verdict, err, errlen);
	if (!strcmp(name, "reason"))
		return vocab_reason(value, &ff->reason, err, errlen);
	if (!strcmp(name, "protocol"))
		return filter_protocol(ff, value, err, errlen);
	if (!strcmp(name, "service")) {
		const char *slash = strchr(value, '/');

		if (!slash || slash == value || !slash[1] || strchr(slash + 1, '/') ||
		    strlen(value) >= sizeof(ff->service))
			return FERR("--service %s: a Service is NAMESPACE/NAME[:PORT]", value);
		snprintf(ff->service, sizeof(ff->service), "%s", value);
		return 0;
	}
	return FERR("--%s: no such filter", name);
}

int flow_filter_parse(struct flow_filter *ff, const char *req, char *err, size_t errlen)
{
	char line[1024];

	flow_filter_init(ff);
	while (*req) {
		const char *nl = strchr(req, '\n');
		size_t len = nl ? (size_t)(nl - req) : strlen(req);
		char *eq;
		int e;

		if (len >= sizeof(line))
			return FERR("request line too long");
		memcpy(line, req, len);
		line[len] = '\0';
		req += len + (nl ? 1 : 0);
		if (!len)
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return FERR("request line %s: not name=value", line);
		*eq = '\0';
		e = flow_filter_set(ff, line, eq + 1, err, errlen);
		if (e)
			return e;
	}
	return 0;
}

/* Does m (FM_CIDR) hold addr of family? */
static bool match_holds(const struct flow_match *m, uint8_t family, const uint8_t *addr)
{
	return m->cidr.family == family && xcni_prefix_has(m->cidr.addr, m->cidr.len, addr);
}

/*
 * The value of key in a canonical label set ("k8s:app=web,ns:x/y=z,...") or
 * NULL: "app" finds "k8s:app" as well as a key written in full.
 */
static const char *label_value(const char *labels, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = labels; p && *p;) {
		const char *end = strchr(p, ','), *eq;
		size_t l = end ? (size_t)(end - p) : strlen(p);
		const char *k = p;
		size_t klen;

		eq = memchr(p, '=', l);
		klen = eq ? (size_t)(eq - p) : l;
		if (klen > 4 && !strncmp(k, "k8s:", 4) && !(kl > 4 && !strncmp(key, "k8s:", 4))) {
			k += 4;
			klen -= 4;
		}
		if (klen == kl && !strncmp(k, key, kl)) {
			size_t vl = eq ? l - (size_t)(eq + 1 - p) : 0;

			if (vl >= len)
				vl = len - 1;
			memcpy(buf, eq ? eq + 1 : "", vl);
			buf[vl] = '\0';
			return buf;
		}
		p += l + (end ? 1 : 0);
	}
	return NULL;
}

int flow_match_labels(struct flow_match *m, const char *selector, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	return parse_selector(m, "label", selector, selector, err, errlen);
}

bool flow_labels_match(const struct flow_match *m, const char *labels)
{
	struct flow_peer p = { .labels = labels };

	return match_peer(m, &p, 0, NULL);
}

static bool match_peer(const struct flow_match *m, const struct flow_peer *p, uint8_t family,
		       const uint8_t *addr)
{
	char buf[128];

	switch (m->kind) {
	case FM_NONE:
		return true;
	case FM_CIDR:
		return match_holds(m, family, addr);
	case FM_IDENTITY:
		return p->identity == m->id;
	case FM_NS:
		return p->ns && !strcmp(p->ns, m->ns);
	case FM_POD:
		return p->ns && p->pod && !strcmp(p->ns, m->ns) &&
		       (m->prefix ? !strncmp(p->pod, m->name, strlen(m->name)) :
				    !strcmp(p->pod, m->name));
	case FM_LABELS:
		for (unsigned int i = 0; i < m->nsel; i++) {
			const char *v = label_value(p->labels, m->sel[i].key, buf, sizeof(buf));

			switch (m->sel[i].op) {
			case '=':
				if (!v || strcmp(v, m->sel[i].val))
					return false;
				break;
			case '!':
				if (v && !strcmp(v, m->sel[i].val))
					return false;
				break;
			case 'e':
				if (!v)
					return false;
				break;
			case 'n':
				if (v)
					return false;
				break;
			}
		}
		return true;
	}
	return false;
}

/* A NodePort flow SNATed here is also from its outside client: --from-ip and
 * --ip find it by the client's address (the record's source is this node's). */
static bool match_client(const struct flow_match *m, const struct flow_rec *r)
{
	return r->client_family && m->kind == FM_CIDR && match_holds(m, r->client_family, r->client_addr);
}

bool flow_filter_match(const struct flow_filter *ff, const struct flow_rec *r, uint64_t now_ns,
		       int64_t wall_off_ns)
{
	int64_t last_wall = (int64_t)r->last_ns + wall_off_ns;

	if (r->seq <= ff->after)
		return false;
	/* Hubble's DROPPED: a drop, for any reason (denied, no-backend, dropped). */
	if (ff->verdict == FLOW_VERDICT_PASSED ?
		    r->verdict != FLOW_ALLOWED && r->verdict != FLOW_FORWARDED :
	    ff->verdict == FLOW_VERDICT_DROPS ? !flow_verdict_dropped(r->verdict) :
		    ff->verdict >= 0 && r->verdict != ff->verdict)
		return false;
	if (ff->proto >= 0 && r->key.proto != ff->proto)
		return false;
	if (ff->port >= 0 && r->key.sport != ff->port && r->key.dport != ff->port)
		return false;
	if ((ff->sport >= 0 && r->key.sport != ff->sport) ||
	    (ff->dport >= 0 && r->key.dport != ff->dport))
		return false;
	if (ff->since_ns && now_ns > ff->since_ns && r->last_ns < now_ns - ff->since_ns)
		return false;
	if ((ff->since_wall_ns && last_wall < ff->since_wall_ns) ||
	    (ff->until_wall_ns && last_wall > ff->until_wall_ns) ||
	    (ff->until_ago_ns && (now_ns < ff->until_ago_ns ||
				  r->last_ns > now_ns - ff->until_ago_ns)))
		return false;
	if (ff->reason && r->reason != ff->reason)
		return false;
	for (int i = 0; i < FLOW_EITHER_NR; i++)
		if (ff->either[i].kind != FM_NONE &&
		    !match_peer(&ff->either[i], &r->src, r->key.family, r->key.saddr) &&
		    !match_peer(&ff->either[i], &r->dst, r->key.family, r->key.daddr) &&
		    !match_client(&ff->either[i], r))
			return false;
	for (unsigned int i = 0; i < ff->nnots; i++)
		if (flow_filter_match(&ff->nots[i], r, now_ns, wall_off_ns))
			return false;
	if (ff->service[0]) {
		size_t l = strlen(ff->service);

		/* "ns/name" matches every port of it; "ns/name:port" that one. */
		if (!r->service || strncmp(r->service, ff->service, l) ||
		    (r->service[l] && (strchr(ff->service, ':') || r->service[l] != ':')))
			return false;
	}
	return (match_peer(&ff->from, &r->src, r->key.family, r->key.saddr) ||
		match_client(&ff->from, r)) &&
	       match_peer(&ff->to, &r->dst, r->key.family, r->key.daddr);
}
