// SPDX-License-Identifier: Apache-2.0
/* xcnictl hook list: who runs first on the hooks xcni owns (docs/agent.md, "Hook order"). */
#include <net/if.h>

#include "ctl/ctl.h"
#include "lib/system/attach.h"

static const struct pt_col hook_cols[] = {
	{ "DEVICE", "device", PT_STR },
	{ "HOOK", "hook", PT_STR },
	{ "XCNI", "program", PT_STR },
	{ "FIRST", "xcni_first", PT_STR },
	{ "BEFORE-XCNI", "before", PT_STR },
};

struct hook_walk {
	struct ptable *t;
	unsigned int foreign;
};

static void hook_row(const struct xcni_hook *h, void *arg)
{
	struct hook_walk *w = arg;

	pt_str(w->t, h->dev);
	pt_str(w->t, h->egress ? "egress" : "ingress");
	pt_str(w->t, h->prog);
	if (h->first < 0) {
		pt_strf(w->t, "error: %s", strerror(-h->first));
		pt_null(w->t);
		return;
	}
	pt_str(w->t, h->first ? "yes" : "no");
	pt_str(w->t, h->first ? NULL : h->who);
	w->foreign += !h->first;
}

/* The underlay xcnid put the overlay on, from the node config; 0: none. */
static int underlay_ifindex(const struct ctl_ctx *c)
{
	struct xcni_config cfg;
	__u32 k = 0;
	int fd = map_open_quiet(c, &m_config), ifindex = 0;

	if (fd < 0)
		return 0;
	if (!bpf_map_lookup_elem(fd, &k, &cfg))
		ifindex = (int)cfg.underlay_ifindex;
	close(fd);
	return ifindex;
}

static int cmd_hook_list(const struct ctl_ctx *c, char **argv)
{
	struct hook_walk w = { .t = pt_new(hook_cols, ARRAY_SIZE(hook_cols), 0) };
	int err;

	(void)argv;
	err = xcni_hooks_walk(c->pin_dir, underlay_ifindex(c), hook_row, &w);
	if (err) {
		pt_free(w.t);
		return pr_err_ret(err, "%s: %s\n", c->pin_dir, strerror(-err));
	}
	err = show(c, w.t);
	if (!err && w.foreign && !c->json)
		fprintf(stderr, "xcnictl: %u hook%s where another program runs before xcni's "
				"(xcni reports it, never moves back ahead: docs/agent.md, \"Hook order\")\n",
			w.foreign, w.foreign == 1 ? "" : "s");
	return err;
}

const struct cmd hook_cmds[] = {
	{ "hook", "list", cmd_hook_list, 0, 0, "",
	  "List the tc hooks xcni's programs are on, and whether xcni's runs first.", NULL },
	{}
};
