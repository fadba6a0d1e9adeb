// SPDX-License-Identifier: Apache-2.0
/*
 * The hooks xcni owns, looked at one by one: who runs first on each. See
 * hooks.h for what is done about it (reported, never fought over).
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/system/attach.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "agent/hooks.h"
#include "agent/metrics_text.h"
#include "agent/overlay.h"
#include "lib/system/util.h"

/* One hook, as the last look left it. */
struct hook {
	char dev[IF_NAMESIZE];
	bool egress;
	bool foreign; /* something else runs before xcni's program */
	bool seen; /* looked at in the current pass */
	char who[160]; /* what runs first, when foreign */
};

struct hooks {
	char *pin_dir;
	const struct overlay *ov;
	struct hook *v;
	size_t n, cap;
	unsigned long long seen_total; /* hooks found with something before xcni, changes counted */
	unsigned int checked; /* hooks of xcni's found in the last pass */
};

static struct hook *hook_get(struct hooks *hk, const char *dev, bool egress)
{
	struct hook *h;

	for (size_t i = 0; i < hk->n; i++)
		if (hk->v[i].egress == egress && !strcmp(hk->v[i].dev, dev))
			return &hk->v[i];
	if (XCNI_GROW(hk->v, hk->n, hk->cap))
		return NULL;
	h = &hk->v[hk->n++];
	memset(h, 0, sizeof(*h));
	snprintf(h->dev, sizeof(h->dev), "%s", dev);
	h->egress = egress;
	return h;
}

/* One of xcni's hooks: its state now, logged when it changed. */
static void look(const struct xcni_hook *x, void *arg)
{
	struct hooks *hk = arg;
	const char *dir = x->egress ? "egress" : "ingress";
	struct hook *h;

	h = hook_get(hk, x->dev, x->egress);
	if (!h)
		return;
	h->seen = true;
	if (x->first < 0) {
		/* Not known this time: what was known stays (no second warning later). */
		pr_debug("hooks: %s %s: %s\n", x->dev, dir, strerror(-x->first));
		return;
	}
	hk->checked++;
	if (!x->first && (!h->foreign || strcmp(h->who, x->who))) {
		pr_warn("hooks: %s %s: %s runs before xcni's %s: it sees, and may change or drop, "
			"packets before xcni's policy does; xcni does not move itself back ahead "
			"(docs/agent.md, \"Hook order\")\n",
			x->dev, dir, x->who, x->prog);
		if (!h->foreign)
			hk->seen_total++;
		h->foreign = true;
		snprintf(h->who, sizeof(h->who), "%s", x->who);
	} else if (x->first && h->foreign) {
		/* At the warning's level: whoever saw it going wrong sees it end. */
		pr_warn("hooks: %s %s: xcni's %s runs first again\n", x->dev, dir, x->prog);
		h->foreign = false;
		h->who[0] = '\0';
	}
}

void hooks_check(struct hooks *hk)
{
	size_t j = 0;
	int err;

	if (!hk)
		return;
	for (size_t i = 0; i < hk->n; i++)
		hk->v[i].seen = false;
	hk->checked = 0;
	err = xcni_hooks_walk(hk->pin_dir, hk->ov && hk->ov->underlay ? hk->ov->underlay_ifindex : 0,
			      look, hk);
	if (err) {
		pr_warn("hooks: cannot look at the pods' hooks: %s\n", strerror(-err));
		return; /* what was known stays */
	}
	/* A hook not found this time (the pod went) is forgotten, its gauge with it. */
	for (size_t i = 0; i < hk->n; i++)
		if (hk->v[i].seen)
			hk->v[j++] = hk->v[i];
	hk->n = j;
}

int hooks_open(const char *pin_dir, const struct overlay *ov, struct hooks **out)
{
	struct hooks *hk = calloc(1, sizeof(*hk));

	if (!hk || !(hk->pin_dir = strdup(pin_dir))) {
		free(hk);
		return -ENOMEM;
	}
	hk->ov = ov;
	*out = hk;
	return 0;
}

void hooks_render(const struct hooks *hk, FILE *f)
{
	if (!hk)
		return;
	metrics_family1(f, "xcni_hooks_checked", "gauge",
			"Hooks of xcni's (pods' host veths, underlay, xcni0) found at the last "
			"check.", hk->checked);
	metrics_family(f, "xcni_hook_foreign_first", "gauge",
		       "1 for a hook where another program runs before xcni's (xcni reports it, "
		       "does not move back ahead).");
	for (size_t i = 0; i < hk->n; i++)
		if (hk->v[i].foreign)
			metrics_series(f, "xcni_hook_foreign_first", 1, "device", hk->v[i].dev,
				       "hook", hk->v[i].egress ? "egress" : "ingress", NULL);
	metrics_family1(f, "xcni_hook_foreign_first_seen_total", "counter",
			"Times a hook of xcni's was found with another program running before "
			"xcni's.", hk->seen_total);
}

void hooks_free(struct hooks *hk)
{
	if (!hk)
		return;
	free(hk->v);
	free(hk->pin_dir);
	free(hk);
}

int hooks_tick(struct hooks *hk, unsigned int period_s, uint64_t *at)
{
	uint64_t now = xcni_mono_ms();

	if (!hk || !period_s)
		return -1;
	if (!*at || now >= *at) {
		if (*at)
			hooks_check(hk);
		*at = now + (uint64_t)period_s * 1000;
	}
	return (int)(*at - now);
}
