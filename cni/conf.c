// SPDX-License-Identifier: Apache-2.0
/* Network configuration, versions and naming: pure logic, unit tested. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "cni.h"
#include "lib/system/hash.h"

const char *const xcni_versions[] = { "0.4.0", "1.0.0", "1.1.0" };
const size_t xcni_nversions = sizeof(xcni_versions) / sizeof(xcni_versions[0]);

int cni_fail(struct cni_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cni_version_index(const char *v)
{
	for (size_t i = 0; i < xcni_nversions; i++)
		if (v && strcmp(v, xcni_versions[i]) == 0)
			return (int)i;
	return -1;
}

int cni_version_cmp(const char *a, const char *b)
{
	unsigned int va[3] = { 0 }, vb[3] = { 0 };

	sscanf(a, "%u.%u.%u", &va[0], &va[1], &va[2]);
	sscanf(b, "%u.%u.%u", &vb[0], &vb[1], &vb[2]);
	for (int i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}

static int get_str(json_t *obj, const char *key, char *out, size_t len, int required,
		   const char *where, struct cni_err *e)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG,
					"network config: %s\"%s\" is required", where, key);
		return 0;
	}
	if (!json_is_string(v))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: %s\"%s\" must be a string", where, key);
	if (json_string_length(v) >= len)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: %s\"%s\" is longer than %zu characters",
				where, key, len - 1);
	snprintf(out, len, "%s", json_string_value(v));
	return 0;
}

/* An absolute path at key, else dflt. */
static int get_dir(json_t *obj, const char *key, char *out, size_t len, const char *dflt,
		   struct cni_err *e)
{
	snprintf(out, len, "%s", dflt);
	if (get_str(obj, key, out, len, 0, "", e))
		return -EINVAL;
	if (out[0] != '/')
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"%s\" must be an absolute path", key);
	return 0;
}

/* XCNI_FAM_4 or XCNI_FAM_6 for an address or CIDR string, 0 for neither. */
static unsigned int family_of(const char *s, int cidr)
{
	struct xcni_prefix p;
	struct in6_addr a6;
	struct in_addr a4;

	if (!s)
		return 0;
	if (cidr)
		return xcni_prefix_parse(s, 0, &p) ? 0 : p.family == 6 ? XCNI_FAM_6 : XCNI_FAM_4;
	return inet_pton(AF_INET, s, &a4) == 1 ? XCNI_FAM_4 :
	       inet_pton(AF_INET6, s, &a6) == 1 ? XCNI_FAM_6 : 0;
}

static const char *fam_name(unsigned int f)
{
	return f == XCNI_FAM_4 ? "IPv4" : "IPv6";
}

/* One host-local range (where: "ipam.ranges[i][j]"); *fam gets its family. */
static int range_check(json_t *r, const char *where, unsigned int *fam, struct cni_err *e)
{
	static const char *const addrs[] = { "rangeStart", "rangeEnd", "gateway" };
	const char *subnet = json_string_value(json_object_get(r, "subnet"));

	if (!json_is_object(r) || !subnet)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: %s needs a \"subnet\" string", where);
	*fam = family_of(subnet, 1);
	if (!*fam)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: %s.subnet \"%s\" is not a CIDR", where, subnet);
	for (size_t k = 0; k < 3; k++) {
		json_t *v = json_object_get(r, addrs[k]);

		if (v && family_of(json_string_value(v), 0) != *fam)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG,
					"network config: %s.%s %s is not an %s address like its subnet %s",
					where, addrs[k], json_is_string(v) ? json_string_value(v) : "(not a string)",
					fam_name(*fam), subnet);
	}
	return 0;
}

/*
 * host-local's range sets (and its older single "subnet"): each set one
 * family, at most one set per family, since a pod holds one address of each.
 * Judged here, before anything is leased or created; what IPAM returns is
 * judged again (xcni_ipam_parse), for every IPAM plugin.
 */
