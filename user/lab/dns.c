// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: the cluster's DNS. A pod annotated lab.xcni.io/server: dnsmasq
 * (`lab up --dns` applies one, kube-system/dns behind the Service
 * kube-system/kube-dns at 10.96.0.10, as kind runs CoreDNS) runs dnsmasq in
 * its netns, answering <service>.<namespace>.svc.cluster.local with the
 * Service's ClusterIP (a headless Service: its ready pods' IPs) from a hosts file the lab's kube-proxy rewrites (and
 * signals dnsmasq to reread) whenever Services change; other names in
 * cluster.local are NXDOMAIN, and nothing is forwarded outside. Pods get the
 * resolv.conf the kubelet would write (nameserver the DNS Service, search
 * <ns>.svc.cluster.local svc.cluster.local cluster.local, ndots:5), bound
 * over /etc/resolv.conf for `lab exec`. With IPv6 (lab up --ip-family ipv6|dual)
 * the DNS Service has fd00:10:96::a too, and IPv6 ClusterIPs and pods answer AAAA.
 *
 * Outside names, for policy by DNS name (ClusterNetworkPolicy domainNames):
 * the outside host's three addresses under example.test (LAB_DNS_OUTSIDE;
 * other names there are NXDOMAIN): api and other A and AAAA, TTL 300, at
 * different addresses; www a CNAME of api; short A, TTL 5 (an expiry to
 * watch: docs/decisions/fqdn-in-bpf.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lab/dns.h"
#include "lab/pod.h"
#include "lab/slice.h"
#include "lab/underlay.h"
#include "lib/system/util.h"

#define DNS_READY_MS 5000

static int dns_dir(const struct lab *lab, char *out, size_t len)
{
	lab_path(lab, out, len, "dns");
	if (mkdir(out, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

bool lab_has_dns(const struct lab *lab)
{
	for (size_t i = 0; i < lab->npods; i++)
		if (lab->pods[i].dns)
			return true;
	return false;
}

static void hosts_line(FILE *f, const char *ip, json_t *svc)
{
	fprintf(f, "%s %s.%s.svc." LAB_DNS_DOMAIN "\n", ip,
		json_string_value(json_object_get(svc, "name")),
		json_string_value(json_object_get(svc, "namespace")));
}

/* The hosts file dnsmasq answers from: every Service's name and ClusterIP (headless: its pods' IPs). */
static int hosts_write(struct lab *lab)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	json_t *svcs = lab_svc_json(lab), *s;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;
	int err;

	err = dns_dir(lab, dir, sizeof(dir));
	if (err || !svcs) {
		json_decref(svcs);
		return err ? err : -ENOMEM;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		json_decref(svcs);
		return -ENOMEM;
	}
	json_array_foreach(svcs, i, s) {
		const char *cip = json_string_value(json_object_get(s, "clusterIP"));
		json_t *a;
		size_t j;

		/* A headless Service's name answers its pods' addresses, one record each;
		 * an IPv6 address is an AAAA record (dnsmasq reads both from hosts files). */
		json_array_foreach(json_object_get(s, strcmp(cip, "None") ? "clusterIPs" : "addresses"),
				   j, a)
			hosts_line(f, json_string_value(a), s);
	}
	fclose(f);
	json_decref(svcs);
	snprintf(path, sizeof(path), "%s/hosts", dir);
	err = buf ? lab_write_atomic(path, buf, len) : -ENOMEM;
	free(buf);
	return err;
}

/* After Services changed: the new hosts file, and dnsmasq told to reread it. */
int lab_dns_sync(struct lab *lab)
{
	int err;

	if (!lab_has_dns(lab))
		return 0;
	err = hosts_write(lab);
	if (err)
		return said(err, "lab: writing the DNS hosts file: %s\n", strerror(-err));
	for (size_t i = 0; i < lab->npods; i++)
		if (lab->pods[i].dns && lab_proc_alive(&lab->pods[i].server))
			kill(lab->pods[i].server.pid, SIGHUP);
	return 0;
}

/* From the pod's netns: does something answer TCP on port 53? */
static bool dns_listening(const char *netns)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = open(netns, O_RDONLY | O_CLOEXEC), s = -1;
	bool ok = false;

	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET))
		goto out;
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (setns(self, CLONE_NEWNET))
		ok = false;
out:
	xcni_close(&s);
	xcni_close(&fd);
	xcni_close(&self);
	return ok;
}

