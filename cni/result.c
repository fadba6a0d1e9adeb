// SPDX-License-Identifier: Apache-2.0
/* IPAM results in, CNI results and errors out, in each supported layout. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../user/lib/cidr.h"
#include "cni.h"

int xcni_ipam_parse(json_t *res, struct xcni_ipam *out, struct cni_err *e)
{
	json_t *ips, *ip, *routes;
	size_t i;
	int n4 = 0;

	memset(out, 0, sizeof(*out));
	ips = json_object_get(res, "ips");
	if (!json_is_array(ips) || json_array_size(ips) == 0)
		return cni_fail(e, XCNI_ERR_IPAM, "ipam result: no \"ips\"");
	json_array_foreach(ips, i, ip) {
		const char *addr = json_string_value(json_object_get(ip, "address"));
		const char *gw = json_string_value(json_object_get(ip, "gateway"));
		struct in_addr g;

		if (!addr)
			return cni_fail(e, XCNI_ERR_IPAM, "ipam result: ips[%zu].address missing", i);
		if (strchr(addr, ':'))
			return cni_fail(e, CNI_ERR_UNSUPPORTED_FIELD,
					"ipam result: ips[%zu].address %s is IPv6; xcni supports IPv4 only",
					i, addr);
		if (n4++)
			return cni_fail(e, CNI_ERR_UNSUPPORTED_FIELD,
					"ipam result: more than one IPv4 address; xcni takes one per pod");
		if (xcni_cidr4_parse(addr, &out->ip, &out->plen))
			return cni_fail(e, XCNI_ERR_IPAM, "ipam result: ips[%zu].address \"%s\" is not an IPv4 CIDR",
					i, addr);
		if (!gw)
			return cni_fail(e, XCNI_ERR_IPAM,
					"ipam result: ips[%zu].gateway missing; xcni routes pods through it", i);
		if (inet_pton(AF_INET, gw, &g) != 1)
			return cni_fail(e, XCNI_ERR_IPAM, "ipam result: ips[%zu].gateway \"%s\" is not IPv4",
					i, gw);
		out->gw = g.s_addr;
	}
	if (out->gw == out->ip)
		return cni_fail(e, XCNI_ERR_IPAM, "ipam result: the pod address is the gateway");

	routes = json_object_get(res, "routes");
	out->routes = json_array();
	if (json_is_array(routes)) {
		json_t *r;

		json_array_foreach(routes, i, r) {
			const char *dst = json_string_value(json_object_get(r, "dst"));
			uint32_t a;
			uint8_t p;

			if (!dst || xcni_cidr4_parse(dst, &a, &p))
				continue; /* IPv6 or malformed routes are not ours to install */
			json_array_append_new(out->routes, json_pack("{s:s}", "dst", dst));
		}
	}
	if (json_array_size(out->routes) == 0)
		json_array_append_new(out->routes, json_pack("{s:s}", "dst", "0.0.0.0/0"));
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

json_t *xcni_result_build(const char *ver, const struct xcni_attach *a,
			  const struct xcni_ipam *ipam)
{
	char hmac[18], pmac[18], addr[INET_ADDRSTRLEN + 3], gw[INET_ADDRSTRLEN];
	int v11 = cni_version_cmp(ver, "1.1.0") >= 0;
	int v04 = cni_version_cmp(ver, "1.0.0") < 0;
	json_t *res, *ifs, *ip, *routes, *r;
	size_t i;

	fmt_mac(a->host_mac, hmac);
	fmt_mac(a->pod_mac, pmac);
	inet_ntop(AF_INET, &ipam->ip, addr, INET_ADDRSTRLEN);
	strcat(addr, "/32");
	inet_ntop(AF_INET, &ipam->gw, gw, sizeof(gw));

	ifs = json_pack("[{s:s,s:s},{s:s,s:s,s:s}]", "name", a->host_if, "mac", hmac,
			"name", a->pod_if, "mac", pmac, "sandbox", a->netns);
	if (v11) {
		json_object_set_new(json_array_get(ifs, 0), "mtu", json_integer(a->mtu));
		json_object_set_new(json_array_get(ifs, 1), "mtu", json_integer(a->mtu));
	}
	ip = json_pack("{s:s,s:s,s:i}", "address", addr, "gateway", gw, "interface", 1);
	if (v04)
		json_object_set_new(ip, "version", json_string("4"));
	routes = json_array();
	json_array_foreach(ipam->routes, i, r)
		json_array_append_new(routes, json_pack("{s:O,s:s}", "dst",
							json_object_get(r, "dst"), "gw", gw));
	res = json_pack("{s:s,s:o,s:[o],s:o}", "cniVersion", ver, "interfaces", ifs, "ips", ip,
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
