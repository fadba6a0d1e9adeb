// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/system/print.h"
#include "lib/system/util.h"

struct cell {
	bool null;
	union {
		char *s;
		uint64_t u;
		int64_t i;
	};
};

struct ptable {
	const struct pt_col *cols;
	unsigned int ncols;
	unsigned int flags;
	struct cell *cells;
	size_t ncells, cap;
	int err; /* first failure, returned by pt_print() */
	size_t *w; /* pt_flush_fmt(): column widths so far; the header went out */
	size_t *minw; /* pt_min_width(); NULL: none set */
	bool wide; /* while printing: JSON-only columns shown too (-o wide) */
	char (*wtitle)[32]; /* their titles, made from the keys */
};

/* Column i's cell type, without its PT_SHOW_* bits. */
static enum pt_type col_type(const struct ptable *t, size_t i)
{
	return (enum pt_type)((unsigned int)t->cols[i].type & PT_TYPE_MASK);
}

struct ptable *pt_new(const struct pt_col *cols, unsigned int ncols, unsigned int flags)
{
	struct ptable *t;

	if (!ncols) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cols = cols;
	t->ncols = ncols;
	t->flags = flags;
	return t;
}

/* Drops the first n cells; the rest move to the front. */
static void drop_cells(struct ptable *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (col_type(t, i % t->ncols) == PT_STR && !t->cells[i].null)
			free(t->cells[i].s);
	/* All of them: nothing to move (cells may be NULL, and NULL + 0 is UB). */
	if (n < t->ncells)
		memmove(t->cells, t->cells + n, (t->ncells - n) * sizeof(*t->cells));
	t->ncells -= n;
}

void pt_free(struct ptable *t)
{
	if (!t)
		return;
	drop_cells(t, t->ncells);
	free(t->cells);
	free(t->w);
	free(t->minw);
	free(t->wtitle);
	free(t);
}

void pt_min_width(struct ptable *t, unsigned int col, size_t w)
{
	if (!t || t->err || col >= t->ncols)
		return;
	if (!t->minw && !(t->minw = calloc(t->ncols, sizeof(*t->minw)))) {
		t->err = -ENOMEM;
		return;
	}
	t->minw[col] = w;
}

/* Column i's text title; NULL: not shown (JSON-only, unless -o wide). */
static const char *title(const struct ptable *t, unsigned int i)
{
	unsigned int show = (unsigned int)t->cols[i].type & ~PT_TYPE_MASK;

	/* A record is a column of lines: no width to keep, every field (not the
	 * narrow table's shorthands of others). */
	if (show & PT_SHOW_WIDE)
		return t->wide || (t->flags & PT_RECORD) ? t->cols[i].title : NULL;
	if (show & PT_SHOW_NARROW)
		return t->wide || (t->flags & PT_RECORD) ? NULL : t->cols[i].title;
	if (show & PT_SHOW_JSON)
		return NULL;
	if (t->cols[i].title || !t->wide || !t->cols[i].key || !t->wtitle)
		return t->cols[i].title;
	return t->wtitle[i];
}

/* -o wide: titles for the JSON-only columns, "rev_nat" -> "REV-NAT". */
static int wide_begin(struct ptable *t, bool wide)
{
	t->wide = wide;
	if (!wide || t->wtitle)
		return 0;
	t->wtitle = calloc(t->ncols, sizeof(*t->wtitle));
	if (!t->wtitle)
		return -ENOMEM;
	for (unsigned int i = 0; i < t->ncols; i++)
		for (size_t j = 0; t->cols[i].key && t->cols[i].key[j] && j < sizeof(t->wtitle[i]) - 1; j++) {
			char ch = t->cols[i].key[j];

			t->wtitle[i][j] = ch == '_' ? '-' : (char)toupper((unsigned char)ch);
		}
	return 0;
}

/* The width of column i before any cell: its title's, or more if set. */
static size_t col_width(const struct ptable *t, unsigned int i)
{
	size_t w = title(t, i) ? strlen(title(t, i)) : 0;

	return t->minw && t->minw[i] > w ? t->minw[i] : w;
}

/* The next cell, if its column is of one of the types (a mask); NULL once failed. */
static struct cell *push(struct ptable *t, unsigned int types)
{
	struct cell *c;

	if (!t || t->err)
		return NULL;
	if (!(types & 1u << col_type(t, t->ncells % t->ncols))) {
		t->err = -EINVAL; /* a view bug: the cell does not fit its column */
		return NULL;
	}
	if (XCNI_GROW(t->cells, t->ncells, t->cap)) {
		t->err = -ENOMEM;
		return NULL;
	}
	c = &t->cells[t->ncells++];
	*c = (struct cell){ .null = true };
	return c;
}

