// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "xcni_shared.h"
/* build/gen, stamped by the Makefile; a build without it (the fuzz targets') says "unknown". */
#if __has_include("xcni_version.h")
#include "xcni_version.h"
#else
#define XCNI_VERSION "unknown"
#define XCNI_GIT_COMMIT "unknown"
#define XCNI_BUILD_DATE "unknown"
#endif
#include "lib/system/log.h"
#include "lib/system/print.h"
#include "lib/system/version.h"

static void xcni_version_get(struct xcni_version *v)
{
	*v = (struct xcni_version){
		.version = XCNI_VERSION,
		.commit = XCNI_GIT_COMMIT,
		.date = XCNI_BUILD_DATE,
		.libbpf = libbpf_version_string(),
		.bpf_abi = XCNI_ABI_VERSION,
	};
}

static json_t *version_json(const char *prog)
{
	struct xcni_version v;

	xcni_version_get(&v);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "program", prog, "version", v.version,
			 "commit", v.commit, "build_date", v.date, "libbpf", v.libbpf, "bpf_abi",
			 (int)v.bpf_abi);
}

int xcni_version_print(FILE *f, const char *prog, bool json)
{
	struct xcni_version v;
	json_t *o;
	int err;

	if (!json) {
		xcni_version_get(&v);
		fprintf(f, "%s %s (commit %s, built %s) libbpf %s, BPF ABI %u\n", prog, v.version,
			v.commit, v.date, v.libbpf, v.bpf_abi);
		return fflush(f) == EOF ? -EIO : 0;
	}
	o = version_json(prog);
	if (!o)
		return -ENOMEM;
	err = json_dumpf(o, f, JSON_COMPACT) || fputc('\n', f) == EOF || fflush(f) ? -EIO : 0;
	json_decref(o);
	return err;
}

int xcni_version_main(const char *prog, int argc, char **argv)
{
	enum pt_format fmt = PT_TEXT;
	bool asked = argc > 1 && !strcmp(argv[1], "version");
	const char *o;
	int err;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--version"))
			asked = true;
	if (!asked)
		return -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "version") && i == 1)
			continue;
		if (!strcmp(argv[i], "--version"))
			continue;
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			fmt = PT_JSON;
			continue;
		}
		o = !strcmp(argv[i], "-o") || !strcmp(argv[i], "--output") ? argv[++i] :
		    !strncmp(argv[i], "--output=", 9)			 ? argv[i] + 9 :
		    !strncmp(argv[i], "-o", 2)				 ? argv[i] + 2 : NULL;
		if (!o && i < argc)
			return pr_err_ret(2, "version: unexpected argument %s (it takes -o "
					  "text|json|yaml)\n", argv[i]);
		if (!o || pt_format_parse(o, &fmt))
			return pr_err_ret(2, "-o %s: not an output format of version (text, json, "
					  "yaml)\n", o ?: "");
	}
	if (fmt == PT_YAML) {
		json_t *j = version_json(prog);

		err = j ? pt_yaml_dump(j, stdout) : -ENOMEM;
		json_decref(j);
	} else {
		err = xcni_version_print(stdout, prog, fmt != PT_TEXT && fmt != PT_WIDE);
	}
	if (err)
		pr_err("version: %s\n", strerror(-err));
	return err ? 1 : 0;
}
