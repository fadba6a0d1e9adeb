// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's pods, as the scheduler, kubelet and runtime make them: a node
 * picked, a netns named after the pod, CNI ADD through the real xcni binary
 * in the node's netns, the pod's object with its node and IP, its listener;
 * and all of it undone by teardown (CNI DEL is idempotent).
 */
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/pod.h"
#include "lib/system/hash.h"

/*
 * How long a terminating pod's listener may finish the connections it holds
 * before it is stopped (lab_pod_teardown); bounded, so a client that keeps
 * its connection open does not hold up the delete.
 */
#define LAB_DRAIN_MS 1000

/* ---- names ------------------------------------------------------------------- */

/* A namespace has no dot, so "<ns>.<name>" is unambiguous; very long ones get a hash. */
static void pod_names(struct lab_pod *p)
{
	uint64_t h = xcni_fnv1a64(p->ns, p->name);

	snprintf(p->cid, sizeof(p->cid), "xcl-%016llx", (unsigned long long)h);
	if (strlen(p->ns) + strlen(p->name) + sizeof(LAB_NETNS_PREFIX) + 1 < 200)
		snprintf(p->netns, sizeof(p->netns), LAB_NETNS_PREFIX "%s.%s", p->ns, p->name);
	else
		snprintf(p->netns, sizeof(p->netns), LAB_NETNS_PREFIX "p-%016llx",
			 (unsigned long long)h);
}

/* ---- CNI ---------------------------------------------------------------------- */

/*
 * The result's addresses ("10.244.1.5/24" -> "10.244.1.5"): the first of each
 * family; -EBADMSG if it has none.
 */
static int cni_result_ips(const char *out, struct lab_pod *pod)
{
	json_t *res = json_loads(out ? out : "", 0, NULL), *v;
	size_t i;

	pod->ip[0] = pod->ip6[0] = '\0';
	json_array_foreach(json_object_get(res, "ips"), i, v) {
		const char *a = json_string_value(json_object_get(v, "address")), *slash;
		bool six;

		if (!a || !(slash = strchr(a, '/')))
			continue;
		six = strchr(a, ':') != NULL;
		if (six && !pod->ip6[0] && (size_t)(slash - a) < sizeof(pod->ip6))
			snprintf(pod->ip6, sizeof(pod->ip6), "%.*s", (int)(slash - a), a);
		else if (!six && !pod->ip[0] && (size_t)(slash - a) < sizeof(pod->ip))
			snprintf(pod->ip, sizeof(pod->ip), "%.*s", (int)(slash - a), a);
	}
	json_decref(res);
	return pod->ip[0] || pod->ip6[0] ? 0 : -EBADMSG;
}

