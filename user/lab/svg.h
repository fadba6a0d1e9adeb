/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 1 of the lab: the heat map of a `lab matrix` as SVG (--svg FILE),
 * rows the source pods, columns the destinations, a cell coloured by what the
 * probes found, with its own <title> and data-* attributes so a reader (or a
 * test) finds a cell by its pods. Written by hand: the document is small and
 * fixed; every name in it goes through one escaping function.
 */
#ifndef XCNI_LAB_SVG_H
#define XCNI_LAB_SVG_H

#include <stddef.h>
#include <stdio.h>

enum lab_svg_result {
	LAB_SVG_DENIED,  /* blocked over every family probed */
	LAB_SVG_ALLOWED, /* connected over every family probed */
	LAB_SVG_MIXED,   /* connected over one family, blocked over the other */
};

struct lab_svg_matrix {
	size_t n;                 /* pods: an n x n matrix */
	const char *const *names; /* [n]: "NS/POD" */
	const unsigned char *res; /* [src * n + dst]: enum lab_svg_result */
	const char *const *note;  /* [src * n + dst] or NULL: said in the cell's title */
	const char *caption;      /* the heading, e.g. "80/tcp, IPv4 and IPv6" */
};

/*
 * str (NULL: "") as XML character data or an attribute value (either quote):
 * the five specials escaped; a control character or a byte that is not UTF-8
 * written '?', as XML 1.0 cannot carry them (the SVG, connectivity --junit).
 */
void lab_xml_put(FILE *f, const char *str);

/* The colour a result is drawn in ("#rrggbb"), and its name. */

/*
 * Whether path can be written (asked before the probes, so a bad one costs
 * nothing): 0, or -errno said on stderr naming the option and the path.
 */
int lab_svg_check_path(const char *path);

/*
 * Writes the heat map to path through a temporary file in its directory and
 * a rename: the file is whole or untouched. 0, or -errno said on stderr.
 */
int lab_svg_write(const char *path, const struct lab_svg_matrix *m);

#endif
