// SPDX-License-Identifier: Apache-2.0
/*
 * The listener each pod runs on its containerPorts, and the outside on its
 * ports (the hidden `xcnictl lab serve`), and starting one in a netns. TCP
 * answers who it is, UDP echoes; with --tell-peer both answer the address the
 * peer came from. Its sockets are IPv6 ones taking IPv4 too (v4-mapped), so
 * one listener serves a pod of either family or both; IPv4 alone where the
 * netns has no IPv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/serve.h"

#define SERVE_MAX_CONNS 4096
#define SERVE_IDLE_MS 5000
/* A listener that exits closes the pipe, seen at once; one that is slow to
 * start (a VM under software emulation on a loaded host: past 5 s) is waited for. */
#define SERVE_READY_MS 60000

/* "80/tcp", "81/UDP"; 0 or -EINVAL. */
int lab_port_spec(const char *s, struct lab_port *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end != '/' || v < 1 || v > 65535 || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	out->port = (uint16_t)v;
	if (!strcasecmp(end + 1, "tcp"))
		out->proto = IPPROTO_TCP;
	else if (!strcasecmp(end + 1, "udp"))
		out->proto = IPPROTO_UDP;
	else if (!strcasecmp(end + 1, "sctp"))
		out->proto = IPPROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

/* ---- the listener (xcnictl lab serve) ----------------------------------------- */

struct conn {
	int fd;
	long long deadline;
	struct sockaddr_storage peer;
};

/* A socket on every address of port p: IPv6 taking IPv4 too, else IPv4 alone. */
static int serve_socket(const struct lab_port *p)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT,
				    .sin6_port = htons(p->port) };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY),
				  .sin_port = htons(p->port) };
	int type = (p->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
	int one = 1, zero = 0, fd, err;
	bool v6 = true;

	fd = socket(AF_INET6, type, 0);
	/* No IPv6 here (ipv6.disable=1): IPv4 is all a pod can have. */
	if (fd < 0 && errno == EAFNOSUPPORT) {
		v6 = false;
		fd = socket(AF_INET, type, 0);
	}
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) ||
	    (v6 ? bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) :
		  bind(fd, (struct sockaddr *)&sa, sizeof(sa))) ||
	    (p->proto == IPPROTO_TCP && listen(fd, 1024)) ||
	    /* UDP answers from the address it was sent to (serve_udp). */
	    (p->proto == IPPROTO_UDP && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) ||
	    (p->proto == IPPROTO_UDP && v6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Binds every port; the readiness pipe says "ok" only once all of them listen. */
static int serve_bind(int argc, char **argv, int *fds, uint8_t *protos, int *n, char *why,
		      size_t whylen)
{
	struct lab_port p;

	for (*n = 0; *n < argc; (*n)++) {
		int fd;

		if (lab_port_spec(argv[*n], &p) || p.proto == IPPROTO_SCTP) {
			snprintf(why, whylen, "%s: not PORT/tcp or PORT/udp", argv[*n]);
			return -EINVAL;
		}
		fd = serve_socket(&p);
		if (fd < 0) {
			snprintf(why, whylen, "%s: %s", argv[*n], strerror(-fd));
			return fd;
		}
		fds[*n] = fd;
		protos[*n] = p.proto;
	}
	return 0;
}

/*
 * With --tell-peer: "NAME ADDR\n", the peer's address as this end saw it (an
 * IPv4 peer of an IPv6 socket as plain IPv4).
 */
static const char *tell_peer(char *buf, size_t len, const char *name,
			     const struct sockaddr_storage *peer)
{
	const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)peer;
	const struct sockaddr_in *p4 = (const struct sockaddr_in *)peer;
	char a[INET6_ADDRSTRLEN] = "?";

	if (peer->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr))
		inet_ntop(AF_INET, &p6->sin6_addr.s6_addr[12], a, sizeof(a));
	else if (peer->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &p6->sin6_addr, a, sizeof(a));
	else
		inet_ntop(AF_INET, &p4->sin_addr, a, sizeof(a));
	snprintf(buf, len, "%s %s\n", name, a);
	return buf;
}

