// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's dealings with the system: network namespaces made the way
 * `ip netns add` makes them, processes it starts and stops by PID, the CNI
 * exec protocol towards the real xcni binary, and files written so that a
 * watcher never sees half of one.
 *
 * The bottom layer: it knows nothing of the lab's state (lab/state.h), only
 * names, paths and processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/sys.h"
#include "lib/system/readall.h"
#include "lib/system/nl.h"
#include "lib/system/util.h"

#define NETNS_RUN_DIR "/run/netns"
#define STOP_GRACE_MS 3000

extern char **environ;

void lab_netns_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, NETNS_RUN_DIR "/%s", name);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * iproute2 makes /run/netns a shared mount point before mounting anything in
 * it, so a namespace mounted later shows up in every mount namespace that can
 * see the directory (a runtime's, a test's). Do the same, so `ip netns` and
 * the lab agree about what exists.
 */
static int netns_dir_ready(void)
{
	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST)
		return -errno;
	if (!mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL))
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* Not a mount point yet: make it one, then shared. */
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) ||
	    mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL))
		return -errno;
	return 0;
}

/* In the child: a new netns, pinned by a bind mount of itself, lo up. Exit code = errno. */
static void __attribute__((noreturn)) netns_child(const char *path)
{
	struct nl_link lo;
	struct nl nl;
	int err;

	if (unshare(CLONE_NEWNET) || mount("/proc/self/ns/net", path, "none", MS_BIND, NULL))
		_exit(errno);
	err = nl_open(&nl);
	if (err)
		_exit(-err);
	err = nl_link_get(&nl, "lo", &lo);
	if (!err)
		err = nl_link_up(&nl, lo.ifindex, NULL);
	nl_close(&nl);
	_exit(-err);
}

int lab_netns_create(const char *name)
{
	char path[PATH_MAX];
	int fd, status, err;
	pid_t pid;

	lab_netns_path(name, path, sizeof(path));
	err = netns_dir_ready();
	if (err)
		return said(err, "lab: %s: %s\n", NETNS_RUN_DIR, strerror(-err));
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		if (err == -EEXIST)
			fprintf(stderr, "lab: network namespace %s exists already (another lab, "
				"or one not taken down: xcnictl lab down, with its XCNI_LAB_DIR)\n",
				name);
		else
			fprintf(stderr, "lab: %s: %s\n", path, strerror(-err));
		return err;
	}
	close(fd);
	/* A child does the unshare, so this process never leaves its own netns. */
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto err_unlink;
	}
	if (pid == 0)
		netns_child(path);
	if (waitpid(pid, &status, 0) < 0) {
		err = -errno;
		goto err_unlink;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		err = WIFEXITED(status) ? -WEXITSTATUS(status) : -EINTR;
		fprintf(stderr, "lab: creating network namespace %s: %s\n", name, strerror(-err));
		goto err_unlink;
	}
	return 0;

err_unlink:
	lab_netns_delete(name);
	return err;
}

int lab_netns_delete(const char *name)
{
	char path[PATH_MAX];

	lab_netns_path(name, path, sizeof(path));
	/* The namespace dies with its last user; its links with it. */
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		fprintf(stderr, "lab: umount %s: %s\n", path, strerror(errno));
	if (unlink(path) && errno != ENOENT)
		return said(-errno, "lab: rm %s: %s\n", path, strerror(errno));
	return 0;
}

int lab_find_bin(const char *name, const char *env, char *out, size_t len)
{
	const char *e = getenv(env);
	char self[PATH_MAX];
	ssize_t n;

	if (e && *e) {
		snprintf(out, len, "%s", e);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return -errno;
		self[n] = '\0';
		snprintf(out, len, "%s/%s", dirname(self), name);
	}
	if (access(out, X_OK))
		return said(-ENOENT,
			    "lab: %s: %s (set $%s to the %s binary)\n", out, strerror(errno),
			    env, name);
	return 0;
}

