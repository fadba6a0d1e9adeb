// SPDX-License-Identifier: Apache-2.0
/*
 * Manifests (YAML or JSON, multi-document) -> jansson trees, the form
 * k8s_parse() reads. libyaml's event API rather than its document API: only
 * events say whether a scalar was plain and untagged, which is what decides
 * between `port: 80` (a number) and `port: "80"` (a string).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "lib/cluster/k8s.h"
#include "lib/system/util.h"

/* Deep enough for any real manifest; bounds the recursion on hostile input. */
#define MAX_DEPTH 128
/*
 * Values that alias copies may add per stream: stops "billion laughs", while
 * plain values stay bounded by the input size alone.
 */
#define MAX_ALIAS_VALUES (1u << 20)
#define MAX_FILE_SIZE (64u << 20)

#define TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
	char *name;
	json_t *val;
	size_t size; /* values in val, charged again for every alias copy */
};

struct loader {
	yaml_parser_t p;
	yaml_event_t ev; /* the current event */
	struct anchor *anchors;
	size_t nanchors, cap_anchors;
	size_t nvalues; /* created so far, to size anchored subtrees */
	size_t ncopied; /* added by alias copies */
	struct k8s_error *err;
};

struct docs {
	json_t **v;
	size_t n, cap;
};

static int at(struct loader *l, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int at(struct loader *l, yaml_mark_t m, const char *fmt, ...)
{
	int off = snprintf(l->err->msg, sizeof(l->err->msg), "line %zu, column %zu: ", m.line + 1,
			   m.column + 1);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err->msg + off, sizeof(l->err->msg) - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parser_error(struct loader *l)
{
	yaml_parser_t *p = &l->p;
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(l->err->msg, sizeof(l->err->msg), "out of memory");
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		snprintf(l->err->msg, sizeof(l->err->msg), "byte %zu: %s", p->problem_offset,
			 p->problem ? p->problem : "unreadable input");
		return -EINVAL;
	}
	if (p->context)
		return at(l, m, "%s (%s at line %zu, column %zu)", p->problem, p->context,
			  p->context_mark.line + 1, p->context_mark.column + 1);
	return at(l, m, "%s", p->problem ? p->problem : "syntax error");
}

static int next(struct loader *l)
{
	yaml_event_delete(&l->ev);
	if (!yaml_parser_parse(&l->p, &l->ev))
		return parser_error(l);
	return 0;
}

static void anchors_clear(struct loader *l)
{
	for (size_t i = 0; i < l->nanchors; i++) {
		free(l->anchors[i].name);
		json_decref(l->anchors[i].val);
	}
	free(l->anchors);
	l->anchors = NULL;
	l->nanchors = l->cap_anchors = 0;
}

static int anchor_add(struct loader *l, const char *name, json_t *val, size_t size)
{
	struct anchor *a;

	if (XCNI_GROW(l->anchors, l->nanchors, l->cap_anchors))
		return -ENOMEM;
	a = &l->anchors[l->nanchors];
	a->name = strdup(name);
	if (!a->name)
		return -ENOMEM;
	a->val = json_incref(val);
	a->size = size;
	l->nanchors++;
	return 0;
}

static bool is_one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static bool all_of(const char *s, const char *chars)
{
	return *s && strspn(s, chars) == strlen(s);
}

#define DIGITS "0123456789"

/* JSON has no infinities: a number too large for a double stays the text it was. */
static json_t *real_or_string(const char *s)
{
	double d = strtod(s, NULL);

	return isfinite(d) ? json_real(d) : json_string(s);
}

/* YAML 1.2 core schema integer: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. */
static json_t *core_int(const char *s, bool *is)
{
	const char *d = s + (*s == '-' || *s == '+');
	int base = 10;
	long long v;
	char *end;

	*is = true;
	if (!strncmp(s, "0o", 2) && all_of(s + 2, "01234567")) {
		base = 8;
		d = s + 2;
	} else if (!strncmp(s, "0x", 2) && all_of(s + 2, DIGITS "abcdefABCDEF")) {
		base = 16;
		d = s + 2;
	} else if (!all_of(d, DIGITS)) {
		*is = false;
		return NULL;
	}
	errno = 0;
	v = strtoll(base == 10 ? s : d, &end, base);
	/* Past 64 bits JSON has only reals left, as encoding/json would give. */
	if (errno == ERANGE)
		return real_or_string(s);
	return json_integer(v);
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool core_float(const char *s)
{
	size_t n;

	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		n = strspn(++s, DIGITS);
		if (!n)
			return false;
		s += n;
	} else {
		n = strspn(s, DIGITS);
		if (!n)
			return false;
		s += n;
		if (*s == '.')
			s += 1 + strspn(s + 1, DIGITS);
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		n = strspn(s, DIGITS);
		if (!n)
			return false;
		s += n;
	}
	return !*s;
}

/* A plain, untagged scalar under the YAML 1.2 core schema. */
static json_t *resolve_plain(const char *s, size_t len)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	json_t *v;
	bool is;

	if (!len || is_one_of(s, nulls))
		return json_null();
	if (is_one_of(s, trues))
		return json_true();
	if (is_one_of(s, falses))
		return json_false();
	v = core_int(s, &is);
	if (is)
		return v;
	/* .inf and .nan have no JSON form: they stay strings. */
	if (core_float(s))
		return real_or_string(s);
	return json_stringn(s, len);
}