/* CNI ADD/DEL of pod through xcni in its node's netns. ADD fills pod->ip. */
static int lab_cni(struct lab *lab, struct lab_pod *pod, const char *cmd)
{
	char bin[PATH_MAX], cni_path[PATH_MAX + 32], conf_path[PATH_MAX], node_ns[PATH_MAX];
	char e_cmd[64], e_cid[64], e_netns[PATH_MAX + 16], e_path[PATH_MAX + 48];
	char e_args[1024], e_sys[512], pod_ns[PATH_MAX], *conf = NULL, *out = NULL, *eout = NULL;
	char e_att[32] = "";
	/* XCNI_ATTACH (tc: the older attach path forced) reaches the plugin as the
	 * agents, started from this environment, get it. */
	char *envp[] = { e_sys, e_cmd, e_cid, e_netns, "CNI_IFNAME=eth0", e_path, e_args,
			 getenv("XCNI_ATTACH") ? e_att : NULL, NULL };
	char *argv[] = { bin, NULL };
	const struct lab_node *node = lab_node_find(lab, pod->node);
	const char *sys = getenv("PATH");
	int status = 0, err;

	if (!node)
		return -ENOENT;
	err = lab_find_bin("xcni", "XCNI_BIN", bin, sizeof(bin));
	if (err)
		return err;
	snprintf(cni_path, sizeof(cni_path), "%s", bin);
	snprintf(e_path, sizeof(e_path), "CNI_PATH=%s:/usr/lib/cni", dirname(cni_path));
	lab_path(lab, conf_path, sizeof(conf_path), "%s/net.json", node->name);
	lab_netns_path(node->netns, node_ns, sizeof(node_ns));
	lab_netns_path(pod->netns, pod_ns, sizeof(pod_ns));
	snprintf(e_sys, sizeof(e_sys), "PATH=%s", sys ? sys : "/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(e_att, sizeof(e_att), "XCNI_ATTACH=%.8s", getenv("XCNI_ATTACH") ?: "");
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", pod->cid);
	snprintf(e_netns, sizeof(e_netns), "CNI_NETNS=%s", pod_ns);
	snprintf(e_args, sizeof(e_args), "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s",
		 pod->ns, pod->name);
	err = lab_read_file(conf_path, &conf);
	if (err)
		return said(err, "lab: %s: %s\n", conf_path, strerror(-err));
	err = lab_run(node_ns, argv, envp, conf, &out, &eout, &status);
	if (err) {
		fprintf(stderr, "lab: CNI %s %s/%s: %s\n", cmd, pod->ns, pod->name, strerror(-err));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		json_t *e = json_loads(out ? out : "", 0, NULL);
		const char *msg = json_string_value(json_object_get(e, "msg"));
		const char *det = json_string_value(json_object_get(e, "details"));

		if (msg)
			fprintf(stderr, "lab: CNI %s %s/%s on %s failed: %s%s%s%s (code %lld)\n", cmd,
				pod->ns, pod->name, node->name, msg, det && *det ? " (" : "",
				det && *det ? det : "", det && *det ? ")" : "",
				(long long)json_integer_value(json_object_get(e, "code")));
		else
			fprintf(stderr, "lab: CNI %s %s/%s on %s failed: %s %d, no error result\n",
				cmd, pod->ns, pod->name, node->name,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		if (eout && *eout)
			fprintf(stderr, "%s", eout);
		json_decref(e);
		err = -EIO;
		goto out;
	}
	if (!strcmp(cmd, "ADD")) {
		err = cni_result_ips(out, pod);
		if (err)
			fprintf(stderr, "lab: CNI ADD %s/%s: no IP in the result: %s\n", pod->ns,
				pod->name, out ? out : "");
	}
out:
	free(out);
	free(eout);
	free(conf);
	return err;
}

/* ---- the pod object ------------------------------------------------------------ */

/* The pod's hostIP: its node's first InternalIP (buf: LAB_ADDR6_LEN). */
static const char *node_internal_ip(struct lab *lab, const char *node, char *buf, size_t len)
{
	const struct lab_node *n = lab_node_find(lab, node);

	return n ? lab_node_addr(lab, n, buf, len) : "";
}

/*
 * The pod as the kubelet reports it: on its node, with its IP, in phase
 * (Running; Succeeded or Failed for a pod that finished, which keeps the IP
 * it had, as the API server keeps a finished pod's status until it is collected).
 */
int lab_pod_object_write(struct lab *lab, const struct k8s_object *obj, const struct lab_pod *p,
			 const char *phase, enum lab_wr *res)
{
	json_t *doc = lab_object_doc(obj), *spec, *status;
	char path[PATH_MAX], hip[LAB_ADDR6_LEN];
	int err = -ENOMEM;

	if (!doc)
		return -ENOMEM;
	spec = json_object_get(doc, "spec");
	/* podIP is podIPs[0]: IPv4 first in dual stack, as the kubelet reports them. */
	status = json_pack("{s:s,s:s,s:s,s:[{s:s}]}", "phase", phase, "hostIP",
			   node_internal_ip(lab, p->node, hip, sizeof(hip)), "podIP", *p->ip ? p->ip : p->ip6,
			   "podIPs", "ip", *p->ip ? p->ip : p->ip6);
	if (status && *p->ip && *p->ip6 &&
	    json_array_append_new(json_object_get(status, "podIPs"), json_pack("{s:s}", "ip", p->ip6))) {
		json_decref(status);
		goto out;
	}
	if (!json_is_object(spec) || !status ||
	    json_object_set_new(spec, "nodeName", json_string(p->node)) ||
	    json_object_set_new(doc, "status", status))
		goto out;
	lab_object_file(lab, K8S_POD, p->ns, p->name, path, sizeof(path));
	err = lab_object_write(path, doc, res);
out:
	json_decref(doc);
	return err;
}

/* ---- pods -------------------------------------------------------------------- */

/* The ports the listener serves: TCP and UDP, each once; SCTP has no sockets here. */
int lab_pod_ports(const struct k8s_object *obj, struct lab_port **out, size_t *n)
{
	const struct k8s_pod *pod = &obj->pod;
	struct lab_port *v = calloc(pod->nports + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < pod->nports; i++) {
		const struct k8s_container_port *cp = &pod->ports[i];
		bool dup = false;

		if (cp->proto == IPPROTO_SCTP) {
			fprintf(stderr, "lab: warning: Pod %s/%s: containerPort %u/SCTP not served "
					"(this kernel has no SCTP sockets)\n",
				obj->meta.ns, obj->meta.name, cp->port);
			continue;
		}
		for (size_t j = 0; j < k; j++)
			dup |= v[j].port == cp->port && v[j].proto == cp->proto;
		if (!dup)
			v[k++] = (struct lab_port){ cp->port, cp->proto };
	}
	*out = v;
	*n = k;
	return 0;
}

bool lab_ports_equal(const struct lab_port *a, size_t na, const struct lab_port *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;

		for (size_t j = 0; j < nb && !found; j++)
			found = a[i].port == b[j].port && a[i].proto == b[j].proto;
		if (!found)
			return false;
	}
	return true;
}

/*
 * The node with the fewest pods (the first of equals), as a scheduler without
 * constraints would; only nodes whose Node object exists. NULL: none does.
 */
static const char *pick_node(struct lab *lab)
{
	size_t best = 0, best_n = (size_t)-1;

	for (size_t i = 0; i < lab->nnodes; i++) {
		size_t n = 0;

		if (!lab_node_registered(lab, &lab->nodes[i]))
			continue;
		for (size_t j = 0; j < lab->npods; j++)
			n += !strcmp(lab->pods[j].node, lab->nodes[i].name);
		if (n < best_n) {
			best = i;
			best_n = n;
		}
	}
	return best_n == (size_t)-1 ? NULL : lab->nodes[best].name;
}

void lab_pod_remove(struct lab *lab, struct lab_pod *p)
{
	size_t i = (size_t)(p - lab->pods);

	lab_pod_clear(p);
	memmove(&lab->pods[i], &lab->pods[i + 1], (lab->npods - i - 1) * sizeof(*p));
	lab->npods--;
}

int lab_pod_teardown(struct lab *lab, struct lab_pod *pod)
{
	char path[PATH_MAX];
	int err = 0;

	/* A pod that went terminating (no new connection is sent to it any
	 * more) first finishes the ones it holds, as a server draining on
	 * SIGTERM would: a request already in flight gets its answer. */
	if (pod->terminating && !pod->host_network) {
		long long until = xcni_mono_ms() + LAB_DRAIN_MS;

		lab_netns_path(pod->netns, path, sizeof(path));
		while (lab_netns_tcp_open(path) > 0 && xcni_mono_ms() < until)
			usleep(20 * 1000);
	}
	lab_proc_stop(&pod->server);
	/* DEL is idempotent: it cleans up whatever part of ADD happened. A
	 * hostNetwork pod had neither: its netns is its node's. */
	if (!pod->host_network && lab_cni(lab, pod, "DEL"))
		err = -EIO;
	if (!pod->host_network && lab_netns_delete(pod->netns))
		err = -EIO;
	lab_object_file(lab, K8S_POD, pod->ns, pod->name, path, sizeof(path));
	unlink(path);
	lab_path(lab, path, sizeof(path), "pods/%s.%s.log", pod->ns, pod->name);
	unlink(path);
	return err;
}

/*
 * A hostNetwork pod p on its node: the node's netns and addresses, as the
 * kubelet runs one. Its listener shares the node's ports with every other
 * hostNetwork pod there: -EADDRINUSE (said) if one of them serves a port of
 * p's already.
 */
static int host_network_place(struct lab *lab, const struct k8s_object *obj, struct lab_pod *p)
{
	const struct lab_node *n = lab_node_find(lab, p->node);

	if (!n)
		return -ENOENT;
	for (size_t i = 0; i < lab->npods; i++) {
		const struct lab_pod *q = &lab->pods[i];

		if (!q->host_network || strcmp(q->node, p->node))
			continue;
		for (size_t j = 0; j < p->nports; j++)
			for (size_t k = 0; k < q->nports; k++)
				if (p->ports[j].port == q->ports[k].port &&
				    p->ports[j].proto == q->ports[k].proto) {
					return said(-EADDRINUSE, "lab apply: Pod %s/%s: "
						    "spec.hostNetwork: port %u/%s of node %s is "
						    "taken by hostNetwork pod %s/%s\n",
						    obj->meta.ns, obj->meta.name, p->ports[j].port,
						    p->ports[j].proto == IPPROTO_UDP ? "UDP" :
						    "TCP", n->name, q->ns, q->name);
				}
	}
	p->host_network = true;
	snprintf(p->netns, sizeof(p->netns), "%s", n->netns);
	p->cid[0] = '\0';
	/* An ipv6 lab's (or an --ipv6-only-nodes node's) n->ip only numbers the
	 * node: no link carries it. */
	if (!lab_node_ul6only(lab, n))
		snprintf(p->ip, sizeof(p->ip), "%s", n->ip);
	if (lab->family & LAB_FAM_V6)
		return lab_node_ip6(lab, n, p->ip6, sizeof(p->ip6));
	return 0;
}

int lab_pod_create(struct lab *lab, const struct k8s_object *obj, struct lab_pod **out)
{
	const char *node = obj->pod.node_name ? obj->pod.node_name : pick_node(lab), *server;
	struct lab_pod *pods, *p;
	int err;

	if (!node) {
		/* A scheduler leaves such a pod pending; the lab says why instead. */
		return said(-EAGAIN, "lab apply: Pod %s/%s: no node to schedule it on (every Node "
			    "object is deleted; apply one, or set spec.nodeName)\n", obj->meta.ns,
			    obj->meta.name);
	}
	pods = realloc(lab->pods, (lab->npods + 1) * sizeof(*pods));
	if (!pods)
		return -ENOMEM;
	lab->pods = pods;
	p = &lab->pods[lab->npods];
	memset(p, 0, sizeof(*p));
	p->ns = strdup(obj->meta.ns);
	p->name = strdup(obj->meta.name);
	if (!p->ns || !p->name || lab_pod_ports(obj, &p->ports, &p->nports)) {
		lab_pod_clear(p);
		return -ENOMEM;
	}
	snprintf(p->node, sizeof(p->node), "%s", node);
	server = json_string_value(json_object_get(
		json_object_get(json_object_get(obj->raw, "metadata"), "annotations"),
		LAB_DNS_ANNOTATION)) ?: "";
	p->dns = !strcmp(server, "dnsmasq");
	p->tell = !strcmp(server, "tell-peer");
	pod_names(p);
	err = obj->pod.host_network ? host_network_place(lab, obj, p) : lab_netns_create(p->netns);
	if (err) {
		lab_pod_clear(p);
		return err;
	}
	/* Recorded before ADD, so `lab down` finds it whatever happens next. */
	lab->npods++;
	err = lab_state_save(lab);
	if (err)
		goto err_undo;
	if (obj->pod.host_network) {
		*out = p;
		return 0;
	}
	err = lab_cni(lab, p, "ADD");
	if (err)
		goto err_undo;
	*out = p;
	return 0;

err_undo:
	lab_pod_undo(lab, p);
	return err;
}

void lab_pod_undo(struct lab *lab, struct lab_pod *p)
{
	lab_pod_teardown(lab, p);
	lab_pod_remove(lab, p);
	lab_state_save(lab);
}

int lab_pod_cgroup_join(struct lab *lab, const struct lab_pod *pod, pid_t pid)
{
	struct lab_node *n = lab_node_find(lab, pod->node);

	return n ? lab_node_cgroup_enter(n, pid) : 0;
}

int lab_pod_serve(struct lab *lab, struct lab_pod *pod)
{
	char log[PATH_MAX], name[600], (*specs)[16];
	char **sp;
	int err = -ENOMEM;

	pod->server = (struct lab_proc){};
	if (!pod->nports)
		return 0;
	specs = calloc(pod->nports, sizeof(*specs));
	sp = calloc(pod->nports, sizeof(*sp));
	if (!specs || !sp)
		goto out;
	for (size_t i = 0; i < pod->nports; i++) {
		snprintf(specs[i], sizeof(specs[i]), "%u/%s", pod->ports[i].port,
			 pod->ports[i].proto == IPPROTO_UDP ? "udp" : "tcp");
		sp[i] = specs[i];
	}
	snprintf(name, sizeof(name), "%s/%s", pod->ns, pod->name);
	lab_path(lab, log, sizeof(log), "pods/%s.%s.log", pod->ns, pod->name);
	err = lab_serve_spawn(pod->netns, name, sp, pod->nports, pod->tell, log, &pod->server);
	if (!err && (err = lab_pod_cgroup_join(lab, pod, pod->server.pid)))
		lab_proc_stop(&pod->server);
out:
	free(sp);
	free(specs);
	return err;
}
