// SPDX-License-Identifier: Apache-2.0
/*
 * What the Kubernetes parsers share (k8s.c: metadata, Pod, Node and the
 * dispatch; k8s_svc.c: Service, EndpointSlice; k8s_netpol.c: NetworkPolicy):
 * the field path and its errors, typed field access, the API machinery's
 * name rules, addresses and CIDRs, labels and selectors, protocols and ports.
 * It calls none of them, so the parsers call down into it and never round.
 *
 * A JSON null is treated as an absent field throughout, as Go's decoder does.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "lib/cluster/k8s.h"
#include "lib/cluster/k8s_json.h"

/* Field path: "spec" + ".ingress" + "[0]"; push returns what pop restores. */
static size_t push(struct kj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t push(struct kj_ctx *c, const char *fmt, ...)
{
	size_t old = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen = old + n < sizeof(c->path) ? old + n : sizeof(c->path) - 1;
	return old;
}

size_t kj_field(struct kj_ctx *c, const char *name)
{
	return push(c, c->plen ? ".%s" : "%s", name);
}

size_t kj_idx(struct kj_ctx *c, size_t i)
{
	return push(c, "[%zu]", i);
}

void kj_pop(struct kj_ctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

int kj_parse_list(struct kj_ctx *c, const char *key, json_t *arr, size_t size, void **out,
		  size_t *n, int (*fn)(struct kj_ctx *c, json_t *v, void *elem, const void *arg),
		  const void *arg)
{
	size_t i, old;
	json_t *v;
	int err = 0;

	if (!arr || !json_array_size(arr))
		return 0;
	*out = calloc(json_array_size(arr), size);
	if (!*out)
		return -ENOMEM;
	*n = json_array_size(arr);
	old = kj_field(c, key);
	json_array_foreach(arr, i, v) {
		size_t o = kj_idx(c, i);

		err = json_is_object(v) ? fn(c, v, (char *)*out + i * size, arg) :
					  kj_fail(c, "must be an object");
		kj_pop(c, o);
		if (err)
			break;
	}
	kj_pop(c, old);
	return err;
}

int kj_each_str(struct kj_ctx *c, const char *key, json_t *arr,
		int (*fn)(struct kj_ctx *c, json_t *arr, size_t i, void *arg), void *arg)
{
	size_t i, old = kj_field(c, key);
	json_t *v;
	int err = 0;

	json_array_foreach(arr, i, v) {
		size_t o = kj_idx(c, i);

		err = json_is_string(v) ? fn(c, arr, i, arg) : kj_fail(c, "must be a string");
		kj_pop(c, o);
		if (err)
			break;
	}
	kj_pop(c, old);
	return err;
}

int kj_parse_field(struct kj_ctx *c, json_t *parent, const char *key, size_t size, void **out,
		   size_t *n, int (*fn)(struct kj_ctx *c, json_t *v, void *elem, const void *arg),
		   const void *arg)
{
	json_t *arr;

	return kj_get_arr(c, parent, key, &arr) ?: kj_parse_list(c, key, arr, size, out, n, fn, arg);
}

int kj_spec(struct kj_ctx *c, json_t *doc, json_t **spec, size_t *old)
{
	int err = kj_get_obj(c, doc, "spec", spec);

	if (err)
		return err;
	if (!*spec)
		return kj_fail_in(c, "spec", "required");
	*old = kj_field(c, "spec");
	return 0;
}

/* "<Kind> <ns>/<name>: <path>: <what>"; -EINVAL. */
int kj_fail(struct kj_ctx *c, const char *fmt, ...)
{
	char *msg = c->err->msg;
	size_t sz = sizeof(c->err->msg);
	va_list ap;
	int off;

	off = snprintf(msg, sz, "%s %s%s%s%s%s", c->kind, c->ns ? c->ns : "", c->ns ? "/" : "",
		       c->name ? c->name : "<unnamed>", c->plen ? ": " : "", c->path);
	if (off < 0 || (size_t)off >= sz - 2)
		return -EINVAL;
	msg[off++] = ':';
	msg[off++] = ' ';
	va_start(ap, fmt);
	vsnprintf(msg + off, sz - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* kj_fail() with one more field on the path. */
int kj_fail_in(struct kj_ctx *c, const char *name, const char *fmt, ...)
{
	size_t old = kj_field(c, name);
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	kj_fail(c, "%s", what);
	kj_pop(c, old);
	return -EINVAL;
}

/* ---- typed field access: absent (or null) -> *out NULL / false, wrong type -> error ---- */

json_t *kj_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

int kj_get_obj(struct kj_ctx *c, json_t *parent, const char *key, json_t **out)
{
	*out = kj_get(parent, key);
	if (*out && !json_is_object(*out))
		return kj_fail_in(c, key, "must be an object");
	return 0;
}

int kj_get_arr(struct kj_ctx *c, json_t *parent, const char *key, json_t **out)
{
	*out = kj_get(parent, key);
	if (*out && !json_is_array(*out))
		return kj_fail_in(c, key, "must be a list");
	return 0;
}

int kj_get_str(struct kj_ctx *c, json_t *parent, const char *key, const char **out)
{
	json_t *v = kj_get(parent, key);

	*out = NULL;
	if (v && !json_is_string(v))
		return kj_fail_in(c, key, "must be a string");
	if (v)
		*out = json_string_value(v);
	return 0;
}

/* A JSON string may hold NUL; no Kubernetes name or value may. */
bool kj_has_nul(json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

/* ---- the API machinery's name rules (k8s.io/apimachinery/pkg/util/validation) ---- */

static bool lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool alnum(char ch)
{
	return isascii(ch) && isalnum((unsigned char)ch);
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? of len bytes. */
static bool dns_label_part(const char *s, size_t len)
{
	if (!len || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool kj_is_dns_label(const char *s)
{
	size_t len = strlen(s);

	return len <= 63 && dns_label_part(s, len);
}

bool kj_is_dns_subdomain(const char *s)
{
	size_t len = strlen(s);
	const char *dot;

	if (!len || len > 253)
		return false;
	for (;;) {
		dot = strchr(s, '.');
		if (!dns_label_part(s, dot ? (size_t)(dot - s) : strlen(s)))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 bytes; "" allowed if may_be_empty. */
static bool label_part(const char *s, size_t len, bool may_be_empty)
{
	if (!len)
		return may_be_empty;
	if (len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* A label key: [prefix/]name, prefix a DNS-1123 subdomain. */
static bool is_qualified_name(const char *s)
{
	const char *slash = strchr(s, '/');
	char prefix[254];
	size_t plen;

	if (!slash)
		return label_part(s, strlen(s), false);
	plen = slash - s;
	if (!plen || plen >= sizeof(prefix))
		return false;
	memcpy(prefix, s, plen);
	prefix[plen] = '\0';
	return kj_is_dns_subdomain(prefix) && label_part(slash + 1, strlen(slash + 1), false);
}

static bool is_label_value(const char *s)
{
	return label_part(s, strlen(s), true);
}

/* IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter somewhere, no '-' at the ends or twice. */
bool kj_is_port_name(const char *s)
{
	size_t len = strlen(s);
	bool letter = false;

	if (!len || len > 15 || s[0] == '-' || s[len - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
		letter |= s[i] >= 'a' && s[i] <= 'z';
	}
	return letter;
}

/*
 * A port's name (a container's, a Service's, an EndpointSlice's): of the form
 * the kind asks (an empty one is not checked), unique among names, where it is
 * recorded; copied to *out. Named ports are looked up by name, hence unique.
 */
int kj_port_name_take(struct kj_ctx *c, json_t *names, const char *name, enum port_name_form form,
		      char **out)
{
	if (*name && form == PN_PORT_NAME && !kj_is_port_name(name))
		return kj_fail_in(c, "name", "\"%s\" is not a valid port name (%s)", name,
				  PORT_NAME_RULE);
	if (*name && form == PN_DNS_LABEL && (!kj_is_dns_label(name) || strlen(name) > 63))
		return kj_fail_in(c, "name", "\"%s\" is not a valid DNS-1123 label (%s)", name,
				  DNS_LABEL_RULE);
	if (json_object_get(names, name))
		return kj_fail_in(c, "name", "duplicate port name \"%s\"", name);
	if (json_object_set_new(names, name, json_true()))
		return -ENOMEM;
	*out = strdup(name);
	return *out ? 0 : -ENOMEM;
}

/* ---- addresses ---- */

bool kj_parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	/* inet_pton takes dotted quads only (no octal, no short forms), like Go's parser. */
	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

bool kj_is_ipv6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/*
 * 0 with the network, or -EINVAL. Host bits are cleared, not rejected: the
 * API server parses CIDRs "sloppily" (netutils.ParseCIDRSloppy) and a policy
 * with 10.1.2.3/16 applies to 10.1.0.0/16, so accepting it here keeps xcnid
 * in step with the cluster. LEN as the API server writes it (1-3 digits, no
 * leading zero).
 */
int kj_parse_cidr(const char *s, struct xcni_prefix *out)
{
	return xcni_prefix_parse(s, XCNI_CIDR_STRICT | XCNI_CIDR_NET, out);
}

int kj_get_cidr(struct kj_ctx *c, const char *key, const char *s, struct xcni_prefix *out)
{
	size_t old = key ? kj_field(c, key) : c->plen;
	int err = kj_parse_cidr(s, out) ? kj_fail(c, "\"%s\" is not a valid IPv4 or IPv6 CIDR", s) : 0;

	kj_pop(c, old);
	return err;
}

/* ---- labels and selectors ---- */

void k8s_labels_free(struct k8s_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool k8s_labels_equal(const struct k8s_labels *a, const struct k8s_labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) || strcmp(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

int kj_label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct k8s_label *)a)->key, ((const struct k8s_label *)b)->key);
}

/* A string -> string map of label keys and values (metadata.labels, matchLabels). */
int kj_parse_labels(struct kj_ctx *c, json_t *parent, const char *key, struct k8s_labels *out)
{
	json_t *obj, *v;
	const char *k;
	size_t old;
	int err;

	err = kj_get_obj(c, parent, key, &obj);
	if (err || !obj)
		return err;
	out->v = calloc(json_object_size(obj) ?: 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	old = kj_field(c, key);
	json_object_foreach(obj, k, v) {
		if (!is_qualified_name(k)) {
			err = kj_fail(c, "key \"%s\" is not a valid label key (an optional "
				      "DNS-1123 subdomain prefix and '/', then at most 63 "
				      "alphanumerics, '-', '_' or '.', starting and ending "
				      "alphanumeric)", k);
			goto out;
		}
		if (!json_is_string(v)) {
			err = kj_fail_in(c, k, "must be a string");
			goto out;
		}
		if (kj_has_nul(v) || !is_label_value(json_string_value(v))) {
			err = kj_fail_in(c, k, "\"%s\" is not a valid label value (at most 63 "
					 "alphanumerics, '-', '_' or '.', starting and ending "
					 "alphanumeric, or empty)", json_string_value(v));
			goto out;
		}
		out->v[out->n].key = strdup(k);
		out->v[out->n].value = strdup(json_string_value(v));
		out->n++;
		if (!out->v[out->n - 1].key || !out->v[out->n - 1].value) {
			err = -ENOMEM;
			goto out;
		}
	}
	qsort(out->v, out->n, sizeof(*out->v), kj_label_cmp);
out:
	kj_pop(c, old);
	return err;
}

void kj_selector_free(struct k8s_selector *s)
{
	k8s_labels_free(&s->match_labels);
	for (size_t i = 0; i < s->nexprs; i++) {
		struct k8s_sel_expr *e = &s->exprs[i];

		free(e->key);
		for (size_t j = 0; j < e->nvalues; j++)
			free(e->values[j]);
		free(e->values);
	}
	free(s->exprs);
	memset(s, 0, sizeof(*s));
}

void kj_selector_drop(struct k8s_selector *s)
{
	if (s)
		kj_selector_free(s);
	free(s);
}

static int parse_expr(struct kj_ctx *c, json_t *j, void *elem, const void *arg)
{
	struct k8s_sel_expr *e = elem;
	static const char *const ops[] = {
		[K8S_SEL_IN] = "In",
		[K8S_SEL_NOT_IN] = "NotIn",
		[K8S_SEL_EXISTS] = "Exists",
		[K8S_SEL_DOES_NOT_EXIST] = "DoesNotExist",
	};
	const char *key, *op;
	json_t *values, *v;
	size_t i, n, old;
	int err;

	(void)arg;
	err = kj_get_str(c, j, "key", &key);
	if (err)
		return err;
	if (!key)
		return kj_fail_in(c, "key", "required");
	if (!is_qualified_name(key))
		return kj_fail_in(c, "key", "\"%s\" is not a valid label key", key);
	err = kj_get_str(c, j, "operator", &op);
	if (err)
		return err;
	if (!op)
		return kj_fail_in(c, "operator", "required");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i]))
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return kj_fail_in(c, "operator",
				  "\"%s\" is not a valid selector operator (In, NotIn, Exists, "
				  "DoesNotExist)",
			       op);
	e->op = i;
	err = kj_get_arr(c, j, "values", &values);
	if (err)
		return err;
	n = values ? json_array_size(values) : 0;
	if ((e->op == K8S_SEL_IN || e->op == K8S_SEL_NOT_IN) && !n)
		return kj_fail_in(c, "values", "must be non-empty when operator is %s", op);
	if ((e->op == K8S_SEL_EXISTS || e->op == K8S_SEL_DOES_NOT_EXIST) && n)
		return kj_fail_in(c, "values", "must be empty when operator is %s", op);
	e->key = strdup(key);
	if (!e->key)
		return -ENOMEM;
	if (!n)
		return 0;
	e->values = calloc(n, sizeof(*e->values));
	if (!e->values)
		return -ENOMEM;
	e->nvalues = n;
	old = kj_field(c, "values");
	json_array_foreach(values, i, v) {
		if (!json_is_string(v) || kj_has_nul(v) || !is_label_value(json_string_value(v))) {
			size_t o = kj_idx(c, i);

			err = json_is_string(v) ? kj_fail(c, "\"%s\" is not a valid label value",
							  json_string_value(v))
						: kj_fail(c, "must be a string");
			kj_pop(c, o);
			break;
		}
		e->values[i] = strdup(json_string_value(v));
		if (!e->values[i]) {
			err = -ENOMEM;
			break;
		}
	}
	kj_pop(c, old);
	return err;
}

/* metav1.LabelSelector at c->path; j must be present. */
int kj_parse_selector(struct kj_ctx *c, json_t *j, struct k8s_selector *s)
{
	if (!json_is_object(j))
		return kj_fail(c, "must be an object");
	return kj_parse_labels(c, j, "matchLabels", &s->match_labels) ?:
	       kj_parse_field(c, j, "matchExpressions", sizeof(*s->exprs), (void **)&s->exprs,
			      &s->nexprs, parse_expr, NULL);
}

/* An optional selector field of parent: *out stays NULL when absent. */
int kj_parse_opt_selector(struct kj_ctx *c, json_t *parent, const char *key,
			  struct k8s_selector **out)
{
	json_t *j = kj_get(parent, key);
	size_t old;
	int err;

	if (!j)
		return 0;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	old = kj_field(c, key);
	err = kj_parse_selector(c, j, *out);
	kj_pop(c, old);
	return err;
}

const char *k8s_label_get(const struct k8s_labels *labels, const char *key)
{
	size_t lo = 0, hi = labels->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(key, labels->v[mid].key);

		if (!cmp)
			return labels->v[mid].value;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static bool in_values(const struct k8s_sel_expr *e, const char *v)
{
	for (size_t i = 0; i < e->nvalues; i++)
		if (!strcmp(e->values[i], v))
			return true;
	return false;
}

bool k8s_selector_matches(const struct k8s_selector *sel, const struct k8s_labels *labels)
{
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		const char *v = k8s_label_get(labels, sel->match_labels.v[i].key);

		if (!v || strcmp(v, sel->match_labels.v[i].value))
			return false;
	}
	for (size_t i = 0; i < sel->nexprs; i++) {
		const struct k8s_sel_expr *e = &sel->exprs[i];
		const char *v = k8s_label_get(labels, e->key);
		bool ok;

		switch (e->op) {
		case K8S_SEL_IN:
			ok = v && in_values(e, v);
			break;
		case K8S_SEL_NOT_IN:
			/* An absent key is "not in" any set: Kubernetes selects such objects. */
			ok = !v || !in_values(e, v);
			break;
		case K8S_SEL_EXISTS:
			ok = v;
			break;
		case K8S_SEL_DOES_NOT_EXIST:
			ok = !v;
			break;
		default:
			ok = false;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* ---- protocols and ports ---- */

int kj_parse_proto(struct kj_ctx *c, json_t *parent, uint8_t *out)
{
	const char *p;
	int err = kj_get_str(c, parent, "protocol", &p);

	if (err)
		return err;
	if (!p || !strcmp(p, "TCP"))
		*out = IPPROTO_TCP;
	else if (!strcmp(p, "UDP"))
		*out = IPPROTO_UDP;
	else if (!strcmp(p, "SCTP"))
		*out = IPPROTO_SCTP;
	else
		return kj_fail_in(c, "protocol", "\"%s\" is not supported (TCP, UDP, SCTP)", p);
	return 0;
}

int kj_rule_port(struct kj_ctx *c, json_t *parent, const char *key, uint16_t *num, char **name)
{
	json_t *v = kj_get(parent, key);
	const char *s = json_string_value(v);
	long long n;
	bool has;
	int err;

	if (num && (!name || json_is_integer(v))) {
		err = kj_get_int(c, parent, key, 1, 65535, &n, &has);
		if (!err && has)
			*num = (uint16_t)n;
		return err;
	}
	if (!v)
		return 0;
	if (num && !s)
		return kj_fail_in(c, key, "must be an integer or a string");
	if (!s || kj_has_nul(v) || !kj_is_port_name(s))
		return kj_fail_in(c, key, "\"%s\" is not a valid port name (%s)", s ? s : "?",
				  PORT_NAME_RULE);
	*name = strdup(s);
	return *name ? 0 : -ENOMEM;
}

/* An integer field in [lo, hi]; *present false when absent. */
int kj_get_int(struct kj_ctx *c, json_t *parent, const char *key, long long lo, long long hi,
	       long long *out, bool *present)
{
	json_t *v = kj_get(parent, key);

	*present = v;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return kj_fail_in(c, key, "must be an integer");
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return kj_fail_in(c, key, "%lld must be between %lld and %lld, inclusive", *out, lo,
				  hi);
	return 0;
}

