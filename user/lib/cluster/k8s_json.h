/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helpers every Kubernetes parser uses (k8s_json.c): the parse context,
 * the field path and its errors, typed field access and the validators.
 * Internal to libxcni (every name kj_, for Kubernetes JSON: libxcni is one
 * archive and its names one namespace); the interface is k8s.h.
 */
#ifndef XCNI_K8S_JSON_H
#define XCNI_K8S_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/cluster/k8s.h"

struct kj_ctx {
	struct k8s_error *err;
	const char *kind;
	const char *ns; /* NULL for cluster-scoped kinds */
	const char *name; /* NULL until known */
	char path[256];
	size_t plen;
	bool lb; /* k8s_parse_all, k8s_parse_lb: every Service type */
};

/* clang-format off */
#define DNS_LABEL_RULE \
	"lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63 characters"
#define DNS_SUBDOMAIN_RULE \
	"lowercase alphanumerics, '-' and '.', each part starting and ending alphanumeric, " \
	"at most 253 characters"
#define PORT_NAME_RULE \
	"at most 15 characters of lowercase alphanumerics and '-', with at least one letter, " \
	"not starting, ending or doubling '-'"
/* clang-format on */

enum port_name_form { PN_PORT_NAME, PN_DNS_LABEL };

/* Field path: "spec" + ".ingress" + "[0]"; field and idx return what pop restores. */
size_t kj_field(struct kj_ctx *c, const char *name);
size_t kj_idx(struct kj_ctx *c, size_t i);
void kj_pop(struct kj_ctx *c, size_t old);
/*
 * The list arr under key, each element parsed by fn at its own path (key[i])
 * into a calloc'd array of size-byte elements: *out and *n set before the
 * first element (the caller's object frees them), nothing for an empty or
 * absent list. 0, or the first element's error.
 */
int kj_parse_list(struct kj_ctx *c, const char *key, json_t *arr, size_t size, void **out,
		  size_t *n, int (*fn)(struct kj_ctx *c, json_t *v, void *elem, const void *arg),
		  const void *arg);
/*
 * Each element of the list arr under key at its own path (key[i]), "must be a
 * string" for one that is not, fn given the strings (arr's i-th) in order,
 * with what the earlier ones were. 0, or the first error.
 */
int kj_each_str(struct kj_ctx *c, const char *key, json_t *arr,
		int (*fn)(struct kj_ctx *c, json_t *arr, size_t i, void *arg), void *arg);
/* The same for parent's field key (kj_get_arr: a list, or absent). */
int kj_parse_field(struct kj_ctx *c, json_t *parent, const char *key, size_t size, void **out,
		   size_t *n, int (*fn)(struct kj_ctx *c, json_t *v, void *elem, const void *arg),
		   const void *arg);
/* doc's spec, required (an object), into *spec, its path pushed (kj_pop(c, *old)). 0 or -EINVAL. */
int kj_spec(struct kj_ctx *c, json_t *doc, json_t **spec, size_t *old);
/* "<Kind> <ns>/<name>: <path>: <what>"; -EINVAL. fail_in: one more field on the path. */
int kj_fail(struct kj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kj_fail_in(struct kj_ctx *c, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Typed field access: absent (or null) -> *out NULL / false, wrong type -> error. */
json_t *kj_get(json_t *obj, const char *key);
int kj_get_obj(struct kj_ctx *c, json_t *parent, const char *key, json_t **out);
int kj_get_arr(struct kj_ctx *c, json_t *parent, const char *key, json_t **out);
int kj_get_str(struct kj_ctx *c, json_t *parent, const char *key, const char **out);
int kj_get_int(struct kj_ctx *c, json_t *parent, const char *key, long long lo, long long hi,
	       long long *out, bool *present);
/* RFC 1123 label (namespace names); subdomain (most object names, node names). */
bool kj_is_dns_label(const char *s);
bool kj_is_dns_subdomain(const char *s);
bool kj_is_port_name(const char *s);
int kj_port_name_take(struct kj_ctx *c, json_t *names, const char *name, enum port_name_form form,
		      char **out);
bool kj_parse_ipv4(const char *s, uint32_t *out);
bool kj_is_ipv6(const char *s);
/* qsort order of struct k8s_label: by key, as parse_labels leaves them. */
int kj_label_cmp(const void *a, const void *b);
int kj_parse_labels(struct kj_ctx *c, json_t *parent, const char *key, struct k8s_labels *out);
int kj_parse_proto(struct kj_ctx *c, json_t *parent, uint8_t *out);
/*
 * A policy rule's port, parent's field key, the one reader of both kinds of
 * policy (each names its own fields): a number 1 to 65535 into *num, or a
 * port name strdup'd into *name, or (both given) either. A NULL num or name
 * is a kind the field may not hold. Absent: 0, nothing set.
 */
int kj_rule_port(struct kj_ctx *c, json_t *parent, const char *key, uint16_t *num, char **name);
/* A JSON string may hold NUL; no Kubernetes name or value may. */
bool kj_has_nul(json_t *s);
/* 0, -EINVAL; host bits cleared (the API server parses CIDRs sloppily). */
int kj_parse_cidr(const char *s, struct xcni_prefix *out);
/* kj_parse_cidr, failing at field key of c->path (NULL: at c->path, a list's element). */
int kj_get_cidr(struct kj_ctx *c, const char *key, const char *s, struct xcni_prefix *out);
/* metav1.LabelSelector at c->path; j must be present. */
int kj_parse_selector(struct kj_ctx *c, json_t *j, struct k8s_selector *s);
/* An optional selector field of parent: *out stays NULL when absent. */
int kj_parse_opt_selector(struct kj_ctx *c, json_t *parent, const char *key,
			  struct k8s_selector **out);
void kj_selector_free(struct k8s_selector *s);
/* What kj_parse_opt_selector allocated (NULL: none), freed with it. */
void kj_selector_drop(struct k8s_selector *s);

#endif
