// SPDX-License-Identifier: Apache-2.0
/* The CNI exec protocol, caller side: how xcni delegates to IPAM plugins. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni.h"
#include "lib/system/readall.h"
#include "lib/system/util.h"

extern char **environ;

int cni_find_plugin(const char *path, const char *type, char *out, size_t len)
{
	char *dirs, *save = NULL, *d;
	int err = -ENOENT;

	if (!path || !*path)
		return -ENOENT;
	dirs = strdup(path);
	if (!dirs)
		return -ENOMEM;
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (snprintf(out, len, "%s/%s", d, type) >= (int)len)
			continue;
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			err = access(out, X_OK) == 0 ? 0 : -EACCES;
			if (!err)
				break;
		}
	}
	free(dirs);
	return err;
}

/* The CNI_* strings child_env made (ours are the only CNI_ ones in it), and the array. */
static void child_env_free(char **cenv)
{
	for (char **v = cenv; v && *v; v++)
		if (strncmp(*v, "CNI_", 4) == 0)
			free(*v);
	free(cenv);
}

/* The child's environment: ours with the CNI_* variables of this call. */
static char **child_env(const struct cni_env *env)
{
	size_t n = 0, k = 0;
	char **out;
	const char *keys[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
			       "CNI_IFNAME", "CNI_ARGS", "CNI_PATH" };
	const char *vals[] = { env->command, env->container_id, env->netns,
			       env->ifname, env->args, env->path };

	while (environ[n])
		n++;
	out = calloc(n + 7, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CNI_", 4) != 0)
			out[k++] = environ[i];
	for (size_t i = 0; i < 6; i++) {
		if (!vals[i])
			continue;
		if (asprintf(&out[k], "%s=%s", keys[i], vals[i]) < 0) {
			out[k] = NULL;
			child_env_free(out);
			return NULL;
		}
		k++;
	}
	return out;
}

int cni_exec_start(const struct cni_env *env, const char *type, json_t *conf,
		   struct cni_proc *p, struct cni_err *e)
{
	char bin[PATH_MAX], *in = NULL;
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 };
	char *argv[] = { bin, NULL };
	pid_t parent = getpid();
	char **cenv = NULL;
	size_t inlen, off = 0;
	int err;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->out_fd = -1;
	snprintf(p->type, sizeof(p->type), "%s", type);
	snprintf(p->command, sizeof(p->command), "%s", env->command);
	err = cni_find_plugin(env->path, type, bin, sizeof(bin));
	if (err)
		return cni_fail(e, CNI_ERR_NOT_AVAILABLE, "ipam plugin \"%s\" not found in CNI_PATH (%s): %s",
				type, env->path ? env->path : "unset", strerror(-err));
	in = json_dumps(conf, JSON_COMPACT);
	cenv = child_env(env);
	if (!in || !cenv || pipe2(inp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC)) {
		err = cni_fail(e, CNI_ERR_IO, "ipam %s: cannot set up exec: %s", type, strerror(errno));
		goto out;
	}
	/*
	 * The IPAM plugin dies with us: a runtime that kills an ADD (its timeout)
	 * must not leave it to allocate after the DEL and GC that follow.
	 */
	p->pid = fork();
	if (p->pid == 0) {
		if (!prctl(PR_SET_PDEATHSIG, SIGKILL) && getppid() == parent &&
		    dup2(inp[0], 0) == 0 && dup2(outp[1], 1) == 1)
			execve(bin, argv, cenv);
		_exit(127);
	}
	err = p->pid < 0 ? errno : 0;
	close(inp[0]);
	close(outp[1]);
	inp[0] = outp[1] = -1;
	if (err) {
		p->pid = -1;
		err = cni_fail(e, CNI_ERR_IO, "ipam %s: exec %s: %s", type, bin, strerror(err));
		goto out;
	}
	/*
	 * CNI plugins read all of stdin before they write, so a blocking write
	 * cannot deadlock against their output; a plugin that exits early only
	 * costs us EPIPE, which the exit status reports better.
	 */
	signal(SIGPIPE, SIG_IGN);
	inlen = strlen(in);
	while (off < inlen) {
		ssize_t w = write(inp[1], in + off, inlen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	p->out_fd = outp[0];
	outp[0] = -1;
	err = 0;
out:
	xcni_close(&inp[1]);
	xcni_close(&outp[0]);
	xcni_close(&inp[0]);
	xcni_close(&outp[1]);
	free(in);
	child_env_free(cenv);
	return err;
}

int cni_exec_finish(struct cni_proc *p, json_t **out, struct cni_err *e)
{
	char *obuf = NULL;
	size_t olen = 0;
	json_error_t jerr;
	json_t *res = NULL;
	int status = 0, err;

	*out = NULL;
	if (p->pid < 0)
		return -ECHILD;
	/* Unread (out of memory, a read error): no output. */
	if (xcni_read_all(p->out_fd, 0, &obuf, &olen))
		olen = 0;
	xcni_close(&p->out_fd);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;

	if (olen)
		res = json_loadb(obuf, olen, 0, &jerr);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		json_t *msg = json_object_get(res, "msg");
		json_t *code = json_object_get(res, "code");

		err = cni_fail(e, XCNI_ERR_IPAM, "ipam %s %s failed: %s", p->type, p->command,
			       json_is_string(msg) ? json_string_value(msg) :
			       (olen ? obuf : "no output"));
		/* Keep the delegate's own code where it is a spec code we can pass on. */
		if (json_is_integer(code) && json_integer_value(code) > 0 &&
		    json_integer_value(code) < 100)
			e->code = (int)json_integer_value(code);
		goto out;
	}
	if (olen && !res) {
		err = cni_fail(e, XCNI_ERR_IPAM, "ipam %s %s: output is not JSON: %s", p->type,
			       p->command, jerr.text);
		goto out;
	}
	*out = res;
	res = NULL;
	err = 0;
out:
	json_decref(res);
	free(obuf);
	return err;
}

int cni_exec(const struct cni_env *env, const char *type, json_t *conf, json_t **out,
	     struct cni_err *e)
{
	struct cni_proc p;
	int err;

	*out = NULL;
	err = cni_exec_start(env, type, conf, &p, e);
	if (err)
		return err;
	return cni_exec_finish(&p, out, e);
}
