// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's state, and its only owner: <labdir>/lab.json holds which process,
 * netns and IP belong to what, so every invocation sees it; changes hold
 * <labdir>/.lock from reading lab.json to the last write. Every other module
 * gets the struct lab this one loaded, changes it, and has it saved here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/state.h"
#include "lib/services/svc.h"
#include "lib/system/util.h"

const char *lab_dir(void)
{
	const char *d = getenv("XCNI_LAB_DIR");

	return d && *d ? d : LAB_DEFAULT_DIR;
}

void lab_path(const struct lab *lab, char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(out, len, "%s/", lab->dir);
	if (n < 0 || (size_t)n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(out + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

struct lab_node *lab_node_find(struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->nnodes; i++)
		if (!strcmp(lab->nodes[i].name, name))
			return &lab->nodes[i];
	return NULL;
}

struct lab_pod *lab_pod_find(struct lab *lab, const char *ns, const char *name)
{
	for (size_t i = 0; i < lab->npods; i++)
		if (!strcmp(lab->pods[i].ns, ns) && !strcmp(lab->pods[i].name, name))
			return &lab->pods[i];
	return NULL;
}

struct lab_pod *lab_pod_lookup(struct lab *lab, const char *nspod)
{
	const char *slash = strchr(nspod, '/');
	struct lab_pod *p = NULL;
	char *ns;

	if (slash && slash != nspod && slash[1]) {
		ns = strndup(nspod, (size_t)(slash - nspod));
		if (ns)
			p = lab_pod_find(lab, ns, slash + 1);
		free(ns);
	}
	if (!p)
		fprintf(stderr, "lab: no pod %s in the lab (NS/POD; see xcnictl lab get)\n", nspod);
	return p;
}

void lab_pod_clear(struct lab_pod *p)
{
	free(p->ns);
	free(p->name);
	free(p->ports);
	memset(p, 0, sizeof(*p));
}

const char *lab_family_word(unsigned int fam)
{
	return fam == LAB_FAM_DUAL ? "dual" : fam == LAB_FAM_V6 ? "ipv6" : "ipv4";
}

unsigned int lab_family_parse(const char *s)
{
	return !strcmp(s, "ipv4") ? LAB_FAM_V4 : !strcmp(s, "ipv6") ? LAB_FAM_V6 :
	       !strcmp(s, "dual") ? LAB_FAM_DUAL : 0;
}

static json_t *proc_json(const struct lab_proc *p)
{
	return json_pack("{s:i,s:I}", "pid", (int)p->pid, "start", (json_int_t)p->start);
}

static void proc_from_json(json_t *j, struct lab_proc *p)
{
	p->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	p->start = (unsigned long long)json_integer_value(json_object_get(j, "start"));
}

json_t *lab_agent_args_json(const struct lab *lab)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < lab->nagent_args; i++)
		json_array_append_new(a, json_string(lab->agent_args[i]));
	return a;
}

int lab_state_save(const struct lab *lab)
{
	json_t *root, *nodes, *pods;
	char path[PATH_MAX];
	int err = -ENOMEM;

	root = json_pack("{s:b,s:b,s:b,s:s,s:o,s:s,s:s,s:b,s:s,s:o,s:o}", "createdDir",
			 lab->created_dir, "underlay", lab->underlay, "outside", lab->outside,
			 "kubeProxy", lab->kube_proxy_none ? "none" : "iptables", "nodePortRange",
			 json_sprintf("%u-%u", lab->np_min, lab->np_max), "ipFamily",
			 lab_family_word(lab->family), "nodePortMode", lab->np_dsr ? "dsr" : "snat",
			 "underlayMixed", lab->ul_mixed, "tunnelFamily", lab->tun6 ? "ipv6" : "auto",
			 "agentArgs", lab_agent_args_json(lab), "outsideServer",
			 proc_json(&lab->outside_server));
	nodes = json_array();
	pods = json_array();
	if (!root || !nodes || !pods)
		goto out;
	for (size_t i = 0; i < lab->nnodes; i++) {
		const struct lab_node *n = &lab->nodes[i];

		if (json_array_append_new(nodes, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:b,s:b,s:s}", "name",
							   n->name, "netns", n->netns, "podCIDR",
							   n->cidr, "podCIDR6", n->cidr6, "internalIP",
							   n->ip, "pinDir", n->pin, "xcnid",
							   proc_json(&n->xcnid), "manifests",
							   n->manifests, "ipv6Only", n->ul6only,
							   "underlayNIC", n->nic)))
			goto out;
	}
	for (size_t i = 0; i < lab->npods; i++) {
		const struct lab_pod *p = &lab->pods[i];
		json_t *ports = json_array();

		for (size_t j = 0; ports && j < p->nports; j++)
			json_array_append_new(ports, json_sprintf("%u/%s", p->ports[j].port,
								  proto_name(p->ports[j].proto)));
		if (!ports ||
		    json_array_append_new(pods, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:b,s:b,s:i,s:I}",
							  "namespace", p->ns, "name", p->name,
							  "node", p->node, "netns", p->netns,
							  "containerId", p->cid, "ip", p->ip,
							  "ip6", p->ip6,
							  "server", proc_json(&p->server), "ports",
							  ports, "dns", p->dns, "tellPeer", p->tell,
							  "hostNetwork", p->host_network,
							  "gracePeriod", (int)p->grace_s,
							  "terminatingUntil", (json_int_t)p->term_until)))
			goto out;
	}
	json_object_set(root, "nodes", nodes);
	json_object_set(root, "pods", pods);
	lab_path(lab, path, sizeof(path), "lab.json");
	err = lab_write_json(path, root);