/* /proc/PID/stat's start time (field 22), 0 if there is no such process; *state its state letter. */
static unsigned long long proc_stat(pid_t pid, char *state)
{
	unsigned long long start = 0;
	char buf[1024], path[64], *p;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: count fields from the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	if (state)
		*state = *p;
	for (i = 3; i < 22 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

bool lab_proc_alive(const struct lab_proc *p)
{
	char state = 0;

	if (p->pid <= 0 || !p->start)
		return false;
	/* A zombie is gone as far as the lab cares; whoever its parent is reaps it. */
	return proc_stat(p->pid, &state) == p->start && state != 'Z';
}

void lab_proc_stop(struct lab_proc *p)
{
	int waited = 0;

	if (!lab_proc_alive(p))
		goto out;
	kill(p->pid, SIGTERM);
	while (waited < STOP_GRACE_MS + 1000) {
		/* Ours if this process started it: reap it, or it stays a zombie. */
		waitpid(p->pid, NULL, WNOHANG);
		if (!lab_proc_alive(p))
			goto out;
		if (waited == STOP_GRACE_MS) {
			fprintf(stderr, "lab: PID %d ignores SIGTERM, killing it\n", (int)p->pid);
			kill(p->pid, SIGKILL);
		}
		sleep_ms(20);
		waited += 20;
	}
	fprintf(stderr, "lab: PID %d does not go away\n", (int)p->pid);
out:
	p->pid = 0;
	p->start = 0;
}

/*
 * Only the capabilities in keep (a mask of CAP_* bits), for this process and
 * whatever it execs: dropped from the bounding set first (root's exec takes
 * its permitted set from there), then from the sets it holds. 0 or -errno.
 */
static int caps_keep(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	/* Past the kernel's last capability PR_CAPBSET_DROP says EINVAL: the end. */
	for (int c = 0; c < 64; c++)
		if (!(keep >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			return -errno;
	for (int i = 0; i < 2; i++)
		d[i].effective = d[i].permitted = d[i].inheritable = (uint32_t)(keep >> (32 * i));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * In the child of lab_spawn_daemon: its own session (it outlives this command
 * and its terminal), the netns, fds 0-2 (and 3 = keep_fd), the capabilities
 * (after setns, which needs CAP_SYS_ADMIN), then exec. A failure goes back
 * through errfd as an errno.
 */
static void __attribute__((noreturn)) daemon_child(int nsfd, int logfd, int keep_fd, int errfd,
						   uint64_t caps, char *const argv[])
{
	int efd = fcntl(errfd, F_DUPFD_CLOEXEC, 100), nullfd, e;

	setsid();
	nullfd = open("/dev/null", O_RDONLY);
	if (efd >= 0 && nullfd >= 0 && (nsfd < 0 || !setns(nsfd, CLONE_NEWNET)) &&
	    dup2(nullfd, 0) >= 0 && dup2(logfd, 1) >= 0 && dup2(logfd, 2) >= 0 &&
	    (keep_fd < 0 || (keep_fd != 3 ? dup2(keep_fd, 3) >= 0 : !fcntl(3, F_SETFD, 0))) &&
	    (!caps || (errno = -caps_keep(caps)) == 0)) {
		/* Nothing of this process (the state lock above all) leaks into a daemon. */
		close_range(keep_fd >= 0 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC);
		execv(argv[0], argv);
	}
	e = errno;
	if (efd >= 0 && write(efd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

int lab_spawn_daemon(const char *netns, char *const argv[], const char *log, int keep_fd,
		     uint64_t caps, struct lab_proc *out)
{
	int nsfd = -1, logfd, ep[2], child_err = 0, err;
	ssize_t n;
	pid_t pid;

	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		err = -errno;
		return said(err, "lab: %s: %s\n", log, strerror(-err));
	}
	if (netns) {
		nsfd = open(netns, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0) {
			err = -errno;
			fprintf(stderr, "lab: %s: %s\n", netns, strerror(-err));
			goto err_log;
		}
	}
	/* The child reports a failed exec through this pipe; a successful exec closes it. */
	if (pipe2(ep, O_CLOEXEC)) {
		err = -errno;
		goto err_ns;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto err_pipe;
	}
	if (pid == 0)
		daemon_child(nsfd, logfd, keep_fd, ep[1], caps, argv);
	close(ep[1]);
	n = read(ep[0], &child_err, sizeof(child_err));
	close(ep[0]);
	if (n > 0) {
		waitpid(pid, NULL, 0);
		err = -(child_err ? child_err : EIO);
		fprintf(stderr, "lab: cannot run %s: %s\n", argv[0], strerror(-err));
		goto err_ns;
	}
	out->pid = pid;
	out->start = proc_stat(pid, NULL); /* its start time */
	xcni_close(&nsfd);
	close(logfd);
	return 0;

err_pipe:
	close(ep[0]);
	close(ep[1]);
err_ns:
	xcni_close(&nsfd);
err_log:
	close(logfd);
	return err;
}

/* Reads a whole file into a NUL-terminated buffer. */
int lab_read_file(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	size_t len;

	if (fd < 0)
		return -errno;
	err = xcni_read_all(fd, 0, out, &len);
	close(fd);
	return err;
}

/* Appends what fd has to *buf; 0 on EOF, 1 if more may come, -errno. */
static int drain(int fd, char **buf, size_t *len)
{
	char chunk[4096], *nb;
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0)
		return 0;
	nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, chunk, (size_t)n);
	*len += (size_t)n;
	nb[*len] = '\0';
	*buf = nb;
	return 1;
}

/* Reads fd o into *out and fd e into *err until both are at their end. */
static void drain_both(int o, char **out, int e, char **err)
{
	struct pollfd pfd[2] = { { .fd = o, .events = POLLIN }, { .fd = e, .events = POLLIN } };
	size_t olen = 0, elen = 0;

	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int r;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			r = i ? drain(e, err, &elen) : drain(o, out, &olen);
			if (r <= 0)
				pfd[i].fd = -1;
		}
	}
}

int lab_write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX], copy[PATH_MAX];
	const char *base;
	size_t done = 0;
	int fd, err = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	/* Hidden and in the same directory: watchers skip it, rename(2) swaps it in whole. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s.%d", dirname(copy), base, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	if (err)
		fprintf(stderr, "lab: writing %s: %s\n", path, strerror(-err));
	return err;
}

int lab_write_json(const char *path, json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2)), *nl = NULL;
	int n = s ? asprintf(&nl, "%s\n", s) : -1;
	int err = n < 0 ? -ENOMEM : lab_write_atomic(path, nl, (size_t)n);

	if (n < 0)
		nl = NULL;
	free(nl);
	free(s);
	return err;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) && errno != ENOENT)
		return said(-errno, "lab: rm %s: %s\n", path, strerror(errno));
	return 0;
}

int lab_num(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < lo || *out > hi ? -EINVAL : 0;
}

int lab_rm_tree(const char *path)
{
	int err = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	if (err < 0 && errno == ENOENT)
		return 0;
	return err < 0 ? -errno : err;
}

/* TCP states of /proc/net/tcp[6] (hex) that are a connection being served. */
#define TCP_ST_ESTABLISHED 0x01
#define TCP_ST_SYN_RECV 0x03

/* Connections in one /proc/net/tcp[6] file (its header line skipped). */
static int tcp_open_in(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[256];
	unsigned int st;
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*s %*s %x", &st) == 1 &&
		    (st == TCP_ST_ESTABLISHED || st == TCP_ST_SYN_RECV))
			n++;
	fclose(f);
	return n;
}

int lab_netns_tcp_open(const char *netns)
{
	int status, n;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC);

		/* /proc/thread-self/net is the netns of the thread that reads it. */
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(255);
		n = tcp_open_in("/proc/thread-self/net/tcp") + tcp_open_in("/proc/thread-self/net/tcp6");
		_exit(n > 254 ? 254 : n);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
		return -EIO;
	return WEXITSTATUS(status);
}