/*
 * The answer leaves from the address the datagram came to (its pktinfo, in
 * cin, copied into cout as the source to send from): a socket on every address
 * of a host with several (a hostNetwork pod's, its node's) would otherwise
 * answer from the one its route to the peer prefers, which the peer's
 * connected socket does not take. The control length to send (0: none).
 */
static size_t reply_from(const struct msghdr *in, char *cin, char *cout, size_t len)
{
	struct msghdr src = { .msg_control = cin, .msg_controllen = in->msg_controllen };
	struct cmsghdr *c, *o = (struct cmsghdr *)cout;

	memset(cout, 0, len);
	for (c = CMSG_FIRSTHDR(&src); c; c = CMSG_NXTHDR(&src, c)) {
		bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO;

		if (!v4 && (c->cmsg_level != IPPROTO_IPV6 || c->cmsg_type != IPV6_PKTINFO))
			continue;
		/* The same header and info back, sent from the address it came to, by no device. */
		memcpy(o, c, c->cmsg_len);
		if (v4) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(o);

			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
		} else {
			((struct in6_pktinfo *)CMSG_DATA(o))->ipi6_ifindex = 0;
		}
		return CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
	}
	return 0;
}

/* Echoes each datagram, or with name (--tell-peer) answers who sent it. */
static void serve_udp(int fd, const char *name)
{
	struct sockaddr_storage from;
	socklen_t flen;
	char buf[65535], ans[600]; /* a whole datagram, fragmented or not */
	ssize_t n;

	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} cin, cout;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cin.b,
				    .msg_controllen = sizeof(cin.b) };

		n = recvmsg(fd, &m, 0);
		if (n < 0)
			return;
		flen = m.msg_namelen;
		if (name) {
			tell_peer(ans, sizeof(ans), name, &from);
			iov = (struct iovec){ ans, strlen(ans) };
		} else
			iov = (struct iovec){ buf, (size_t)n };
		m.msg_namelen = flen;
		m.msg_control = cout.b;
		m.msg_controllen = reply_from(&m, cin.b, cout.b, sizeof(cout.b));
		if (!m.msg_controllen)
			m.msg_control = NULL;
		sendmsg(fd, &m, MSG_DONTWAIT);
	}
}

static void serve_accept(int fd, struct conn *conns, int *nconns)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int c;

	while ((c = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (*nconns >= SERVE_MAX_CONNS) {
			close(c);
			continue;
		}
		conns[(*nconns)++] = (struct conn){ c, xcni_mono_ms() + SERVE_IDLE_MS, peer };
		plen = sizeof(peer);
	}
}

/* Read what the client said, answer with who we are, close: one exchange per connection. */
static bool serve_conn(struct conn *c, const char *answer, const char *tell)
{
	char buf[512], ans[600];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n >= 0 && tell)
		answer = tell_peer(ans, sizeof(ans), tell, &c->peer);
	if (n >= 0)
		send(c->fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(c->fd);
	return true;
}