static int scalar(struct loader *l, json_t **out)
{
	const yaml_event_t *ev = &l->ev;
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

	if (!tag || !strcmp(tag, "!")) {
		/* Quoted, literal and folded scalars are strings; "!" asks for that too. */
		*out = plain && !tag ? resolve_plain(s, len) : json_stringn(s, len);
	} else if (!strcmp(tag, TAG_PREFIX "str")) {
		*out = json_stringn(s, len);
	} else if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) &&
		   is_one_of(tag + strlen(TAG_PREFIX),
			     (const char *const[]){ "int", "float", "bool", "null", NULL })) {
		const char *want = tag + strlen(TAG_PREFIX);
		json_t *v = resolve_plain(s, len);
		bool ok = v && ((!strcmp(want, "int") && json_is_integer(v)) ||
				(!strcmp(want, "float") && json_is_number(v)) ||
				(!strcmp(want, "bool") && json_is_boolean(v)) ||
				(!strcmp(want, "null") && json_is_null(v)));

		if (!ok) {
			json_decref(v);
			return at(l, ev->start_mark, "\"%.*s\" is not a valid !!%s", (int)len, s,
				  want);
		}
		*out = v;
	} else {
		return at(l, ev->start_mark, "unsupported tag %s", tag);
	}
	return *out ? 0 : -ENOMEM;
}

static int node(struct loader *l, int depth, json_t **out);

