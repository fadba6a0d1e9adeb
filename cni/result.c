// SPDX-License-Identifier: Apache-2.0
/* IPAM results in, CNI results and errors out, in each supported layout. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "cni.h"

/*
 * ips[i] of an IPAM result, the pod's one address of its family. IPv4's
 * gateway is what routes need; IPv6's is checked but not used: pods route
 * IPv6 via XCNI_GW6, the host veth's link-local, whatever the range's is.
 */
static int ipam_ip(json_t *ip, size_t i, const char *addr, struct xcni_ipam *out,
		   struct cni_err *e)
{
	const char *gw = json_string_value(json_object_get(ip, "gateway"));
	int v6 = strchr(addr, ':') != NULL, fam = v6 ? 6 : 4;
	int *has = v6 ? &out->has6 : &out->has4, *idx = v6 ? &out->idx6 : &out->idx4;
	uint8_t g[16];
	int bad;

	if (*has)
		return cni_fail(e, CNI_ERR_UNSUPPORTED_FIELD,
				"ipam result: ips[%zu].address %s is a second IPv%d address (ips[%d] is one); xcni takes one per family",
				i, addr, fam, *idx);
	if (v6)
		bad = xcni_cidr6_parse(addr, &out->ip6, &out->plen6) ||
		      IN6_IS_ADDR_UNSPECIFIED(&out->ip6) || IN6_IS_ADDR_MULTICAST(&out->ip6) ||
		      IN6_IS_ADDR_LINKLOCAL(&out->ip6) || IN6_IS_ADDR_LOOPBACK(&out->ip6) ||
		      IN6_IS_ADDR_V4MAPPED(&out->ip6);
	else
		bad = xcni_cidr4_parse(addr, &out->ip, &out->plen) || !out->ip;
	if (bad)
		return cni_fail(e, XCNI_ERR_IPAM, "ipam result: ips[%zu].address \"%s\" is not %s",
				i, addr, v6 ? "a global or unique-local IPv6 CIDR" : "an IPv4 CIDR");
	if (!gw && !v6)
		return cni_fail(e, XCNI_ERR_IPAM,
				"ipam result: ips[%zu].gateway missing; xcni routes pods through it", i);
	if (gw && inet_pton(v6 ? AF_INET6 : AF_INET, gw, g) != 1)
		return cni_fail(e, XCNI_ERR_IPAM, "ipam result: ips[%zu].gateway \"%s\" is not IPv%d",
				i, gw, fam);
	if (!v6)
		memcpy(&out->gw, g, 4);
	if (!v6 && out->gw == out->ip)
		return cni_fail(e, XCNI_ERR_IPAM,
				"ipam result: ips[%zu]: the pod address is the gateway", i);
	*has = 1;
	*idx = (int)i;
	return 0;
}

int xcni_ipam_parse(json_t *res, struct xcni_ipam *out, struct cni_err *e)
{
	json_t *ips, *ip, *routes;
	int err, any[2] = { 0, 0 }; /* a route of each family (IPv4, IPv6) */
	size_t i;

	memset(out, 0, sizeof(*out));
	ips = json_object_get(res, "ips");
	if (!json_is_array(ips) || json_array_size(ips) == 0)
		return cni_fail(e, XCNI_ERR_IPAM, "ipam result: no \"ips\"");
	json_array_foreach(ips, i, ip) {
		const char *addr = json_string_value(json_object_get(ip, "address"));

		if (!addr)
			return cni_fail(e, XCNI_ERR_IPAM, "ipam result: ips[%zu].address missing", i);
		if ((err = ipam_ip(ip, i, addr, out, e)))
			return err;
	}

	routes = json_object_get(res, "routes");
	out->routes = json_array();
	if (json_is_array(routes)) {
		json_t *r;

		json_array_foreach(routes, i, r) {
			const char *dst = json_string_value(json_object_get(r, "dst"));
			struct xcni_prefix p;
			int v6 = dst && strchr(dst, ':');

			if (!dst || xcni_prefix_parse(dst, 0, &p)) {
				xcni_ipam_free(out);
				return cni_fail(e, XCNI_ERR_IPAM,
						"ipam result: routes[%zu].dst \"%s\" is not a CIDR", i,
						dst ? dst : "(missing)");
			}
			/* A route of a family the pod has no address of has no gateway:
			 * one config serves single- and dual-stack nodes alike. */
			if (v6 ? !out->has6 : !out->has4)
				continue;
			any[v6] = 1;
			json_array_append_new(out->routes, json_pack("{s:s}", "dst", dst));
		}
	}
	/* A family without a route of its own gets a default route. */
	if (out->has4 && !any[0])
		json_array_append_new(out->routes, json_pack("{s:s}", "dst", "0.0.0.0/0"));
	if (out->has6 && !any[1])
		json_array_append_new(out->routes, json_pack("{s:s}", "dst", "::/0"));
	out->dns = json_incref(json_object_get(res, "dns"));
	return 0;
}

