// SPDX-License-Identifier: Apache-2.0
/*
 * The API backend's list pages as xcnid reads them (k8sapi.c page_walk: one
 * item decoded at a time, not a tree of the whole page): pages of every shape
 * an API server may send give what a tree of the whole page gave, and a page
 * that is not a List is refused. No network: the file is included and its
 * list_page driven with the body in the watcher's buffer, as curl leaves it.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../user/lib/cluster/k8sapi.c"
#include "unit.h"

struct fx {
	struct api a;
	struct watcher *w;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->a.conf.server = "https://test.invalid:6443";
	f->a.b.store = store_new();
	f->a.nkinds = K8S_NR_KINDS;
	f->a.epfd = f->a.curl_tfd = f->a.retry_tfd = -1;
	f->w = &f->a.w[K8S_POD];
	f->w->api = &f->a;
	f->w->kind = K8S_POD;
	f->w->status = 200;
	*state = f;
	return f->a.b.store ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	list_reset(f->w);
	free(f->w->rv);
	free(f->w->buf);
	store_free(f->a.b.store);
	free(f);
	return 0;
}

/* One page through list_page, as done() hands it over. */
static void page(struct fx *f, const char *body)
{
	f->w->state = W_LIST;
	f->w->len = 0;
	assert_int_equal(buf_append(f->w, body, strlen(body)), 0);
	f->w->state = W_IDLE;
	list_page(f->w);
}

#define POD(name, ip)                                                                 \
	"{\"metadata\": {\"name\": \"" name "\", \"namespace\": \"a\", \"labels\": "  \
	"{\"k\": \"v\"}, \"annotations\": {\"n\": \"]}\\\" ,{[\"}, "                 \
	"\"resourceVersion\": \"3\"},\n"                                                \
	"  \"spec\": {\"nodeName\": \"n1\", \"containers\": [{\"name\": \"c\", "      \
	"\"ports\": [{\"containerPort\": 80, \"name\": \"http\"}]}]},\n"              \
	"  \"status\": {\"podIP\": \"" ip "\", \"conditions\": [{\"type\": \"Ready\"}]}}"

static const struct k8s_object *pod_get(struct fx *f, const char *name)
{
	return store_get(f->a.b.store, K8S_POD, "a", name);
}

/*
 * Two pages: metadata after the items on the first (any order is JSON), odd
 * whitespace, strings holding ] } and an escaped quote; the second ends the
 * list. Every item is in the store, with what the page said.
 */
static void pages_any_shape(void **state)
{
	struct fx *f = *state;
	const struct k8s_object *o;

	page(f, " {\"kind\":\"PodList\",\"items\" :\n[ " POD("p1", "10.0.0.1") " ,\r\n\t"
		POD("p2", "10.0.0.2") "] , \"apiVersion\": \"v1\",\n"
		"\"metadata\": {\"resourceVersion\": \"7\", \"continue\": \"tok\"}}\n");
	assert_string_equal(f->w->cont, "tok");
	assert_string_equal(f->w->list_rv, "7");
	assert_int_equal(f->w->nlisted, 2);
	assert_false(f->w->listed);
	page(f, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[" POD("p3", "10.0.0.3") "]}");
	assert_true(f->w->listed);
	assert_null(f->w->cont);
	/* The first page's resourceVersion is the list's. */
	assert_string_equal(f->w->rv, "7");
	o = pod_get(f, "p2");
	assert_non_null(o);
	assert_int_equal(ntohl(o->pod.ip), 0x0a000002);
	assert_int_equal(o->pod.nports, 1);
	assert_string_equal(k8s_label_get(&o->meta.labels, "k"), "v");
	assert_non_null(pod_get(f, "p1"));
	assert_non_null(pod_get(f, "p3"));
}

/* A later list without p1 and p3 (items empty, then null, then absent): they go. */
static void relist_drops_missing(void **state)
{
	struct fx *f = *state;

	page(f, "{\"metadata\":{\"resourceVersion\":\"2\"},\"items\":[" POD("p1", "10.0.0.1") ","
		POD("p3", "10.0.0.3") "]}");
	assert_non_null(pod_get(f, "p1"));
	relist(f->w);
	page(f, "{\"metadata\":{\"resourceVersion\":\"4\",\"continue\":\"a\"},\"items\":[ ]}");
	page(f, "{\"metadata\":{\"resourceVersion\":\"4\",\"continue\":\"b\"},\"items\":null}");
	page(f, "{\"metadata\":{\"resourceVersion\":\"4\"},\"items\":[" POD("p3", "10.0.0.3") "]}");
	assert_true(f->w->listed);
	assert_null(pod_get(f, "p1"));
	assert_non_null(pod_get(f, "p3"));
	relist(f->w);
	page(f, "{\"kind\": \"PodList\", \"metadata\": {\"resourceVersion\": \"5\"}}");
	assert_true(f->w->listed);
	assert_null(pod_get(f, "p3"));
}