int lab_run(const char *netns, char *const argv[], char *const envp[], const char *in,
	    char **out, char **errout, int *status)
{
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }, nsfd = -1, st, err = 0;
	char *buf = NULL;
	pid_t pid;

	if (out)
		*out = NULL;
	if (errout)
		*errout = NULL;
	if (netns && (nsfd = open(netns, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (pipe2(p[0], O_CLOEXEC) || pipe2(p[1], O_CLOEXEC) || (errout && pipe2(p[2], O_CLOEXEC))) {
		err = -errno;
		goto out_fds;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out_fds;
	}
	if (pid == 0) {
		/* A CNI plugin acts in the netns it is called in: the node's. */
		if ((nsfd >= 0 && setns(nsfd, CLONE_NEWNET)) || dup2(p[0][0], 0) < 0 ||
		    dup2(p[1][1], 1) < 0 || (errout && dup2(p[2][1], 2) < 0))
			_exit(126);
		if (envp)
			execve(argv[0], argv, envp);
		else
			execvp(argv[0], argv);
		fprintf(stderr, "lab: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (int k = 0; k < 3; k++)
		xcni_close(&p[k][k != 0]);
	/* Far smaller than a pipe's buffer (a CNI config, a ruleset): this cannot block. */
	if (in && write(p[0][1], in, strlen(in)) < 0)
		err = -errno;
	xcni_close(&p[0][1]);
	drain_both(p[1][0], &buf, p[2][0], errout);
	if (waitpid(pid, &st, 0) < 0 && !err)
		err = -errno;
	else if (!err && !status && (!WIFEXITED(st) || WEXITSTATUS(st)))
		err = -EIO;
	if (status)
		*status = st;
	if (!err && out) {
		*out = buf ? buf : strdup("");
		buf = NULL;
		if (!*out)
			err = -ENOMEM;
	}
	free(buf);
out_fds:
	for (int k = 0; k < 3; k++)
		for (int j = 0; j < 2; j++)
			xcni_close(&p[k][j]);
	xcni_close(&nsfd);
	return err;
}