void xcni_ipam_free(struct xcni_ipam *ipam)
{
	json_decref(ipam->routes);
	json_decref(ipam->dns);
	ipam->routes = ipam->dns = NULL;
}

static void fmt_mac(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

json_t *xcni_result_build(const char *ver, const struct cni_attach *a,
			  const struct xcni_ipam *ipam)
{
	char hmac[18], pmac[18], addr[INET6_ADDRSTRLEN + 4], gw[INET_ADDRSTRLEN];
	int v11 = cni_version_cmp(ver, "1.1.0") >= 0;
	int v04 = cni_version_cmp(ver, "1.0.0") < 0;
	json_t *res, *ifs, *ips, *ip, *routes, *r;
	size_t i;

	fmt_mac(a->host_mac, hmac);
	fmt_mac(a->pod_mac, pmac);
	inet_ntop(AF_INET, &ipam->gw, gw, sizeof(gw));

	ifs = json_pack("[{s:s,s:s},{s:s,s:s,s:s}]", "name", a->host_if, "mac", hmac,
			"name", a->pod_if, "mac", pmac, "sandbox", a->netns);
	if (v11) {
		json_object_set_new(json_array_get(ifs, 0), "mtu", json_integer(a->mtu));
		json_object_set_new(json_array_get(ifs, 1), "mtu", json_integer(a->mtu));
	}
	/* Both addresses as the pod holds them: host routes, no on-link prefix. */
	ips = json_array();
	for (int v6 = 0; v6 < 2; v6++) {
		if (!(v6 ? ipam->has6 : ipam->has4))
			continue;
		inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? (const void *)&ipam->ip6 : &ipam->ip, addr,
			  sizeof(addr));
		strcat(addr, v6 ? "/128" : "/32");
		ip = json_pack("{s:s,s:s,s:i}", "address", addr, "gateway", v6 ? XCNI_GW6 : gw,
			       "interface", 1);
		if (v04)
			json_object_set_new(ip, "version", json_string(v6 ? "6" : "4"));
		json_array_append_new(ips, ip);
	}
	routes = json_array();
	json_array_foreach(ipam->routes, i, r) {
		json_t *dst = json_object_get(r, "dst");

		json_array_append_new(routes, json_pack("{s:O,s:s}", "dst", dst, "gw",
							strchr(json_string_value(dst), ':') ?
								XCNI_GW6 : gw));
	}
	res = json_pack("{s:s,s:o,s:o,s:o}", "cniVersion", ver, "interfaces", ifs, "ips", ips,
			"routes", routes);
	/* _new: the empty object made when IPAM gave none is the result's, not leaked. */
	json_object_set_new(res, "dns", json_is_object(ipam->dns) ? json_incref(ipam->dns) :
								     json_object());
	return res;
}

json_t *cni_error_json(const char *ver, const struct cni_err *e)
{
	json_t *j = json_pack("{s:s,s:i,s:s}", "cniVersion", ver, "code", e->code, "msg", e->msg);

	if (e->details[0])
		json_object_set_new(j, "details", json_string(e->details));
	return j;
}

json_t *cni_version_json(const char *ver)
{
	json_t *sv = json_array();

	for (size_t i = 0; i < xcni_nversions; i++)
		json_array_append_new(sv, json_string(xcni_versions[i]));
	return json_pack("{s:s,s:o}", "cniVersion", ver, "supportedVersions", sv);
}
