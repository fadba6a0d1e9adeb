// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl connectivity test: the lab's (user/lab/conntest.c) or a cluster's
 * (conntest_k8s.c), one table and one command line; xcnictl hands it the
 * line as it does lab. connectivity probe: the one probe the cluster's run
 * execs in its pods.
 */
#include "ctl/ctl.h"
#include "lab/conntest.h"
#include "lab/svg.h"

/*
 * The kubeconfig kubectl would read: the first file of $KUBECONFIG's list
 * that exists (kubectl merges them; the test reads one), else
 * ~/.kube/config; NULL when neither.
 */
static const char *default_kubeconfig(char *buf, size_t len)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

	for (const char *p = env; p && *p;) {
		size_t n = strcspn(p, ":");

		if (n && n < len) {
			snprintf(buf, len, "%.*s", (int)n, p);
			if (!access(buf, R_OK))
				return buf;
		}
		p += n + (p[n] == ':');
	}
	if (home && *home) {
		snprintf(buf, len, "%s/.kube/config", home);
		if (!access(buf, R_OK))
			return buf;
	}
	return NULL;
}

/*
 * The run's result for CI: JUnit XML (the testsuite/testcase/failure/skipped
 * elements and counts Jenkins, GitLab and GitHub's reporters read). 0 or 2 (said).
 */
static int conntest_junit(const char *file, json_t *res, size_t n[3], double secs)
{
	FILE *f = fopen(file, "w");
	size_t i;
	json_t *r;

	if (!f)
		return said(2, "connectivity test: --junit %s: %s\n", file, strerror(errno));
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"%zu\" "
		   "failures=\"%zu\" skipped=\"%zu\" errors=\"0\" time=\"%.3f\">\n"
		   "  <testsuite name=\"xcni connectivity test\" tests=\"%zu\" failures=\"%zu\" "
		   "skipped=\"%zu\" errors=\"0\" time=\"%.3f\">\n", n[0] + n[1] + n[2], n[1], n[2],
		secs, n[0] + n[1] + n[2], n[1], n[2], secs);
	json_array_foreach(res, i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));
		const char *detail = json_string_value(json_object_get(r, "detail"));

		fputs("    <testcase classname=\"connectivity\" name=\"", f);
		lab_xml_put(f, json_string_value(json_object_get(r, "name")));
		fprintf(f, "\" time=\"%.3f\">", json_real_value(json_object_get(r, "seconds")));
		if (strcmp(st, "pass")) {
			fprintf(f, "\n      <%s message=\"", !strcmp(st, "fail") ? "failure" : "skipped");
			lab_xml_put(f, detail);
			fputs("\">", f);
			lab_xml_put(f, json_string_value(json_object_get(r, "path")));
			fprintf(f, "</%s>\n    ", !strcmp(st, "fail") ? "failure" : "skipped");
		}
		fputs("</testcase>\n", f);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	if (fclose(f))
		return said(2, "connectivity test: --junit %s: %s\n", file, strerror(errno));
	return 0;
}

/*
 * -o json and --junit around a run: with -o json the progress lines go to
 * stderr and stdout gets one object, {"exit", "passed", "failed", "skipped",
 * "seconds", "tests": [{name, path, status, detail, seconds}]}, written
 * whatever the run's exit (an error before any test: an empty list).
 */
static int conntest_run(const struct lab_ct_opts *o);

static int conntest_report(const struct lab_ct_opts *o)
{
	json_t *res = lab_ct_results(), *r;
	long long t0 = xcni_mono_ms();
	size_t n[3] = {}, i;
	int out = -1, ret, jret = 0;
	double secs;

	fflush(stdout);
	if (o->json && ((out = dup(STDOUT_FILENO)) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0))
		return said(2, "connectivity test: -o json: %s\n", strerror(errno));
	ret = conntest_run(o);
	secs = (double)(xcni_mono_ms() - t0) / 1000;
	json_array_foreach(res, i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));

		n[!strcmp(st, "fail") ? 1 : !strcmp(st, "skip") ? 2 : 0]++;
	}
	if (o->junit)
		jret = conntest_junit(o->junit, res, n, secs);
	if (out >= 0) {
		json_t *doc = json_pack("{s:i, s:I, s:I, s:I, s:f, s:O}", "exit", ret,
					"passed", (json_int_t)n[0], "failed", (json_int_t)n[1],
					"skipped", (json_int_t)n[2], "seconds", secs, "tests", res);

		fflush(stdout);
		dup2(out, STDOUT_FILENO);
		close(out);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	}
	return ret ? ret : jret;
}

/* The run: a cluster's (named, or found) or the lab's. */
static int conntest_run(const struct lab_ct_opts *o)
{
	char kc[PATH_MAX];
	const char *path;

	if (o->kubeconfig)
		return ctl_conntest_k8s(o, o->kubeconfig);
	if (o->in_cluster)
		return ctl_conntest_k8s(o, NULL);
	/* --list and --manifest need neither; a lab up wins over a kubeconfig lying about. */
	if (o->list || o->manifest || !lab_conntest_no_lab())
		return lab_conntest_run(o);
	path = default_kubeconfig(kc, sizeof(kc));
	if (path)
		return ctl_conntest_k8s(o, path);
	if (getenv("KUBERNETES_SERVICE_HOST"))
		return ctl_conntest_k8s(o, NULL);
	return lab_conntest_run(o);
}

static int conntest(int argc, char **argv)
{
	struct lab_ct_opts o;
	int ret = lab_conntest_parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	return o.json || o.junit ? conntest_report(&o) : conntest_run(&o);
}

int ctl_connectivity_main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "test"))
		return conntest(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "probe"))
		return lab_cmd_conntest_probe(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: xcnictl connectivity test [OPTIONS]  (connectivity test --help)\n");
		return 0;
	}
	return said(2, "xcnictl connectivity: %s%s (want: connectivity test; connectivity test "
		    "--help)\n", argc > 1 ? "unknown subcommand " : "missing subcommand",
		    argc > 1 ? argv[1] : "");
}