/*
 * Not a List: refused whole (no continue token kept, the list starts again),
 * with the items before the fault in the store as earlier pages' are, and
 * nothing after it.
 */
static void bad_pages_refused(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"",
		"[]",
		"{\"items\": {}}",
		"{\"items\": 5}",
		"{\"metadata\": {\"continue\": \"x\"}, \"items\": []} trailing",
		"{\"metadata\": {\"continue\": \"x\"}, \"items\": []}}",
		"{\"metadata\": {\"continue\": \"x\"} \"items\": []}",
		"{\"metadata\": {\"continue\": \"x\"}, \"items\": [" POD("b1", "10.0.0.9") " "
		POD("b2", "10.0.0.9") "]}",
		"{\"metadata\": {\"continue\": \"x\"}, \"items\": [" POD("b3", "10.0.0.9") ",",
		"{\"metadata\": {\"continue\": \"x\"}, items: []}",
		"{\"metadata\": {\"continue\": \"x\"}, \"items\": [1,]}",
		"{\"metadata\": {\"continue\": \"x\"}, \"items\": []",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		relist(f->w);
		page(f, bad[i]);
		if (f->w->cont || f->w->listed)
			fail_msg("page %zu was taken: %s", i, bad[i]);
	}
	/* Before the missing comma: b1 put; b2 after it: not. */
	assert_non_null(pod_get(f, "b1"));
	assert_null(pod_get(f, "b2"));
	assert_non_null(pod_get(f, "b3"));
}

/* ---- kubeconfig: users[].user.token and tokenFile ---- */

