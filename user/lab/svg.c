// SPDX-License-Identifier: Apache-2.0
/*
 * The heat map of a lab matrix as SVG (svg.h). One cell per ordered pod
 * pair: a rect whose fill is its result's colour, with data-from, data-to
 * and data-result and a <title> (a browser shows it on hover). Names are
 * escaped for XML text and attributes alike (&, <, >, ", '); a control
 * character or a byte that is not UTF-8 becomes '?', as XML 1.0 cannot carry
 * them. Text widths are guessed from a monospace font's advance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/svg.h"
#include "lab/sys.h"
#include "lib/system/log.h"

#define CELL 24
#define CHAR_W 7.5 /* 12px monospace: ~0.6 em a character */
#define PAD 10

static const struct svg_result {
	const char *name, *colour, *meaning;
} results[] = {
	[LAB_SVG_DENIED] = { "denied", "#d73027", "denied: blocked over every family probed" },
	[LAB_SVG_ALLOWED] = { "allowed", "#1a9850", "allowed: connected" },
	[LAB_SVG_MIXED] = { "mixed", "#fdae61", "mixed: connected over one family only" },
};

/* r's row of results; an unknown one is denied's. */
static const struct svg_result *result_of(enum lab_svg_result r)
{
	return &results[r <= LAB_SVG_MIXED ? r : LAB_SVG_DENIED];
}

/* The length of the UTF-8 sequence at s (1 to 4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong three-byte forms and UTF-16 surrogates are not characters. */
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0;
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

void lab_xml_put(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	while (*s) {
		size_t n = utf8_len(s);

		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if (!n || *s < 0x20 || *s == 0x7f) {
				fputc('?', f);
				n = 1;
			} else {
				fwrite(s, 1, n, f);
			}
		}
		s += n ? n : 1;
	}
}

/* A file name next to path: "<path>.XXXXXX" for mkstemp. NULL: out of memory. */
static char *tmp_name(const char *path)
{
	char *t = malloc(strlen(path) + 8);

	if (t)
		sprintf(t, "%s.XXXXXX", path);
	return t;
}

int lab_svg_check_path(const char *path)
{
	struct stat st;
	char *t;
	int fd, err;

	if (!*path)
		return said(-EINVAL, "lab matrix: --svg: a file name, not an empty one\n");
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return said(-EISDIR, "lab matrix: --svg %s: %s\n", path, strerror(EISDIR));
	/* What the write will do, tried: a file made beside it (then removed). */
	t = tmp_name(path);
	if (!t)
		return -ENOMEM;
	fd = mkstemp(t);
	err = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		close(fd);
		unlink(t);
	} else {
		fprintf(stderr, "lab matrix: --svg %s: cannot write there: %s\n", path, strerror(-err));
	}
	free(t);
	return err;
}

static void write_doc(FILE *f, const struct lab_svg_matrix *m)
{
	size_t w = 0;
	int left, top, grid, width, height, ly;

	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->names[i]) > w)
			w = strlen(m->names[i]);
	left = PAD + (int)(CHAR_W * (double)w) + 8;
	top = 40 + (int)(CHAR_W * (double)w) + 8;
	grid = (int)m->n * CELL;
	width = left + grid + PAD;
	if (width < 460)
		width = 460;
	ly = top + grid + 20;
	height = ly + 3 * 20 + PAD;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" font-family=\"monospace\" font-size=\"12\">\n",
		width, height, width, height);
	fputs("<title>xcnictl lab matrix ", f);
	lab_xml_put(f, m->caption);
	fputs("</title>\n", f);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height);
	fprintf(f, "<text x=\"%d\" y=\"18\" font-weight=\"bold\">lab matrix ", PAD);
	lab_xml_put(f, m->caption);
	fputs("</text>\n", f);
	fprintf(f, "<text x=\"%d\" y=\"34\" fill=\"#555555\">rows: from, columns: to</text>\n", PAD);

	fputs("<g class=\"rows\" text-anchor=\"end\">\n", f);
	for (size_t i = 0; i < m->n; i++) {
		fprintf(f, "<text x=\"%d\" y=\"%d\">", left - 6, top + (int)i * CELL + CELL / 2 + 4);
		lab_xml_put(f, m->names[i]);
		fputs("</text>\n", f);
	}
	fputs("</g>\n<g class=\"columns\" text-anchor=\"start\">\n", f);
	for (size_t j = 0; j < m->n; j++) {
		int x = left + (int)j * CELL + CELL / 2 + 4, y = top - 6;

		fprintf(f, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 %d %d)\">", x, y, x, y);
		lab_xml_put(f, m->names[j]);
		fputs("</text>\n", f);
	}
	fputs("</g>\n<g class=\"cells\" stroke=\"#ffffff\">\n", f);
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->n; j++) {
			size_t k = i * m->n + j;
			const struct svg_result *r = result_of(m->res[k]);

			fprintf(f, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				   "fill=\"%s\" data-from=\"",
				left + (int)j * CELL, top + (int)i * CELL, CELL, CELL, r->colour);
			lab_xml_put(f, m->names[i]);
			fputs("\" data-to=\"", f);
			lab_xml_put(f, m->names[j]);
			fprintf(f, "\" data-result=\"%s\"><title>", r->name);
			lab_xml_put(f, m->names[i]);
			fputs(" -&gt; ", f);
			lab_xml_put(f, m->names[j]);
			fprintf(f, ": %s", r->name);
			if (m->note && m->note[k] && *m->note[k]) {
				fputs(" (", f);
				lab_xml_put(f, m->note[k]);
				fputc(')', f);
			}
			fputs("</title></rect>\n", f);
		}
	}
	fputs("</g>\n<g class=\"legend\">\n", f);
	static const enum lab_svg_result order[] = { LAB_SVG_ALLOWED, LAB_SVG_DENIED, LAB_SVG_MIXED };

	for (int i = 0; i < 3; i++) {
		enum lab_svg_result r = order[i];

		fprintf(f, "<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" "
			   "fill=\"%s\" data-result=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
			PAD, ly + i * 20, results[r].colour, results[r].name, PAD + 22, ly + i * 20 + 11,
			results[r].meaning);
	}
	fputs("</g>\n</svg>\n", f);
}

/* Rendered whole, then swapped in (lab_write_atomic): a reader never sees half a map. */
int lab_svg_write(const char *path, const struct lab_svg_matrix *m)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	int err = -ENOMEM;

	if (f) {
		write_doc(f, m);
		if (!fclose(f))
			err = lab_write_atomic(path, doc, len);
	}
	free(doc);
	return err;
}
