// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid --kubeconfig FILE: the file as k8s_api_conf_kubeconfig reads it
 * (YAML, current-context -> cluster and user, base64 *-data fields, paths
 * relative to the file). The input is written to a file in a private
 * directory first, since the parser takes a path.
 */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/cluster/k8sapi.h"

static char dir[] = "/tmp/xcni-fuzz-kubeconfig.XXXXXX", path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xlog_max = XLOG_DEBUG;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/config", dir);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_api_conf c;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (k8s_api_conf_kubeconfig(path, &c) == 0) {
		FUZZ_ASSERT(c.server && !strncmp(c.server, "https://", 8));
		FUZZ_ASSERT(!c.ca_file || !c.ca_data);
		FUZZ_ASSERT(!(c.cert_file || c.cert_data) == !(c.key_file || c.key_data));
		/* The token goes into a header line as it is: no CR, LF or other control. */
		for (const char *t = c.token; t && *t; t++)
			FUZZ_ASSERT((unsigned char)*t >= 0x20 && *t != 0x7f);
		k8s_api_conf_free(&c);
	}
	return 0;
}