int lab_dns_start(struct lab *lab, struct lab_pod *pod)
{
	char dir[PATH_MAX], hosts[PATH_MAX + 32], pid[PATH_MAX + 32], log[PATH_MAX];
	char netns[PATH_MAX], addn[PATH_MAX + 48], pidarg[PATH_MAX + 48];
	const char *bin = access("/usr/sbin/dnsmasq", X_OK) ? "dnsmasq" : "/usr/sbin/dnsmasq";
	long long deadline;
	int err;

	err = dns_dir(lab, dir, sizeof(dir));
	if (!err) {
		/* lab_has_dns() sees this pod only once it is recorded: write for it now. */
		pod->dns = true;
		err = hosts_write(lab);
	}
	if (err)
		return said(err, "lab: pod %s/%s: DNS hosts file: %s\n", pod->ns, pod->name,
			    strerror(-err));
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	snprintf(pid, sizeof(pid), "%s/dnsmasq.pid", dir);
	snprintf(addn, sizeof(addn), "--addn-hosts=%s", hosts);
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s", pid);
	char *const argv[] = {
		(char *)bin, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
		"--no-hosts", addn, "--local=/" LAB_DNS_DOMAIN "/", "--domain-needed",
		"--local=/" LAB_DNS_OUTSIDE "/",
		"--host-record=api." LAB_DNS_OUTSIDE "," LAB_OUT_IP "," LAB_OUT_IP6 ",300",
		"--host-record=other." LAB_DNS_OUTSIDE "," LAB_OUT_IP_B "," LAB_OUT_IP6_B ",300",
		"--host-record=short." LAB_DNS_OUTSIDE "," LAB_OUT_IP_C ",5",
		"--cname=www." LAB_DNS_OUTSIDE ",api." LAB_DNS_OUTSIDE ",300",
		"--user=root", "--port=53", "--cache-size=0", pidarg, "--log-facility=-", NULL,
	};
	lab_path(lab, log, sizeof(log), "pods/%s.%s.log", pod->ns, pod->name);
	lab_netns_path(pod->netns, netns, sizeof(netns));
	err = lab_spawn_daemon(netns, argv, log, -1, 0, &pod->server);
	if (!err && (err = lab_pod_cgroup_join(lab, pod, pod->server.pid))) {
		lab_proc_stop(&pod->server);
		return err;
	}
	if (err)
		return said(err,
			    "lab: pod %s/%s: starting %s: %s (install dnsmasq-base)\n", pod->ns,
			    pod->name, bin, strerror(-err));
	deadline = xcni_mono_ms() + DNS_READY_MS;
	while (!dns_listening(netns)) {
		if (!lab_proc_alive(&pod->server) || xcni_mono_ms() > deadline) {
			fprintf(stderr, "lab: pod %s/%s: dnsmasq did not start (see %s)\n", pod->ns,
				pod->name, log);
			lab_proc_stop(&pod->server);
			return -EIO;
		}
		usleep(20000);
	}
	return 0;
}

int lab_dns_resolv_conf(const struct lab *lab, const char *ns, char *out, size_t len)
{
	char dir[PATH_MAX], *buf = NULL;
	int err = dns_dir(lab, dir, sizeof(dir)), n;

	if (err)
		return err;
	snprintf(out, len, "%s/resolv.%s.conf", dir, ns);
	/* The DNS Service's ClusterIP of the lab's first family (as the kubelet's --cluster-dns). */
	n = asprintf(&buf,
		     "nameserver %s\n"
		     "search %s.svc." LAB_DNS_DOMAIN " svc." LAB_DNS_DOMAIN " " LAB_DNS_DOMAIN "\n"
		     "options ndots:5\n",
		     lab->family & LAB_FAM_V4 ? LAB_DNS_IP : LAB_DNS_IP6, ns);
	if (n < 0)
		return -ENOMEM;
	err = lab_write_atomic(out, buf, (size_t)n);
	free(buf);
	return err;
}
