// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl connectivity test: the lab's (user/lab/conntest.c) or a cluster's
 * (conntest_k8s.c), one table and one command line; xcnictl hands it the
 * line as it does lab. connectivity probe: the one probe the cluster's run
 * execs in its pods.
 */
#include "ctl/ctl.h"
#include "lab/conntest.h"

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

static int conntest(int argc, char **argv)
{
	struct lab_ct_opts o;
	char kc[PATH_MAX];
	const char *path;
	int ret = lab_conntest_parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (o.kubeconfig)
		return ctl_conntest_k8s(&o, o.kubeconfig);
	if (o.in_cluster)
		return ctl_conntest_k8s(&o, NULL);
	/* --list and --manifest need neither; a lab up wins over a kubeconfig lying about. */
	if (o.list || o.manifest || !lab_conntest_no_lab())
		return lab_conntest_run(&o);
	path = default_kubeconfig(kc, sizeof(kc));
	if (path)
		return ctl_conntest_k8s(&o, path);
	if (getenv("KUBERNETES_SERVICE_HOST"))
		return ctl_conntest_k8s(&o, NULL);
	return lab_conntest_run(&o);
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
	fprintf(stderr, "xcnictl connectivity: %s%s (want: connectivity test; "
			"connectivity test --help)\n", argc > 1 ? "unknown subcommand " : "missing subcommand",
		argc > 1 ? argv[1] : "");
	return 2;
}