#define T_ANY (1u << PT_STR | 1u << PT_UINT | 1u << PT_INT | 1u << PT_HEX)

void pt_null(struct ptable *t)
{
	push(t, T_ANY);
}

void pt_str(struct ptable *t, const char *s)
{
	struct cell *c = push(t, 1u << PT_STR);

	if (!c || !s)
		return;
	c->s = strdup(s);
	if (!c->s)
		t->err = -ENOMEM;
	c->null = !c->s;
}

void pt_strf(struct ptable *t, const char *fmt, ...)
{
	struct cell *c = push(t, 1u << PT_STR);
	va_list ap;

	if (!c)
		return;
	va_start(ap, fmt);
	if (vasprintf(&c->s, fmt, ap) < 0)
		t->err = -ENOMEM;
	else
		c->null = false;
	va_end(ap);
}

void pt_uint(struct ptable *t, uint64_t v)
{
	struct cell *c = push(t, 1u << PT_UINT | 1u << PT_HEX);

	if (c) {
		c->u = v;
		c->null = false;
	}
}

void pt_int(struct ptable *t, int64_t v)
{
	struct cell *c = push(t, 1u << PT_INT);

	if (c) {
		c->i = v;
		c->null = false;
	}
}

size_t pt_rows(const struct ptable *t)
{
	return t->ncells / t->ncols;
}

/* buf holds numbers (at most 20 digits and a sign, or "0x" and 16). */
static const char *cell_text(const struct ptable *t, size_t i, char buf[24])
{
	const struct cell *c = &t->cells[i];

	if (c->null)
		return "-";
	switch (col_type(t, i % t->ncols)) {
	case PT_STR:
		return c->s;
	case PT_UINT:
		snprintf(buf, 24, "%" PRIu64, c->u);
		break;
	case PT_INT:
		snprintf(buf, 24, "%" PRId64, c->i);
		break;
	case PT_HEX:
		snprintf(buf, 24, "0x%" PRIx64, c->u);
		break;
	}
	return buf;
}

static int print_record(const struct ptable *t, FILE *f)
{
	size_t w = 0;
	unsigned int i;
	char buf[24];

	for (i = 0; i < t->ncols; i++)
		if (title(t, i) && strlen(title(t, i)) > w)
			w = strlen(title(t, i));
	for (i = 0; i < t->ncols; i++)
		if (title(t, i))
			fprintf(f, "%-*s  %s\n", (int)w, title(t, i), cell_text(t, i, buf));
	return 0;
}

static int print_table(const struct ptable *t, FILE *f)
{
	size_t nrows = pt_rows(t), *w, len;
	unsigned int i, first = t->ncols, last = 0;
	ssize_t r;
	char buf[24];

	w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (i = 0; i < t->ncols; i++) {
		if (!title(t, i))
			continue;
		if (first == t->ncols)
			first = i;
		last = i;
		w[i] = col_width(t, i);
		for (r = 0; r < (ssize_t)nrows; r++) {
			len = strlen(cell_text(t, r * t->ncols + i, buf));
			if (len > w[i])
				w[i] = len;
		}
	}
	/* Row -1 is the header. */
	for (r = -1; r < (ssize_t)nrows; r++) {
		for (i = first; i <= last; i++) {
			const char *s;

			if (!title(t, i))
				continue;
			s = r < 0 ? title(t, i) : cell_text(t, r * t->ncols + i, buf);
			if (i > first)
				fputs("  ", f);
			if (col_type(t, i) != PT_STR)
				fprintf(f, "%*s", (int)w[i], s);
			else if (i < last) /* no trailing blanks after the last column */
				fprintf(f, "%-*s", (int)w[i], s);
			else
				fputs(s, f);
		}
		fputc('\n', f);
	}
	free(w);
	return 0;
}

static json_t *cell_json(const struct ptable *t, size_t i)
{
	const struct cell *c = &t->cells[i];

	if (c->null)
		return json_null();
	switch (col_type(t, i % t->ncols)) {
	case PT_STR:
		return json_string(c->s); /* NULL for invalid UTF-8 */
	case PT_UINT:
	case PT_HEX:
		/* jansson's integers are signed; past that a double keeps it a number. */
		return c->u > INT64_MAX ? json_real((double)c->u) : json_integer((json_int_t)c->u);
	case PT_INT:
		return json_integer(c->i);
	}
	return NULL;
}

