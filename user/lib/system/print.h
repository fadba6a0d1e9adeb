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

struct pt_col {
	const char *title; /* text header; NULL: the column is JSON-only */
	const char *key; /* JSON member name; NULL: the column is text-only */
	enum pt_type type;
};

/* Exactly one row, written as "TITLE  value" lines, or as one JSON object. */
#define PT_RECORD 0x1u

struct ptable;

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
/*
 * For streams (xcnictl monitor): writes the rows added since the last call and
 * drops them. Text: a header once, then one line per row; JSON: one object per
 * line (JSON Lines).
 */
int pt_flush(struct ptable *t, FILE *f, bool json);

#endif
