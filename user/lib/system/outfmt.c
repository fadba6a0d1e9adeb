// SPDX-License-Identifier: Apache-2.0
/*
 * The output formats beside the print layer's tables (print.c): their names
 * for -o, JSON written as YAML through libyaml's emitter, and the stdout
 * filter that gives -o yaml and -o jsonl to output already written as JSON
 * lines (the lab's, flows', explain's), so no command writes YAML itself;
 * and the command line's options, getopt's tables and --help made from the one
 * table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <yaml.h>

#include "lib/system/print.h"
#include "lib/system/util.h"

static const char *const names[] = {
	[PT_TEXT] = "text", [PT_WIDE] = "wide", [PT_JSON] = "json",
	[PT_JSONL] = "jsonl", [PT_YAML] = "yaml",
};

int pt_getopt(int argc, char **argv, const struct pt_opt *t, bool colon, int *idx)
{
	size_t n = 0;

	while (t[n].name)
		n++;
	struct option lo[n + 1];
	char so[2 * n + 2], *p = so + sprintf(so, "%s", colon ? ":" : "");

	for (size_t i = 0; i <= n; i++) { /* the empty row too: getopt's end */
		lo[i] = (struct option){ t[i].name, t[i].arg ? required_argument : no_argument,
					 NULL, t[i].val };
		if (t[i].short_name)
			p += sprintf(p, "%c%s", t[i].short_name, t[i].arg ? ":" : "");
	}
	/* getopt keeps only argv between calls: the tables may be new each time. */
	return getopt_long(argc, argv, so, lo, idx);
}

void pt_opt_line(FILE *f, const struct pt_opt *o)
{
	char s[] = { '-', o->short_name, ',', ' ', 0 };
	int n = fprintf(f, "  %s--%s %s", o->short_name ? s : "", o->name,
			o->arg ? o->metavar ?: "ARG" : "");

	fprintf(f, "%s%*s%s\n", n > 29 ? "\n" : "", n > 29 ? 30 : 30 - n, "", o->help ?: "");
}

int pt_usage(FILE *f, const char *synopsis, const struct pt_opt *t)
{
	fprintf(f, "Usage: xcnictl %s   (xcnictl(1) says more)\n", synopsis);
	for (; t->name; t++)
		pt_opt_line(f, t);
	return f == stdout ? 0 : 2;
}

int pt_format_parse(const char *s, enum pt_format *fmt)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (s && !strcmp(s, names[i])) {
			*fmt = (enum pt_format)i;
			return 0;
		}
	return -EINVAL;
}

const char *pt_format_name(enum pt_format fmt)
{
	return (unsigned int)fmt < sizeof(names) / sizeof(names[0]) ? names[fmt] : "?";
}

/*
 * Whether s may go unquoted: it must read back as the same string, not as a
 * number, boolean or null (YAML 1.1 as PyYAML reads it, and 1.2), so only
 * words that start with a letter or '/' and are none of those.
 */
static bool plain_ok(const char *s)
{
	static const char *const words[] = { "y", "n", "yes", "no", "on", "off", "true",
					     "false", "null", "nan", "inf" };

	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '/'))
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return false;
	return true;
}

static int scalar(yaml_emitter_t *em, const char *s, bool is_string)
{
	yaml_event_t ev;
	bool plain = !is_string || plain_ok(s);

	/* Quoted is always implicit (a string); plain only where it reads back as one. */
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
					  plain, 1,
					  plain ? YAML_PLAIN_SCALAR_STYLE :
						  YAML_DOUBLE_QUOTED_SCALAR_STYLE))
		return -ENOMEM;
	return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