out:
	json_decref(nodes);
	json_decref(pods);
	json_decref(root);
	return err;
}

static int state_load(struct lab *lab, json_t *root)
{
	json_t *nodes = json_object_get(root, "nodes"), *pods = json_object_get(root, "pods");
	json_t *v;
	size_t i;

	lab->created_dir = json_is_true(json_object_get(root, "createdDir"));
	lab->underlay = json_is_true(json_object_get(root, "underlay"));
	lab->outside = json_is_true(json_object_get(root, "outside"));
	/* A lab.json from before the field: kube-proxy's iptables mode, the only one then. */
	lab->kube_proxy_none = !strcmp(jstr(root, "kubeProxy"), "none");
	lab->np_dsr = !strcmp(jstr(root, "nodePortMode"), "dsr");
	lab->ul_mixed = json_is_true(json_object_get(root, "underlayMixed"));
	/* A lab.json from before the field: auto, xcnid's default. */
	lab->tun6 = !strcmp(jstr(root, "tunnelFamily"), "ipv6");
	/* A lab.json from before the field: the API server's default range. */
	if (svc_nodeport_range_parse(jstr(root, "nodePortRange"), &lab->np_min, &lab->np_max)) {
		lab->np_min = SVC_NODEPORT_MIN;
		lab->np_max = SVC_NODEPORT_MAX;
	}
	/* A lab.json from before the field: IPv4, the only family then. */
	lab->family = lab_family_parse(jstr(root, "ipFamily"));
	if (!lab->family)
		lab->family = LAB_FAM_V4;
	json_array_foreach(json_object_get(root, "agentArgs"), i, v)
		if (json_is_string(v) && lab->nagent_args < LAB_MAX_AGENT_ARGS)
			snprintf(lab->agent_args[lab->nagent_args++], LAB_AGENT_ARG_LEN, "%s",
				 json_string_value(v));
	proc_from_json(json_object_get(root, "outsideServer"), &lab->outside_server);
	lab->nodes = calloc(json_array_size(nodes) + 1, sizeof(*lab->nodes));
	lab->pods = calloc(json_array_size(pods) + 1, sizeof(*lab->pods));
	if (!lab->nodes || !lab->pods)
		return -ENOMEM;
	json_array_foreach(nodes, i, v) {
		struct lab_node *n = &lab->nodes[lab->nnodes++];

		snprintf(n->name, sizeof(n->name), "%s", jstr(v, "name"));
		snprintf(n->netns, sizeof(n->netns), "%s", jstr(v, "netns"));
		snprintf(n->cidr, sizeof(n->cidr), "%s", jstr(v, "podCIDR"));
		snprintf(n->cidr6, sizeof(n->cidr6), "%s", jstr(v, "podCIDR6"));
		/* A lab.json from before the field: the pins where lab up puts them. */
		if (!snprintf(n->pin, sizeof(n->pin), "%s", jstr(v, "pinDir")))
			snprintf(n->pin, sizeof(n->pin), LAB_PIN_ROOT "/%s", n->name);
		snprintf(n->ip, sizeof(n->ip), "%s", jstr(v, "internalIP"));
		proc_from_json(json_object_get(v, "xcnid"), &n->xcnid);
		n->manifests = json_is_true(json_object_get(v, "manifests"));
		n->ul6only = json_is_true(json_object_get(v, "ipv6Only"));
		snprintf(n->nic, sizeof(n->nic), "%s", jstr(v, "underlayNIC"));
	}
	json_array_foreach(pods, i, v) {
		struct lab_pod *p = &lab->pods[lab->npods];
		json_t *ports = json_object_get(v, "ports"), *pv;
		size_t j;

		p->ns = strdup(jstr(v, "namespace"));
		p->name = strdup(jstr(v, "name"));
		p->ports = calloc(json_array_size(ports) + 1, sizeof(*p->ports));
		if (!p->ns || !p->name || !p->ports) {
			lab_pod_clear(p);
			return -ENOMEM;
		}
		lab->npods++;
		snprintf(p->node, sizeof(p->node), "%s", jstr(v, "node"));
		snprintf(p->netns, sizeof(p->netns), "%s", jstr(v, "netns"));
		snprintf(p->cid, sizeof(p->cid), "%s", jstr(v, "containerId"));
		snprintf(p->ip, sizeof(p->ip), "%s", jstr(v, "ip"));
		snprintf(p->ip6, sizeof(p->ip6), "%s", jstr(v, "ip6"));
		proc_from_json(json_object_get(v, "server"), &p->server);
		p->dns = json_is_true(json_object_get(v, "dns"));
		p->tell = json_is_true(json_object_get(v, "tellPeer"));
		p->host_network = json_is_true(json_object_get(v, "hostNetwork"));
		p->grace_s = (unsigned int)json_integer_value(json_object_get(v, "gracePeriod"));
		p->term_until = json_integer_value(json_object_get(v, "terminatingUntil"));
		p->terminating = p->term_until != 0;
		json_array_foreach(ports, j, pv)
			if (json_string_value(pv) && !lab_port_spec(json_string_value(pv), &p->ports[p->nports]))
				p->nports++;
	}
	return 0;
}