/* A file in a private directory with body; its path in path. */
static void write_file(const char *dir, const char *name, const char *body, char *path,
		       size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(body, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

struct kubeconfig_call {
	const char *path;
	struct k8s_api_conf c;
};

static int kubeconfig_cb(void *arg)
{
	struct kubeconfig_call *k = arg;

	return k8s_api_conf_kubeconfig(k->path, &k->c);
}

/* k8s_api_conf_kubeconfig on a kubeconfig whose user has this token, with what it logged. */
static int kubeconfig_token(const char *dir, const char *token_json, char *path, size_t plen,
			    char *log, size_t sz)
{
	char body[1024];
	struct kubeconfig_call k = { .path = path };
	int ret;

	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"c\","
		 "\"contexts\":[{\"name\":\"c\",\"context\":{\"cluster\":\"k\",\"user\":\"u\"}}],"
		 "\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":\"https://10.0.0.1\","
		 "\"insecure-skip-tls-verify\":false}}],"
		 "\"users\":[{\"name\":\"u\",\"user\":{\"token\":%s}}]}\n",
		 token_json);
	write_file(dir, "config", body, path, plen);
	ret = stderr_of(kubeconfig_cb, &k, log, sz);
	if (!ret) {
		assert_non_null(k.c.token);
		assert_string_equal(k.c.token, "abc.def-_~+/=");
		k8s_api_conf_free(&k.c);
	}
	return ret;
}

/*
 * An inline token goes into every request's Authorization header as it is: a
 * CR/LF in it would end that header and add one of the kubeconfig's choosing.
 * Refused at load, naming the file and the field, and never echoed (a
 * credential); token files are held to the same rule each time they are read.
 */
static void kubeconfig_token_control_chars(void **state)
{
	static const char *const bad[] = {
		"\"abc\\r\\nX-Injected: 1\"", "\"abc\\nX-Injected: 1\"", "\"abc\\rX-Injected\"",
		"\"abc\\tX-Injected\"", "\"abc\\u0000X-Injected\"", "\"abc\\u007fX-Injected\"",
		"\"abc\\u001bX-Injected\"",
	};
	char dir[] = "/tmp/xcni-test-kubeconfig.XXXXXX", path[128], want[256], log[2048];
	char *tok = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = kubeconfig_token(dir, bad[i], path, sizeof(path), log, sizeof(log));

		if (ret != -EINVAL)
			fail_msg("token %s: %d, wanted -EINVAL; logged: %s", bad[i], ret, log);
		snprintf(want, sizeof(want), "kubeconfig %s: users[u].user.token has a control "
			 "character", path);
		if (!strstr(log, want) || strstr(log, "X-Injected"))
			fail_msg("token %s: logged \"%s\", wanted \"%s...\" without the token",
				 bad[i], log, want);
	}
	assert_int_equal(kubeconfig_token(dir, "\"abc.def-_~+/=\"", path, sizeof(path), log,
					  sizeof(log)), 0);

	/* The token file: its trailing newline is not part of it; anything else is. */
	write_file(dir, "token", "abc.def-_~+/=\n", path, sizeof(path));
	assert_int_equal(k8s_read_token(path, &tok), 0);
	assert_string_equal(tok, "abc.def-_~+/=");
	free(tok);
	tok = NULL;
	for (const char *const *b = (const char *const[]){ "abc\r\nX-Injected: 1\n", "abc\nX\n",
							     "abc\tX\n", "abc\x1bX", "\n", NULL };
	     *b; b++) {
		write_file(dir, "token", *b, path, sizeof(path));
		if (k8s_read_token(path, &tok) != -EINVAL)
			fail_msg("token file with \"%s\" was read", *b);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/config", dir);
	unlink(path);
	rmdir(dir);
}

/*
 * certificate-authority-data: base64 of the PEM (GnuTLS's decoder), line
 * breaks and blanks in it ignored; what is not base64 refused, naming the field.
 */
static void kubeconfig_ca_data(void **state)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	static const char *const ok[] = {
		"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
		"LS0tLS1CRUdJTiBDRVJU\\nSUZJQ0FURS0tLS0tCk1J SUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=\\r\\n",
	};
	char dir[] = "/tmp/xcni-test-kubeconfig.XXXXXX", path[128], body[1024], log[2048];
	struct kubeconfig_call k = { .path = path };

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 3; i++) {
		snprintf(body, sizeof(body),
			 "{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\",\"context\":"
			 "{\"cluster\":\"k\",\"user\":\"u\"}}],\"clusters\":[{\"name\":\"k\","
			 "\"cluster\":{\"server\":\"https://10.0.0.1\",\"certificate-authority-data\":"
			 "\"%s\"}}],\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"t\"}}]}\n",
			 i < 2 ? ok[i] : "LS0t!!notbase64");
		write_file(dir, "config", body, path, sizeof(path));
		memset(&k.c, 0, sizeof(k.c));
		if (i == 2) {
			assert_int_equal(stderr_of(kubeconfig_cb, &k, log, sizeof(log)), -EINVAL);
			assert_non_null(strstr(log, "certificate-authority-data is not base64"));
			continue;
		}
		assert_int_equal(stderr_of(kubeconfig_cb, &k, log, sizeof(log)), 0);
		assert_int_equal(k.c.ca_len, strlen(pem));
		assert_string_equal(k.c.ca_data, pem);
		k8s_api_conf_free(&k.c);
	}
	unlink(path);
	rmdir(dir);
}

/*
 * ClusterNetworkPolicy is a CRD: a 404 on its list is a cluster without it.
 * What the store had of the kind goes, the kind counts as listed (the store
 * is not held back for it), and it is asked again with back-off.
 */
static void cnp_crd_missing(void **state)
{
	struct fx *f = *state;
	struct watcher *w = &f->a.w[K8S_CLUSTERNETPOL];

	w->api = &f->a;
	w->kind = K8S_CLUSTERNETPOL;
	w->status = 200;
	f->w = w;
	page(f, "{\"kind\": \"ClusterNetworkPolicyList\", \"metadata\": {\"resourceVersion\": \"5\"}, "
		"\"items\": [{\"metadata\": {\"name\": \"c1\"}, \"spec\": {\"tier\": \"Admin\", "
		"\"priority\": 1, \"subject\": {\"namespaces\": {}}}}]}");
	assert_non_null(store_get(f->a.b.store, K8S_CLUSTERNETPOL, NULL, "c1"));
	assert_true(w->listed);
	assert_string_equal(w->rv, "5");
	w->fails = 0;
	crd_missing(w);
	assert_null(store_get(f->a.b.store, K8S_CLUSTERNETPOL, NULL, "c1"));
	assert_true(w->listed);
	assert_null(w->rv); /* listed again next, not watched */
	assert_int_equal(w->fails, 1); /* with back-off */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pages_any_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(relist_drops_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_pages_refused, setup, teardown),
		cmocka_unit_test(kubeconfig_token_control_chars),
		cmocka_unit_test(kubeconfig_ca_data),
		cmocka_unit_test_setup_teardown(cnp_crd_missing, setup, teardown),
	};

	xlog_max = XLOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