static int emit(yaml_emitter_t *em, const json_t *j)
{
	yaml_event_t ev;
	char buf[64];
	const char *k;
	size_t i;
	json_t *v;
	int err = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -EIO;
		json_object_foreach((json_t *)j, k, v)
			if ((err = scalar(em, k, true)) || (err = emit(em, v)))
				return err;
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) ? 0 : -EIO;
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  json_array_size(j) ? YAML_BLOCK_SEQUENCE_STYLE :
									       YAML_FLOW_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -EIO;
		json_array_foreach((json_t *)j, i, v)
			if ((err = emit(em, v)))
				return err;
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) ? 0 : -EIO;
	case JSON_STRING:
		return scalar(em, json_string_value(j), true);
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return scalar(em, buf, false);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
		if (!strpbrk(buf, ".eni")) /* 1e+20 stays a float; 3 would read as an integer */
			strcat(buf, ".0");
		return scalar(em, buf, false);
	case JSON_TRUE:
		return scalar(em, "true", false);
	case JSON_FALSE:
		return scalar(em, "false", false);
	case JSON_NULL:
		return scalar(em, "null", false);
	}
	return -EINVAL;
}

int pt_yaml_dump(const struct json_t *j, FILE *f)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int err = -EIO;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output_file(&em, f);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1); /* no folding of long strings */
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&em, &ev) ||
	    !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0) ||
	    !yaml_emitter_emit(&em, &ev))
		goto out;
	err = emit(&em, j);
	if (err)
		goto out;
	err = -EIO;
	if (yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
	    yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
	    yaml_emitter_flush(&em))
		err = 0;
out:
	yaml_emitter_delete(&em);
	return err;
}

int pt_dump_json(const struct json_t *root, FILE *f, enum pt_format fmt)
{
	size_t i;
	json_t *v;

	if (fmt == PT_YAML)
		return pt_yaml_dump(root, f);
	if (fmt == PT_JSONL && json_is_array(root)) {
		json_array_foreach((json_t *)root, i, v)
			if (json_dumpf(v, f, JSON_COMPACT) || fputc('\n', f) == EOF)
				return -EIO;
		return 0;
	}
	return json_dumpf(root, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF ? 0 : -EIO;
}

/* ---- the stdout filter ----------------------------------------------------- */

static struct {
	FILE *real; /* the stdout the filter writes to */
	enum pt_format fmt;
	char *line;
	size_t len, cap;
} flt;

static void filter_line(const char *s, size_t n)
{
	json_t *j = n && (s[0] == '{' || s[0] == '[') ? json_loadb(s, n, 0, NULL) : NULL;

	if (!j) {
		fwrite(s, 1, n, flt.real);
		fputc('\n', flt.real);
		return;
	}
	if (pt_dump_json(j, flt.real, flt.fmt))
		fputs("# (could not write this value)\n", flt.real);
	json_decref(j);
}

static ssize_t filter_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			filter_line(flt.line, flt.len);
			flt.len = 0;
			continue;
		}
		if (XCNI_GROW(flt.line, flt.len, flt.cap)) {
			errno = ENOMEM;
			return i ? (ssize_t)i : -1;
		}
		flt.line[flt.len++] = buf[i];
	}
	fflush(flt.real);
	return (ssize_t)n;
}

static int filter_close(void *cookie)
{
	(void)cookie;
	if (flt.len)
		filter_line(flt.line, flt.len);
	flt.len = 0;
	free(flt.line);
	flt.line = NULL;
	return fflush(flt.real) == EOF ? -1 : 0;
}

static void filter_end(void)
{
	if (!flt.real)
		return;
	fclose(stdout);
	stdout = flt.real;
	flt.real = NULL;
}

int pt_stdout_filter(enum pt_format fmt)
{
	static const cookie_io_functions_t io = { .write = filter_write, .close = filter_close };
	FILE *f;

	if (fmt != PT_YAML && fmt != PT_JSONL)
		return 0;
	fflush(stdout);
	f = fopencookie(NULL, "w", io);
	if (!f)
		return -errno;
	/* Lines go through as they end: a stream (monitor, flows --follow) stays one. */
	setvbuf(f, NULL, _IOLBF, 0);
	flt.real = stdout;
	flt.fmt = fmt;
	stdout = f;
	atexit(filter_end);
	return 0;
}
