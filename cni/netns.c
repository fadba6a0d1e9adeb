// SPDX-License-Identifier: Apache-2.0
/*
 * The two network namespaces a call works in: netlink sockets in the host's
 * and the pod's, and the sysctls set in whichever the caller is in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "lib/system/util.h"

int cni_nl_fail(struct cni_ctx *c, struct nl *nl, int err, const char *what)
{
	cni_fail(&c->err, XCNI_ERR_NETLINK, "%s: %s%s%s", what, strerror(-err),
		 nl && nl->errmsg[0] ? ": " : "", nl ? nl->errmsg : "");
	return err;
}

void netns_close(struct netns *ns)
{
	nl_close(&ns->pod);
	nl_close(&ns->host);
	xcni_close(&ns->pod_fd);
	xcni_close(&ns->host_fd);
}

/* Opens netlink sockets in the host netns and, if path is set, in the pod's. */
int netns_open(struct cni_ctx *c, struct netns *ns, const char *path)
{
	int err;

	memset(ns, 0, sizeof(*ns));
	ns->host_fd = ns->pod_fd = -1;
	ns->host_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns->host_fd < 0)
		return cni_fail(&c->err, CNI_ERR_IO, "open own netns: %s", strerror(errno)), -errno;
	err = nl_open(&ns->host);
	if (err)
		return cni_nl_fail(c, NULL, err, "netlink socket");
	if (!path)
		return 0;
	ns->pod_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns->pod_fd < 0) {
		err = -errno;
		cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_NETNS %s: %s", path, strerror(-err));
		return err;
	}
	err = nl_netns_enter(ns->pod_fd);
	if (err) {
		cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_NETNS %s is not a network namespace: %s",
			 path, strerror(-err));
		return err;
	}
	err = nl_open(&ns->pod);
	nl_netns_enter(ns->host_fd);
	if (err)
		return cni_nl_fail(c, NULL, err, "netlink socket in pod netns");
	return 0;
}

void enable_forwarding(void)
{
	if (xcni_sysctl("/proc/sys/net/ipv4/ip_forward", "1", NULL))
		fprintf(stderr, "xcni: warning: cannot enable IPv4 forwarding\n");
}

int ipv6_conf(const char *ifname, const char *key, const char *val, char *was)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	return xcni_sysctl(path, val, was);
}