static int serve_loop(int *lfds, uint8_t *protos, int nl, const char *answer, const char *tell)
{
	struct conn *conns = calloc(SERVE_MAX_CONNS, sizeof(*conns));
	struct pollfd *pfd = calloc(SERVE_MAX_CONNS + (size_t)nl, sizeof(*pfd));
	int nconns = 0;

	if (!conns || !pfd)
		return -ENOMEM;
	for (;;) {
		long long now;
		int i, n = 0;

		for (i = 0; i < nl; i++)
			pfd[n++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
		for (i = 0; i < nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < nl; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (protos[i] == IPPROTO_UDP)
				serve_udp(lfds[i], tell);
			else
				serve_accept(lfds[i], conns, &nconns);
		}
		/* Connections accepted just now are past the polled ones: they wait a round. */
		now = xcni_mono_ms();
		for (i = 0; i < nconns;) {
			bool done = false;

			if (nl + i < n && pfd[nl + i].fd == conns[i].fd && pfd[nl + i].revents)
				done = serve_conn(&conns[i], answer, tell);
			else if (now > conns[i].deadline) {
				close(conns[i].fd);
				done = true;
			}
			if (done) {
				/* Keep pfd in step with conns: both shift down by one. */
				memmove(&conns[i], &conns[i + 1], (size_t)(nconns - i - 1) * sizeof(*conns));
				if (nl + i < n)
					memmove(&pfd[nl + i], &pfd[nl + i + 1],
						(size_t)(n - nl - i - 1) * sizeof(*pfd));
				n--;
				nconns--;
			} else {
				i++;
			}
		}
	}
}

const struct pt_opt lab_serve_opts[] = {
	{ "ready-fd", 0, true, 'r', 0, NULL, NULL },
	{ "name", 0, true, 'n', 0, NULL, NULL },
	{ "tell-peer", 0, false, 't', 0, NULL, NULL },
	{}
};

/*
 * xcnictl lab serve --ready-fd N --name NS/POD [--tell-peer] PORT/PROTO...:
 * started by apply and up, not by people. TCP answers "NAME\n", UDP echoes;
 * with --tell-peer both answer "NAME ADDR\n", ADDR the source address that
 * reached this end (what masquerade made of it).
 */
int lab_cmd_serve(int argc, char **argv)
{
	int c, ready = -1, nl = 0, *lfds, err;
	const char *name = "pod";
	bool tell = false;
	char answer[600], why[256];
	uint8_t *protos;

	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_serve_opts, false, NULL)) != -1) {
		switch (c) {
		case 'r': ready = atoi(optarg); break;
		case 'n': name = optarg; break;
		case 't': tell = true; break;
		default: return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(answer, sizeof(answer), "%s\n", name);
	lfds = calloc((size_t)(argc - optind) + 1, sizeof(*lfds));
	protos = calloc((size_t)(argc - optind) + 1, sizeof(*protos));
	if (!lfds || !protos)
		return 1;
	err = serve_bind(argc - optind, argv + optind, lfds, protos, &nl, why, sizeof(why));
	if (ready >= 0) {
		if (err)
			dprintf(ready, "%s\n", why);
		else
			dprintf(ready, "ok\n");
		close(ready);
	}
	if (err)
		return said(1, "lab serve %s: %s\n", name, why);
	err = serve_loop(lfds, protos, nl, answer, tell ? name : NULL);
	return said(1, "lab serve %s: %s\n", name, strerror(-err));
}

/*
 * Starts `lab serve` in netns (a name) for the ports in specs, logging to
 * log, and waits until it listens on all of them.
 */
int lab_serve_spawn(const char *netns_name, const char *name, char *const *specs, size_t nspecs,
		    bool tell, const char *log, struct lab_proc *out)
{
	char self[PATH_MAX], netns[PATH_MAX], fd[16], msg[300] = "";
	struct pollfd pfd;
	int rp[2], a = 0, err;
	char **argv;
	ssize_t n;

	*out = (struct lab_proc){};
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	argv = calloc(nspecs + 10, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	if (pipe2(rp, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	snprintf(fd, sizeof(fd), "3");
	memcpy(argv, (char *[]){ self, "lab", "serve", "--ready-fd", fd, "--name", (char *)name },
	       7 * sizeof(*argv));
	a = 7;
	if (tell)
		argv[a++] = "--tell-peer";
	for (size_t i = 0; i < nspecs; i++)
		argv[a++] = specs[i];
	argv[a] = NULL;
	lab_netns_path(netns_name, netns, sizeof(netns));
	err = lab_spawn_daemon(netns, argv, log, rp[1], 0, out);
	close(rp[1]);
	if (err)
		goto out_pipe;
	/* Probes right after apply must find it listening. */
	pfd = (struct pollfd){ .fd = rp[0], .events = POLLIN };
	n = poll(&pfd, 1, SERVE_READY_MS) > 0 ? read(rp[0], msg, sizeof(msg) - 1) : -1;
	if (n > 0)
		msg[n] = '\0';
	if (n <= 0 || strncmp(msg, "ok\n", 3)) {
		fprintf(stderr, "lab: %s: listener did not start: %s", name,
			n > 0 ? msg : "no word from it\n");
		lab_proc_stop(out);
		err = -EIO;
	}
out_pipe:
	close(rp[0]);
out:
	free(argv);
	return err;
}
