// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab, and what the other commands take from a lab: --node NAME runs
 * a view against one lab node (its network namespace, its pin dir), and a
 * view that finds no maps where they live outside a lab says where a lab's
 * are. The lab itself is user/lab (lab_main and lab.h's state functions);
 * nothing here changes a lab, it only reads lab.json.
 */
#include <fcntl.h>
#include <sched.h>

#include "ctl/ctl.h"
#include "lab/lab.h"

/* lab_open() without its message when no lab is up: 0, -ENOENT (nothing said), -errno. */
static int lab_open_quiet(struct lab *lab)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lab.json", lab_dir());
	if (access(path, F_OK))
		return -ENOENT;
	return lab_open(lab, false);
}

/* "n1, n2, n3": the lab's node names into buf. */
static const char *node_names(const struct lab *lab, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < lab->nnodes && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", lab->nodes[i].name);
	return buf;
}

/*
 * The lab's node name (with all: every node for "all") into out: at most max,
 * *n of them. -EINVAL when no lab is up or it has no such node (said), -errno.
 */
static int lab_nodes(const char *name, bool all, struct ctl_lab_node *out, size_t max, size_t *n)
{
	struct lab lab;
	char names[256];
	int err = lab_open_quiet(&lab);

	*n = 0;
	if (err == -ENOENT)
		return pr_err_ret(-EINVAL, "--node %s: no lab is up in %s (xcnictl lab up starts "
				  "one; $XCNI_LAB_DIR picks the directory)\n", name, lab_dir());
	if (err)
		return err; /* a lab.json that does not parse: said */
	for (size_t i = 0; i < lab.nnodes && *n < max; i++) {
		const struct lab_node *ln = &lab.nodes[i];

		if ((!all || strcmp(name, "all")) && strcmp(name, ln->name))
			continue;
		snprintf(out[*n].name, sizeof(out[*n].name), "%s", ln->name);
		if (ln->pin[0])
			snprintf(out[*n].pin, sizeof(out[*n].pin), "%s", ln->pin);
		else
			snprintf(out[*n].pin, sizeof(out[*n].pin), "%s/%s", LAB_PIN_ROOT, ln->name);
		snprintf(out[*n].netns, sizeof(out[*n].netns), "%s", ln->netns);
		(*n)++;
	}
	if (!*n) {
		err = pr_err_ret(-EINVAL, "--node %s: the lab in %s has no node %s (its nodes: "
				 "%s)\n", name, lab.dir, name,
				 lab.nnodes ? node_names(&lab, names, sizeof(names)) : "none");
	}
	lab_close(&lab);
	return err;
}

int ctl_lab_nodes(const char *name, struct ctl_lab_node *out, size_t max, size_t *n)
{
	return lab_nodes(name, true, out, max, n);
}

int ctl_node_enter(const char *name, char *pin_dir, size_t len)
{
	struct ctl_lab_node n;
	char path[PATH_MAX];
	size_t cnt;
	int fd, err = lab_nodes(name, false, &n, 1, &cnt);

	if (err)
		return err;
	snprintf(pin_dir, len, "%s", n.pin);
	/* The node's namespace: interface names (config's UNDERLAY-DEV, endpoint
	 * IFNAME) resolve as on the node. Pinned maps are found by path, which a
	 * network namespace does not change. */
	lab_netns_path(n.netns, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		err = -errno;
		pr_err("--node %s: entering its network namespace %s: %s\n", name, path,
		       strerror(-err));
	}
	xcni_close(&fd);
	pr_debug("--node %s: netns %s, pin dir %s\n", name, path, pin_dir);
	return err;
}

/*
 * The --node a command line needs: all where both sides matter (explain, and
 * policy status and suggest, which ask every node; pods named on two nodes),
 * else the node of the pods it names (NS/NAME or an address), else the first.
 */
static const char *hint_node(struct lab *lab, int argc, char **argv)
{
	const char *node = NULL;

	for (int i = 1; i < argc; i++) {
		const char *w = argv[i], *slash = strchr(w, '/');
		const struct lab_pod *p = NULL;
		char ns[64];

		if (!strcmp(w, "explain") ||
		    (!strcmp(w, "policy") && i + 1 < argc &&
		     (!strcmp(argv[i + 1], "status") || !strcmp(argv[i + 1], "suggest"))))
			return "all";
		for (size_t k = 0; k < lab->npods && !p; k++)
			if (!strcmp(lab->pods[k].ip, w) || !strcmp(lab->pods[k].ip6, w))
				p = &lab->pods[k];
		if (!p && slash && slash != w && (size_t)(slash - w) < sizeof(ns)) {
			snprintf(ns, sizeof(ns), "%.*s", (int)(slash - w), w);
			p = lab_pod_find(lab, ns, slash + 1);
		}
		if (p && node && strcmp(node, p->node))
			return "all";
		if (p)
			node = p->node;
	}
	return node ?: lab->nodes[0].name;
}

bool ctl_lab_hint(const char *pin_dir, int argc, char **argv)
{
	char cmdline[512], names[256];
	struct lab lab;
	size_t off = 0;

	if (lab_open_quiet(&lab))
		return false;
	if (!lab.nnodes) {
		lab_close(&lab);
		return false;
	}
	cmdline[0] = '\0';
	for (int i = 1; i < argc && off < sizeof(cmdline); i++)
		off += snprintf(cmdline + off, sizeof(cmdline) - off, " %s", argv[i]);
	if (lab.nnodes == 1)
		pr_err("no maps under %s; a lab is up: xcnictl --node %s%s\n", pin_dir,
		       lab.nodes[0].name, cmdline);
	else
		pr_err("no maps under %s; a lab is up (nodes %s): xcnictl --node %s%s\n", pin_dir,
		       node_names(&lab, names, sizeof(names)), hint_node(&lab, argc, argv), cmdline);
	lab_close(&lab);
	return true;
}

