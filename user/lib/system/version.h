/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a binary of xcni says it is: `version` and `--version` in xcni (the
 * CNI plugin; its CNI VERSION command is apart), xcnid and xcnictl. The
 * release, git commit and build date are stamped by the Makefile
 * (build/gen/xcni_version.h); the date is the commit's, so two builds of one
 * commit say the same. libbpf's version is the one linked at run time.
 */
#ifndef XCNI_VERSION_H
#define XCNI_VERSION_H

#include <stdbool.h>
#include <stdio.h>

struct xcni_version {
	const char *version; /* "0.1.0" */
	const char *commit; /* 12 hex digits, "-dirty" when the tree had changes; "unknown" */
	const char *date; /* the commit's date, ISO 8601 UTC; "unknown" */
	const char *libbpf; /* "v1.1" as libbpf_version_string() says */
	unsigned int bpf_abi; /* XCNI_ABI_VERSION: the pinned maps' layout */
};

/* "PROG 0.1.0 (commit C, built D) libbpf v1.1, BPF ABI 16", or one JSON object. */
int xcni_version_print(FILE *f, const char *prog, bool json);
/*
 * A version request on argv, answered: `PROG version` or `PROG --version`
 * anywhere, with -o text|json|yaml (-j: json). Returns -1 when argv asks
 * for something else, else the exit code (2 for a bad -o, said).
 */
int xcni_version_main(const char *prog, int argc, char **argv);

#endif