static int ipam_ranges_check(json_t *ipam, struct xcni_conf *c, struct cni_err *e)
{
	json_t *ranges = json_object_get(ipam, "ranges"), *set, *r;
	json_t *subnet = json_object_get(ipam, "subnet");
	const char *owner[3] = { NULL, NULL, NULL }; /* which set gave each family */
	char where[3][48], rw[64];
	unsigned int fam, setfam;
	size_t i, j;

	if (subnet) {
		json_t *one = json_pack("{s:O}", "subnet", subnet);
		int err = range_check(one, "ipam", &fam, e);

		json_decref(one);
		if (err)
			return err;
		owner[fam] = "ipam.subnet";
		c->ipam_families |= fam;
	}
	if (!ranges)
		return 0;
	if (!json_is_array(ranges) || json_array_size(ranges) == 0)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: ipam.ranges must be a non-empty array of range sets");
	json_array_foreach(ranges, i, set) {
		if (!json_is_array(set) || json_array_size(set) == 0)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG,
					"network config: ipam.ranges[%zu] must be a non-empty array of ranges", i);
		setfam = 0;
		json_array_foreach(set, j, r) {
			snprintf(rw, sizeof(rw), "ipam.ranges[%zu][%zu]", i, j);
			if (range_check(r, rw, &fam, e))
				return -EINVAL;
			if (setfam && fam != setfam)
				return cni_fail(e, CNI_ERR_INVALID_CONFIG,
						"network config: ipam.ranges[%zu][%zu].subnet %s is %s but ipam.ranges[%zu][0] is %s: a range set is one family",
						i, j, json_string_value(json_object_get(r, "subnet")),
						fam_name(fam), i, fam_name(setfam));
			setfam = fam;
		}
		if (owner[setfam])
			return cni_fail(e, CNI_ERR_INVALID_CONFIG,
					"network config: ipam.ranges[%zu] is a second %s range set (%s is one); xcni gives a pod one address per family",
					i, fam_name(setfam), owner[setfam]);
		snprintf(where[setfam], sizeof(where[setfam]), "ipam.ranges[%zu]", i);
		owner[setfam] = where[setfam];
		c->ipam_families |= setfam;
	}
	return 0;
}

int xcni_conf_parse(const char *buf, size_t len, struct xcni_conf *c, struct cni_err *e)
{
	json_error_t jerr;
	json_t *ipam, *mtu;

	memset(c, 0, sizeof(*c));
	c->raw = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->raw)
		return cni_fail(e, CNI_ERR_DECODE, "network config: invalid JSON at line %d column %d: %s",
				jerr.line, jerr.column, jerr.text);
	if (!json_is_object(c->raw))
		return cni_fail(e, CNI_ERR_DECODE, "network config: not a JSON object");

	if (get_str(c->raw, "cniVersion", c->cni_version, sizeof(c->cni_version), 1, "", e) ||
	    get_str(c->raw, "name", c->name, sizeof(c->name), 1, "", e) ||
	    get_str(c->raw, "type", c->type, sizeof(c->type), 1, "", e))
		return -EINVAL;
	if (cni_version_index(c->cni_version) < 0)
		return cni_fail(e, CNI_ERR_INCOMPATIBLE_VERSION,
				"network config: cniVersion \"%s\" is not supported (xcni supports 0.4.0, 1.0.0, 1.1.0)",
				c->cni_version);
	if (!c->name[0] || strchr(c->name, '/') || strcmp(c->name, ".") == 0 ||
	    strcmp(c->name, "..") == 0)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"name\" \"%s\" is not a valid network name", c->name);

	c->mtu = XCNI_DEFAULT_MTU;
	mtu = json_object_get(c->raw, "mtu");
	if (mtu) {
		if (!json_is_integer(mtu) || json_integer_value(mtu) < 576 ||
		    json_integer_value(mtu) > 65535)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG,
					"network config: \"mtu\" must be an integer from 576 to 65535");
		c->mtu = (unsigned int)json_integer_value(mtu);
	}

	if (get_dir(c->raw, "stateDir", c->state_dir, sizeof(c->state_dir), XCNI_DEFAULT_STATE_DIR,
		    e) ||
	    get_dir(c->raw, "pinDir", c->pin_dir, sizeof(c->pin_dir), XCNI_DEFAULT_PIN_DIR, e))
		return -EINVAL;
	snprintf(c->attach, sizeof(c->attach), "auto");
	if (get_str(c->raw, "attach", c->attach, sizeof(c->attach), 0, "", e))
		return -EINVAL;
	/* XCNI_ATTACH in the runtime's environment wins, as it does for xcnid:
	 * one switch forces the older path for the agent and the plugin alike. */
	if (getenv("XCNI_ATTACH") && *getenv("XCNI_ATTACH"))
		snprintf(c->attach, sizeof(c->attach), "%.7s", getenv("XCNI_ATTACH"));
	if (strcmp(c->attach, "auto") && strcmp(c->attach, "tcx") && strcmp(c->attach, "tc"))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"attach\" must be \"auto\", \"tcx\" or \"tc\", not \"%s\"",
				c->attach);

	c->big_tcp = XCNI_BIG_TCP_AUTO;
	{
		json_t *bt = json_object_get(c->raw, "bigTCP");

		if (json_is_boolean(bt))
			c->big_tcp = json_is_true(bt) ? XCNI_BIG_TCP_ON : XCNI_BIG_TCP_OFF;
		else if (bt && !(json_is_string(bt) && !strcmp(json_string_value(bt), "auto")))
			return cni_fail(e, CNI_ERR_INVALID_CONFIG,
					"network config: \"bigTCP\" must be true, false or \"auto\"");
	}

	ipam = json_object_get(c->raw, "ipam");
	if (!ipam || !json_is_object(ipam))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"ipam\" object is required (e.g. {\"type\": \"host-local\", ...})");
	if (get_str(ipam, "type", c->ipam_type, sizeof(c->ipam_type), 1, "ipam.", e))
		return -EINVAL;
	if (!c->ipam_type[0] || strchr(c->ipam_type, '/'))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: ipam.\"type\" \"%s\" is not a plugin name", c->ipam_type);
	/* The range syntax is host-local's own; other IPAM plugins judge theirs. */
	if (strcmp(c->ipam_type, "host-local") == 0 && ipam_ranges_check(ipam, c, e))
		return -EINVAL;

	c->prev_result = json_object_get(c->raw, "prevResult");
	if (c->prev_result && !json_is_object(c->prev_result))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"prevResult\" must be an object");
	c->valid_attachments = json_object_get(c->raw, "cni.dev/valid-attachments");
	if (c->valid_attachments && !json_is_array(c->valid_attachments))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"cni.dev/valid-attachments\" must be an array");
	return 0;
}