void lab_close(struct lab *lab)
{
	for (size_t i = 0; i < lab->npods; i++)
		lab_pod_clear(&lab->pods[i]);
	free(lab->pods);
	free(lab->nodes);
	if (lab->svc_index && lab->svc_index_free)
		lab->svc_index_free(lab->svc_index);
	xcni_close(&lab->lock_fd);
	memset(lab, 0, sizeof(*lab));
	lab->lock_fd = -1;
}

/* Takes <dir>/.lock; every change to the lab holds it from reading lab.json to the last write. */
static int lab_lock(struct lab *lab)
{
	char path[PATH_MAX];
	int err;

	lab_path(lab, path, sizeof(path), ".lock");
	lab->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lab->lock_fd < 0)
		return -errno;
	if (flock(lab->lock_fd, LOCK_EX)) {
		err = -errno;
		xcni_close(&lab->lock_fd);
		return err;
	}
	return 0;
}

int lab_open(struct lab *lab, bool lock)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root;
	int err;

	memset(lab, 0, sizeof(*lab));
	lab->lock_fd = -1;
	snprintf(lab->dir, sizeof(lab->dir), "%s", lab_dir());
	if (access(lab->dir, F_OK)) {
		err = -ENOENT;
		goto err_nolab;
	}
	if (lock) {
		err = lab_lock(lab);
		if (err)
			return said(err, "lab: locking %s/.lock: %s\n", lab->dir, strerror(-err));
	}
	lab_path(lab, path, sizeof(path), "lab.json");
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		err = access(path, F_OK) ? -ENOENT : -EBADMSG;
		if (err == -ENOENT)
			goto err_nolab;
		fprintf(stderr, "lab: %s: %s\n", path, jerr.text);
		goto err_close;
	}
	err = state_load(lab, root);
	json_decref(root);
	if (err)
		goto err_close;
	return 0;

err_nolab:
	fprintf(stderr, "lab: no lab is up in %s (xcnictl lab up; $XCNI_LAB_DIR picks the directory)\n",
		lab->dir);
err_close:
	lab_close(lab);
	return err;
}


int lab_create(struct lab *lab)
{
	char path[PATH_MAX];
	int err;

	memset(lab, 0, sizeof(*lab));
	lab->lock_fd = -1;
	snprintf(lab->dir, sizeof(lab->dir), "%s", lab_dir());
	if (!mkdir(lab->dir, 0755))
		lab->created_dir = true;
	else if (errno != EEXIST) {
		err = -errno;
		return said(err, "lab up: mkdir %s: %s\n", lab->dir, strerror(-err));
	}
	err = lab_lock(lab);
	if (err) {
		fprintf(stderr, "lab up: locking %s/.lock: %s\n", lab->dir, strerror(-err));
		if (lab->created_dir)
			rmdir(lab->dir);
		return err;
	}
	lab_path(lab, path, sizeof(path), "lab.json");
	if (!access(path, F_OK)) {
		fprintf(stderr, "lab up: a lab is up already in %s (xcnictl lab get shows it; "
				"xcnictl lab down removes it)\n", lab->dir);
		lab_close(lab);
		return -EEXIST;
	}
	return 0;
}