static json_t *row_json(const struct ptable *t, size_t row)
{
	json_t *o = json_object();
	unsigned int i;

	for (i = 0; o && i < t->ncols; i++) {
		if (!t->cols[i].key)
			continue;
		/* set_new() takes the value, also on failure; a NULL one fails it. */
		if (json_object_set_new(o, t->cols[i].key, cell_json(t, row * t->ncols + i))) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* The table as JSON: an array of objects, or one object for PT_RECORD; NULL on failure. */
static json_t *table_json(const struct ptable *t)
{
	json_t *root;

	if (t->flags & PT_RECORD)
		return row_json(t, 0);
	root = json_array();
	for (size_t r = 0; root && r < pt_rows(t); r++)
		if (json_array_append_new(root, row_json(t, r))) {
			json_decref(root);
			root = NULL;
		}
	return root;
}

static int print_json(const struct ptable *t, FILE *f, enum pt_format fmt)
{
	json_t *root = table_json(t);
	int err;

	if (!root)
		return -EINVAL; /* out of memory or a string that is not UTF-8 */
	err = pt_dump_json(root, f, fmt);
	json_decref(root);
	return err;
}

static int print_fmt(const struct ptable *t, FILE *f, enum pt_format fmt)
{
	int err;

	if (!t)
		return -ENOMEM; /* pt_new() failed: the cells went nowhere */
	if (t->err)
		return t->err;
	if (t->ncells % t->ncols || (t->flags & PT_RECORD && pt_rows(t) != 1))
		return -EINVAL; /* a view bug: a row left incomplete */
	if (pt_format_structured(fmt))
		err = print_json(t, f, fmt);
	else if (t->flags & PT_RECORD)
		err = print_record(t, f);
	else
		err = print_table(t, f);
	if (!err && (fflush(f) == EOF || ferror(f)))
		err = -EIO;
	return err;
}

int pt_print(const struct ptable *t, FILE *f, bool json)
{
	return print_fmt(t, f, json ? PT_JSON : PT_TEXT);
}

int pt_print_fmt(struct ptable *t, FILE *f, enum pt_format fmt)
{
	int err = t && !t->err ? wide_begin(t, fmt == PT_WIDE) : 0;

	return err ?: print_fmt(t, f, fmt);
}

/* One text row; row -1 is the header. Widths only grow, so columns stay aligned
 * as long as no cell is wider than those before it. */
static void stream_row(struct ptable *t, FILE *f, ssize_t r)
{
	unsigned int i, last = 0;
	int first = 1;
	char buf[24];

	for (i = 0; i < t->ncols; i++)
		if (title(t, i))
			last = i;
	for (i = 0; i < t->ncols; i++) {
		const char *s;
		size_t len;

		if (!title(t, i))
			continue;
		s = r < 0 ? title(t, i) : cell_text(t, r * t->ncols + i, buf);
		len = strlen(s);
		if (len > t->w[i])
			t->w[i] = len;
		if (!first)
			fputs("  ", f);
		first = 0;
		if (col_type(t, i) == PT_STR && i == last) /* no trailing blanks */
			fputs(s, f);
		else
			fprintf(f, col_type(t, i) == PT_STR ? "%-*s" : "%*s", (int)t->w[i], s);
	}
	fputc('\n', f);
}

int pt_flush_fmt(struct ptable *t, FILE *f, enum pt_format fmt)
{
	bool structured = pt_format_structured(fmt);
	size_t r, nrows;
	int err = 0;

	if (!t)
		return -ENOMEM;
	if (t->err)
		return t->err;
	nrows = pt_rows(t);
	if (!structured && !t->w) {
		if (wide_begin(t, fmt == PT_WIDE))
			return -ENOMEM;
		t->w = calloc(t->ncols, sizeof(*t->w));
		if (!t->w)
			return -ENOMEM;
		for (unsigned int i = 0; i < t->ncols; i++)
			t->w[i] = col_width(t, i);
		stream_row(t, f, -1);
	}
	for (r = 0; r < nrows && !err; r++) {
		if (structured) {
			json_t *o = row_json(t, r);

			/* A stream: JSON is JSON Lines, YAML one document a row. */
			err = o ? pt_dump_json(o, f, fmt == PT_YAML ? PT_YAML : PT_JSONL) : -EINVAL;
			json_decref(o);
		} else {
			stream_row(t, f, (ssize_t)r);
		}
	}
	/* Cells of a row not yet complete stay for the next call. */
	drop_cells(t, nrows * t->ncols);
	if (!err && fflush(f))
		err = -EIO;
	return err;
}
