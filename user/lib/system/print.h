/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one print layer of xcnictl. A view describes its rows once, as typed
 * cells under named columns; the layer writes them as aligned text columns or
 * as JSON (an array of objects), so the two outputs cannot drift apart.
 *
 * Cells are added in column order and a row ends after the last column. Adding
 * never fails loudly: the first error sticks to the table and pt_print()
 * returns it, the way stdio keeps ferror(), so views stay free of checks.
 */
#ifndef XCNI_PRINT_H
#define XCNI_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum pt_type {
	PT_STR, /* left-aligned */
	PT_UINT, /* decimal, right-aligned */
	PT_INT,
	PT_HEX, /* "0x1f" in text, a number in JSON */
};

enum pt_show {
	/*
	 * Or'ed into a column's type, which text shows it: the default table is
	 * kept narrow (120 columns on the lab's names), -o wide has the rest. A
	 * JSON-only column (no title) is shown by -o wide under its key unless
	 * PT_SHOW_JSON (it repeats a text column). JSON has every keyed column.
	 */
	PT_SHOW_WIDE = 0x10, /* a text column of -o wide only */
	PT_SHOW_NARROW = 0x20, /* a text column of the default only (-o wide says it in others) */
	PT_SHOW_JSON = 0x40, /* JSON only, also with -o wide */
};
#define PT_TYPE_MASK 0xfu

struct pt_col {
	const char *title; /* text header; NULL: the column is JSON-only */
	const char *key; /* JSON member name; NULL: the column is text-only */
	enum pt_type type; /* with a PT_SHOW_* or'ed in: which text shows it */
};

/* Exactly one row, written as "TITLE  value" lines, or as one JSON object. */
#define PT_RECORD 0x1u

struct ptable;
struct json_t;

/* -o: how a table is written. */
enum pt_format {
	PT_TEXT, /* aligned columns (the default) */
	PT_WIDE, /* the same with the JSON-only columns too, titled by their keys */
	PT_JSON, /* one JSON value: an array of objects, or an object */
	PT_JSONL, /* JSON Lines: one object a line */
	PT_YAML, /* the JSON value as a YAML document */
};

/*
 * An option of a command line: a row of the one table a command parses with
 * (pt_getopt) and xcnictl checks and completes from (ctl_cmd_flags).
 */
struct pt_opt {
	const char *name; /* --name */
	char short_name; /* -c; 0: none */
	bool arg; /* takes a value */
	int val; /* what pt_getopt returns for it */
	unsigned int bit; /* xcnictl's OPT_*; 0: a global option, taken by every command */
	const char *metavar; /* its value in messages */
	const char *help; /* its line of --help */
};
/* getopt_long over t (ended by an empty row; *idx: the row), its short
 * options those of the rows; colon: a missing value is ':', not said. */
int pt_getopt(int argc, char **argv, const struct pt_opt *t, bool colon, int *idx);
/* An option's line of --help: "  -c, --name METAVAR", its help at column 30. */
void pt_opt_line(FILE *f, const struct pt_opt *o);
/* "Usage: xcnictl SYNOPSIS", then t's rows a line each, on f: 0 for stdout
 * (--help), else 2 (a usage error), the exit code. xcnictl(1) says the rest. */
int pt_usage(FILE *f, const char *synopsis, const struct pt_opt *t);

/* "json", "yaml", "wide", "jsonl", "text": 0, or -EINVAL (not said). */
int pt_format_parse(const char *s, enum pt_format *fmt);
const char *pt_format_name(enum pt_format fmt);
/* JSON, JSON Lines or YAML: the views' JSON rows, not their text. */
static inline bool pt_format_structured(enum pt_format fmt)
{
	return fmt == PT_JSON || fmt == PT_JSONL || fmt == PT_YAML;
}
/* A JSON value as one YAML document (libyaml's emitter), "---" first. 0 or -errno. */
int pt_yaml_dump(const struct json_t *j, FILE *f);
/* A JSON value in fmt: JSON (compact, a line), JSON Lines (an array's
 * elements one a line) or YAML; text formats write JSON. 0 or -errno. */
int pt_dump_json(const struct json_t *j, FILE *f, enum pt_format fmt);
/*
 * -o yaml and -o jsonl for output that is written as JSON (one compact JSON
 * value a line, as jansson's JSON_COMPACT and the views write it): stdout
 * becomes a filter that turns each such line into a YAML document, or an
 * array's elements into lines; other lines pass unchanged. Undone at exit.
 * 0 or -errno.
 */
int pt_stdout_filter(enum pt_format fmt);

/* NULL on failure; the cell functions then do nothing and pt_print() says -ENOMEM. */
struct ptable *pt_new(const struct pt_col *cols, unsigned int ncols, unsigned int flags);
void pt_free(struct ptable *t);

/* A missing value (a NULL string, pt_null): "-" in text, null in JSON. */
void pt_null(struct ptable *t);
void pt_str(struct ptable *t, const char *s);
void pt_strf(struct ptable *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pt_uint(struct ptable *t, uint64_t v); /* PT_UINT or PT_HEX column */
void pt_int(struct ptable *t, int64_t v);

size_t pt_rows(const struct ptable *t);
/*
 * Text: column col is at least w wide. A stream sets the widest its cells can
 * be, so its lines align from the first on; a wider cell still widens it.
 */
void pt_min_width(struct ptable *t, unsigned int col, size_t w);
/* 0, or the first error of building or writing the table (-errno). */
int pt_print(const struct ptable *t, FILE *f, bool json);
/* pt_print in any format. */
int pt_print_fmt(struct ptable *t, FILE *f, enum pt_format fmt);
/*
 * For streams (xcnictl monitor): writes the rows added since the last call and
 * drops them. Text: a header once, then one line per row; JSON Lines: one
 * object per line; YAML: a document a row.
 */
int pt_flush_fmt(struct ptable *t, FILE *f, enum pt_format fmt);

#endif
