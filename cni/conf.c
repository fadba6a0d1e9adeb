// SPDX-License-Identifier: Apache-2.0
/* Network configuration, versions and naming: pure logic, unit tested. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"
#include "lib/hash.h"

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

	snprintf(c->state_dir, sizeof(c->state_dir), "%s", XCNI_DEFAULT_STATE_DIR);
	if (get_str(c->raw, "stateDir", c->state_dir, sizeof(c->state_dir), 0, "", e))
		return -EINVAL;
	if (c->state_dir[0] != '/')
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"stateDir\" must be an absolute path");

	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", XCNI_DEFAULT_PIN_DIR);
	if (get_str(c->raw, "pinDir", c->pin_dir, sizeof(c->pin_dir), 0, "", e))
		return -EINVAL;
	if (c->pin_dir[0] != '/')
		return cni_fail(e, CNI_ERR_INVALID_CONFIG,
				"network config: \"pinDir\" must be an absolute path");
	snprintf(c->attach, sizeof(c->attach), "auto");
	if (get_str(c->raw, "attach", c->attach, sizeof(c->attach), 0, "", e))
		return -EINVAL;
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

	return id ? id : 1; /* 0 means "the host" in conntrack entries */
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
	const char *f = getenv("XCNI_TEST_FAIL_AT");

	xcni_killpoint(step);

	return f && strcmp(f, step) == 0 ? -EIO : 0;
}