void xcni_conf_free(struct xcni_conf *c)
{
	json_decref(c->raw);
	c->raw = NULL;
}

__u32 xcni_ep_id(const char *container_id, const char *ifname)
{
	__u32 id = (__u32)xcni_fnv1a64(container_id, ifname);

	/* 0 means "the host" in conntrack entries; XCNI_FRAG_OUTSIDE_MIN and up
	 * key the fragment shares of sources outside the cluster */
	return id && id < XCNI_FRAG_OUTSIDE_MIN ? id : 1;
}

void xcni_host_ifname(const char *container_id, const char *ifname, char out[IF_NAMESIZE])
{
	snprintf(out, IF_NAMESIZE, "xc%012llx",
		 (unsigned long long)(xcni_fnv1a64(container_id, ifname) >> 16));
}

int xcni_link_alias(const char *net, const char *container_id, const char *ifname,
		    char *out, size_t len)
{
	int n = snprintf(out, len, "xcni %s %s %s", net, container_id, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xcni_link_alias_parse(const char *alias, const char *net, char *cid, size_t cidlen,
			  char *ifname, size_t iflen)
{
	size_t nl = strlen(net);
	const char *p, *sp;

	if (strncmp(alias, "xcni ", 5) != 0 || strncmp(alias + 5, net, nl) != 0 ||
	    alias[5 + nl] != ' ')
		return -EINVAL;
	p = alias + 5 + nl + 1;
	sp = strchr(p, ' ');
	if (!sp || sp == p || (size_t)(sp - p) >= cidlen || !sp[1] || strlen(sp + 1) >= iflen ||
	    strchr(sp + 1, ' '))
		return -EINVAL;
	snprintf(cid, cidlen, "%.*s", (int)(sp - p), p);
	snprintf(ifname, iflen, "%s", sp + 1);
	return 0;
}

int xcni_valid_ifname(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return 0;
	return 1;
}

int xcni_valid_container_id(const char *s)
{
	if (!s || !isalnum((unsigned char)s[0]))
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	return strlen(s) <= 200;
}

int xcni_failpoint(const char *step)
{
	xcni_killpoint(step);
	return xcni_inject(step);
}