static int sequence(struct loader *l, int depth, json_t **out)
{
	json_t *arr = json_array(), *v;
	int err;

	if (!arr)
		return -ENOMEM;
	for (;;) {
		err = next(l);
		if (err)
			goto err_arr;
		if (l->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		err = node(l, depth + 1, &v);
		if (err)
			goto err_arr;
		if (json_array_append_new(arr, v)) {
			err = -ENOMEM;
			goto err_arr;
		}
	}
	*out = arr;
	return 0;

err_arr:
	json_decref(arr);
	return err;
}

static int mapping(struct loader *l, int depth, json_t **out)
{
	json_t *obj = json_object(), *v;
	yaml_mark_t kmark;
	char *key = NULL;
	int err;

	if (!obj)
		return -ENOMEM;
	for (;;) {
		err = next(l);
		if (err)
			goto err_obj;
		if (l->ev.type == YAML_MAPPING_END_EVENT)
			break;
		kmark = l->ev.start_mark;
		/* JSON object keys are strings; so are all keys in Kubernetes objects. */
		if (l->ev.type != YAML_SCALAR_EVENT) {
			err = at(l, kmark, "mapping keys must be scalars");
			goto err_obj;
		}
		if (strlen((const char *)l->ev.data.scalar.value) != l->ev.data.scalar.length) {
			err = at(l, kmark, "mapping key contains a NUL byte");
			goto err_obj;
		}
		key = strdup((const char *)l->ev.data.scalar.value);
		if (!key) {
			err = -ENOMEM;
			goto err_obj;
		}
		/* kubectl rejects duplicate keys rather than keeping one silently. */
		if (json_object_get(obj, key)) {
			err = at(l, kmark, "duplicate key \"%s\"", key);
			goto err_key;
		}
		err = next(l);
		if (err)
			goto err_key;
		err = node(l, depth + 1, &v);
		if (err)
			goto err_key;
		if (json_object_set_new(obj, key, v)) {
			err = -ENOMEM;
			goto err_key;
		}
		free(key);
		key = NULL;
	}
	*out = obj;
	return 0;

err_key:
	free(key);
err_obj:
	json_decref(obj);
	return err;
}

static int alias(struct loader *l, json_t **out)
{
	const char *name = (const char *)l->ev.data.alias.anchor;

	/* The latest definition of a name wins; the list is searched backwards. */
	for (size_t i = l->nanchors; i-- > 0;) {
		struct anchor *a = &l->anchors[i];

		if (strcmp(a->name, name))
			continue;
		if (a->size > MAX_ALIAS_VALUES - l->ncopied)
			return at(l, l->ev.start_mark, "aliases expand to too many values");
		l->ncopied += a->size;
		l->nvalues += a->size;
		/* A copy, so that no two places in the tree share one value. */
		*out = json_deep_copy(a->val);
		return *out ? 0 : -ENOMEM;
	}
	/* Anchors are registered when their node ends, so this also rejects cycles. */
	return at(l, l->ev.start_mark, "unknown alias *%s", name);
}

/* Builds the node starting at the current event; leaves its last event current. */
static int node(struct loader *l, int depth, json_t **out)
{
	size_t before = l->nvalues;
	yaml_mark_t mark = l->ev.start_mark;
	char *anchor = NULL;
	int err;

	if (depth > MAX_DEPTH)
		return at(l, mark, "nested deeper than %d levels", MAX_DEPTH);
	l->nvalues++;

	switch (l->ev.type) {
	case YAML_ALIAS_EVENT:
		return alias(l, out);
	case YAML_SCALAR_EVENT:
		if (l->ev.data.scalar.anchor &&
		    !(anchor = strdup((char *)l->ev.data.scalar.anchor)))
			return -ENOMEM;
		err = scalar(l, out);
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (l->ev.data.sequence_start.anchor &&
		    !(anchor = strdup((char *)l->ev.data.sequence_start.anchor)))
			return -ENOMEM;
		err = sequence(l, depth, out);
		break;
	case YAML_MAPPING_START_EVENT:
		if (l->ev.data.mapping_start.anchor &&
		    !(anchor = strdup((char *)l->ev.data.mapping_start.anchor)))
			return -ENOMEM;
		err = mapping(l, depth, out);
		break;
	default:
		return at(l, mark, "unexpected YAML event %d", l->ev.type);
	}
	if (!err && anchor) {
		err = anchor_add(l, anchor, *out, l->nvalues - before);
		if (err)
			json_decref(*out);
	}
	free(anchor);
	return err;
}

static int docs_add(struct docs *d, json_t *doc)
{
	if (XCNI_GROW(d->v, d->n, d->cap))
		return -ENOMEM;
	d->v[d->n++] = json_incref(doc);
	return 0;
}

static bool is_list(json_t *doc)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	size_t len = kind ? strlen(kind) : 0;

	/* kubectl flattens "List" and the typed lists (PodList, ...) alike. */
	return kind && len >= 4 && !strcmp(kind + len - 4, "List") &&
	       json_is_array(json_object_get(doc, "items"));
}

static int add_doc(struct loader *l, struct docs *d, yaml_mark_t mark, json_t *doc, int depth,
		   const char *where)
{
	json_t *item;
	size_t i;
	int err;

	if (!json_is_object(doc))
		return at(l, mark, "%s is not a mapping", where);
	if (!is_list(doc))
		return docs_add(d, doc);
	if (depth > 8)
		return at(l, mark, "Lists nested too deeply");
	json_array_foreach(json_object_get(doc, "items"), i, item) {
		char what[64];

		snprintf(what, sizeof(what), "items[%zu] of the List", i);
		err = add_doc(l, d, mark, item, depth + 1, what);
		if (err)
			return err;
	}
	return 0;
}

int k8s_load_stream(const char *buf, size_t len, json_t ***docs, size_t *ndocs,
		    struct k8s_error *err)
{
	struct loader l = { .err = err };
	struct docs d = { 0 };
	yaml_mark_t mark;
	json_t *root;
	int ret;

	err->msg[0] = '\0';
	if (!yaml_parser_initialize(&l.p)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&l.p, (const unsigned char *)buf, len);

	ret = next(&l); /* STREAM-START */
	if (ret)
		goto err_docs;
	for (;;) {
		ret = next(&l);
		if (ret)
			goto err_docs;
		if (l.ev.type == YAML_STREAM_END_EVENT)
			break;
		/* DOCUMENT-START: its mark is where the document begins. */
		mark = l.ev.start_mark;
		ret = next(&l);
		if (ret)
			goto err_docs;
		ret = node(&l, 0, &root);
		if (ret)
			goto err_docs;
		ret = next(&l); /* DOCUMENT-END */
		if (ret) {
			json_decref(root);
			goto err_docs;
		}
		/* Anchors do not reach across documents. */
		anchors_clear(&l);
		/* "---" with nothing (or only comments) after it: kubectl skips those. */
		if (!json_is_null(root))
			ret = add_doc(&l, &d, mark, root, 0, "the document");
		json_decref(root);
		if (ret)
			goto err_docs;
	}
	yaml_event_delete(&l.ev);
	yaml_parser_delete(&l.p);
	*docs = d.v;
	*ndocs = d.n;
	return 0;

err_docs:
	k8s_docs_free(d.v, d.n);
	anchors_clear(&l);
	yaml_event_delete(&l.ev);
	yaml_parser_delete(&l.p);
	if (ret == -ENOMEM)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	return ret;
}

/* "<path>: " before the message, cutting its end if it must. */
static void prefix_path(struct k8s_error *err, const char *path)
{
	size_t sz = sizeof(err->msg), plen = strlen(path) + 2;

	if (plen >= sz)
		plen = sz - 1;
	memmove(err->msg + plen, err->msg, sz - plen - 1);
	err->msg[sz - 1] = '\0';
	memcpy(err->msg, path, plen - 2);
	memcpy(err->msg + plen - 2, ": ", 2);
}

int k8s_load_file(const char *path, json_t ***docs, size_t *ndocs, struct k8s_error *err)
{
	size_t len = 0;
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-ret));
		goto err_fd;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE_SIZE) {
		ret = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
			 ret == -EFBIG ? "larger than 64 MiB" : "not a regular file");
		goto err_fd;
	}
	/* One byte more than it claims, so that a file growing under us is seen. */
	buf = malloc(st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		goto err_fd;
	}
	while (len < (size_t)st.st_size + 1) {
		n = read(fd, buf + len, st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-ret));
			goto err_buf;
		}
		if (!n)
			break;
		len += n;
	}
	ret = k8s_load_stream(buf, len, docs, ndocs, err);
	if (ret)
		prefix_path(err, path);

err_buf:
	free(buf);
err_fd:
	close(fd);
	return ret;
}

void k8s_docs_free(json_t **docs, size_t ndocs)
{
	for (size_t i = 0; i < ndocs; i++)
		json_decref(docs[i]);
	free(docs);
}
