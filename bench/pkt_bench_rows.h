// SPDX-License-Identifier: Apache-2.0
/*
 * pkt_bench's row table (bench/pkt_bench.c is the harness: frames, maps,
 * programs, the runs and the report; it includes this once, after them).
 * Each row: its name, program, device, repeat, expected verdict, reason,
 * direction and output check, and its frame. The programs the rows alone use
 * (the prefilter's, the XDP objects of PKT_BENCH_XDP_OBJS) are loaded here.
 * The rows into rows[]: how many, or -1 (said) when a program would not load.
 */
static int pkt_bench_rows(struct row *rows)
{
	uint8_t inner[FRAME];
	size_t ilen;
	int nr = 0;

#ifdef PKT_BENCH_PREFILTER
	{
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);
		/* The deny list: DENIED/32, its /24 in the hash in front of the trie. */
		struct xcni_prefilter_key k = { .prefixlen = 32, .addr = ip4(DENIED) };
		struct xcni_prefilter_val v = {};
		uint32_t net = ip4(DENIED) & htonl(XCNI_PF24_MASK), one = 1;

		fo_pf = from_overlay__open_opts(&oo);
		if (!fo_pf)
			return -1;
		fo_pf->rodata->node_ip = ip4(NODE_IP);
		fo_pf->rodata->vni = VNI;
		fo_pf->rodata->lb_enabled = 1;
		fo_pf->rodata->tc_prefilter = 1;
		if (from_overlay__load(fo_pf)) {
			fprintf(stderr, "pkt_bench: from_overlay, tc_prefilter: %s\n", strerror(errno));
			return -1;
		}
		xu_pf = xdp_underlay__open_opts(&oo);
		if (!xu_pf || xdp_underlay__load(xu_pf)) {
			fprintf(stderr, "pkt_bench: xdp_underlay: %s\n", strerror(errno));
			return -1;
		}
		put("xcni_prefilter", &k, &v);
		put("xcni_pf24", &net, &one);
	}
#endif

	/* to_pod: the node's UDP into A (the stack's flow: conntrack, A's ingress). */
	rows[nr] = (struct row){ "to_pod IPv4, the node's UDP into A", bpf_program__fd(tp->progs.to_pod),
				 DEV_A, 100, .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL,
				 .dir = XCNI_DIR_TO_POD, .check = same };
	rows[nr].len = udp4(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A], NODE_IP, IP_A, 40000, 7001);
	nr++;
	rows[nr] = (struct row){ "to_pod IPv6, the node's UDP into A", bpf_program__fd(tp->progs.to_pod),
				 DEV_A, 100, .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL,
				 .dir = XCNI_DIR_TO_POD, .check = same };
	rows[nr].len = udp6(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A], NODE6, A6, 40000, 7001);
	nr++;
	/* R's UDP into A through the stack, as from_overlay hands the stack what
	 * it decapsulates for it: with the trusted mark (the tree after issue
	 * 26 takes a pod's source only with it; the tree before ignores it). */
	rows[nr] = (struct row){ "to_pod IPv4, R's UDP into A, the trusted mark",
				 bpf_program__fd(tp->progs.to_pod), DEV_A, 100, TRUSTED_MARK,
				 .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL, .dir = XCNI_DIR_TO_POD,
				 .check = same };
	rows[nr].len = udp4(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A], IP_R, IP_A, 40001, 7001);
	nr++;
	rows[nr] = (struct row){ "to_pod IPv6, R6's UDP into A, the trusted mark",
				 bpf_program__fd(tp->progs.to_pod), DEV_A, 100, TRUSTED_MARK,
				 .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL, .dir = XCNI_DIR_TO_POD,
				 .check = same };
	rows[nr].len = udp6(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A], R6, A6, 40001, 7001);
	nr++;
	for (int lb = 0; lb < 2; lb++) {
		rows[nr] = (struct row){ lb ? "from_overlay Geneve/IPv4 underlay, IPv4 R->A, Services on"
					    : "from_overlay Geneve/IPv4 underlay, IPv4 R->A, Services off",
					 bpf_program__fd(fo[lb]->progs.from_overlay), DEV_U, 1,
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_DECAP,
					 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_a4 };
		ilen = udp4(inner, host_mac[DEV_A], n2_mac, IP_R, IP_A, 40002, 7001);
		rows[nr].len = geneve4(rows[nr].in, inner, ilen, N2, NODE_IP);
		nr++;
		rows[nr] = (struct row){ lb ? "from_overlay Geneve/IPv4 underlay, IPv6 R6->A6, Services on"
					    : "from_overlay Geneve/IPv4 underlay, IPv6 R6->A6, Services off",
					 bpf_program__fd(fo[lb]->progs.from_overlay), DEV_U, 1,
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_DECAP,
					 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_a6 };
		ilen = udp6(inner, host_mac[DEV_A], n2_mac, R6, A6, 40002, 7001);
		rows[nr].len = geneve4(rows[nr].in, inner, ilen, N2, NODE_IP);
		nr++;
	}
	rows[nr] = (struct row){ "NodePort from outside, local backend (DNAT into B)",
				 bpf_program__fd(fo[1]->progs.from_overlay), DEV_U, 1,
				 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_b };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50000, 30080);
	nr++;
	rows[nr] = (struct row){ "NodePort from outside, remote backend (SNAT + Geneve to n2)",
				 bpf_program__fd(fo[1]->progs.from_overlay), DEV_U, 1,
				 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = to_n2 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50001, 30081);
	nr++;
	/* The XDP IPv6-underlay hit's packet at tc (a node on both underlays). */
	rows[nr] = (struct row){ "NodePort IPv6 from outside, IPv6 underlay, remote backend (SNAT + Geneve to n3)",
				 bpf_program__fd(fo[3]->progs.from_overlay), DEV_U, 1,
				 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = to_n3_ul6 };
	rows[nr].len = udp6(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT6, NODE6, 50010, 30083);
	nr++;
#ifdef PKT_BENCH_PREFILTER
	rows[nr] = (struct row){ "NodePort from outside, local backend, prefilter at tc (miss)",
				 bpf_program__fd(fo_pf->progs.from_overlay), DEV_U, 1,
				 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_b };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50012, 30080);
	nr++;
	rows[nr] = (struct row){ "NodePort from outside, remote backend, prefilter at tc (miss)",
				 bpf_program__fd(fo_pf->progs.from_overlay), DEV_U, 1,
				 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = to_n2 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50013, 30081);
	nr++;
	/* Dropped: nothing rewritten, repeat 100. */
	rows[nr] = (struct row){ "prefilter at tc (from_overlay), hit: denied source dropped",
				 bpf_program__fd(fo_pf->progs.from_overlay), DEV_U, 100,
				 .ret = TC_ACT_SHOT, .reason = XCNI_DROP_PREFILTER,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = same };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], DENIED, NODE_IP, 50014, 30080);
	nr++;
	rows[nr] = (struct row){ "prefilter at XDP (xdp_underlay), miss: NodePort frame passed",
				 bpf_program__fd(xu_pf->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_PASS, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50015, 30080);
	nr++;
	rows[nr] = (struct row){ "prefilter at XDP (xdp_underlay), hit: denied source dropped",
				 bpf_program__fd(xu_pf->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_DROP, .reason = XCNI_DROP_PREFILTER,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], DENIED, NODE_IP, 50014, 30080);
	nr++;
#endif

	for (int lb = 0; lb < 2; lb++) {
		rows[nr] = (struct row){ lb ? "from_overlay Geneve/IPv6 underlay, IPv4 R3->A, Services on"
					    : "from_overlay Geneve/IPv6 underlay, IPv4 R3->A, Services off",
					 bpf_program__fd(fo[2 + lb]->progs.from_overlay), DEV_U, 1,
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_DECAP,
					 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_a4_ul6 };
		ilen = udp4(inner, host_mac[DEV_A], n2_mac, IP_R3, IP_A, 40002, 7002);
		rows[nr].len = geneve6(rows[nr].in, inner, ilen, N3_6, NODE6);
		nr++;
		rows[nr] = (struct row){ lb ? "from_overlay Geneve/IPv6 underlay, IPv6 R36->A6, Services on"
					    : "from_overlay Geneve/IPv6 underlay, IPv6 R36->A6, Services off",
					 bpf_program__fd(fo[2 + lb]->progs.from_overlay), DEV_U, 1,
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_DECAP,
					 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_a6_ul6 };
		ilen = udp6(inner, host_mac[DEV_A], n2_mac, R36, A6, 40002, 7002);
		rows[nr].len = geneve6(rows[nr].in, inner, ilen, N3_6, NODE6);
		nr++;
		/* Nothing rewritten: repeat 100, as to_pod. */
		rows[nr] = (struct row){ lb ? "from_overlay plain IPv6 to the node, IPv6 underlay, Services on"
					    : "from_overlay plain IPv6 to the node, IPv6 underlay, Services off",
					 bpf_program__fd(fo[2 + lb]->progs.from_overlay), DEV_U, 100,
					 .ret = TC_ACT_OK, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
					 .check = same };
		rows[nr].len = udp6(rows[nr].in, host_mac[DEV_U], n2_mac, N3_6, NODE6, 40002, 53);
		nr++;
	}

	/* from_pod: A's UDP to B here, and to R (R6) of n2. */
	rows[nr] = (struct row){ "from_pod IPv4, A's UDP into B (local)", bpf_program__fd(fp->progs.from_pod),
				 DEV_A, 1, .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
				 .dir = XCNI_DIR_FROM_POD, .check = into_b_pod };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_B, 41000, 7003);
	nr++;
	rows[nr] = (struct row){ "from_pod IPv4, A's UDP to R (Geneve to n2)",
				 bpf_program__fd(fp->progs.from_pod), DEV_A, 1, .ret = TC_ACT_REDIRECT,
				 .reason = XCNI_FWD_ENCAP, .dir = XCNI_DIR_FROM_POD, .check = geneve_n2 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_R, 41001, 7003);
	nr++;
	rows[nr] = (struct row){ "from_pod IPv6, A6's UDP to R6 (Geneve to n2)",
				 bpf_program__fd(fp->progs.from_pod), DEV_A, 1, .ret = TC_ACT_REDIRECT,
				 .reason = XCNI_FWD_ENCAP, .dir = XCNI_DIR_FROM_POD, .check = geneve_n2 };
	rows[nr].len = udp6(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], A6, R6, 41002, 7003);
	nr++;
	/* The connection-opening path: a new flow each packet (vary), A's
	 * egress not judged (no polep) and judged (pol_on); an open flow judged
	 * once (pol_on: the policy is not on its path). */
	for (int pol = 0; pol < 2; pol++) {
		rows[nr] = (struct row){ pol ? "from_pod IPv4, A's UDP into B, new flow, A's egress policy"
					     : "from_pod IPv4, A's UDP into B, new flow, no policy",
					 bpf_program__fd(fp->progs.from_pod), DEV_A, 1,
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
					 .dir = XCNI_DIR_FROM_POD, .check = into_b_pod,
					 .prep = pol ? pol_on : pol_off, .vary = 1 };
		rows[nr].len = udp4(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_B, 1024, 10000);
		nr++;
	}
	/* Replies and TCP's opening, A -> B here (conntrack's per-connection
	 * work, issue 71): B's UDP answering A's flow; B's SYN+ACK answering
	 * A's SYN; A's SYN, a new tuple each packet (vary 1) and onto a
	 * tuple whose earlier connection's entry is CLOSED (vary 4). */
	rows[nr] = (struct row){ "from_pod IPv4, B's UDP reply into A (local)",
				 bpf_program__fd(fp->progs.from_pod), DEV_B, 1, .ret = TC_ACT_REDIRECT,
				 .reason = XCNI_FWD_REPLY, .dir = XCNI_DIR_FROM_POD,
				 .check = into_a_pod, .prep = open_udp_a_b };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_B], pod_mac[DEV_B], IP_B, IP_A, 7003, 41000);
	nr++;
	rows[nr] = (struct row){ "from_pod IPv4, B's TCP SYN+ACK reply into A (local)",
				 bpf_program__fd(fp->progs.from_pod), DEV_B, 1, .ret = TC_ACT_REDIRECT,
				 .reason = XCNI_FWD_REPLY, .dir = XCNI_DIR_FROM_POD,
				 .check = into_a_pod, .prep = open_syn_a_b };
	rows[nr].len = tcp4(rows[nr].in, host_mac[DEV_B], pod_mac[DEV_B], IP_B, IP_A, 7004, 42000,
			    0x12);
	nr++;
	for (int reuse = 0; reuse < 2; reuse++) {
		rows[nr] = (struct row){ reuse ? "from_pod IPv4, A's TCP SYN into B, reused closed tuple"
					       : "from_pod IPv4, A's TCP SYN into B, new flow",
					 bpf_program__fd(fp->progs.from_pod), DEV_A, 1,
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
					 .dir = XCNI_DIR_FROM_POD, .check = into_b_pod,
					 .prep = reuse ? closed_pool : pol_off, .vary = reuse ? 4 : 1 };
		rows[nr].len = tcp4(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_B, 1024,
				    reuse ? 7005 : 10000, 0x02);
		nr++;
	}
	rows[nr] = (struct row){ "from_pod IPv4, A's UDP into B (local), A's egress policy",
				 bpf_program__fd(fp->progs.from_pod), DEV_A, 1, .ret = TC_ACT_REDIRECT,
				 .reason = XCNI_FWD_LOCAL, .dir = XCNI_DIR_FROM_POD,
				 .check = into_b_pod, .prep = pol_on };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_B, 41003, 7003);
	nr++;
	/* Services from a pod, per packet: a ClusterIP of each family, its
	 * backend on n2 (IPv6: lb6_translate_call), an open flow and new flows. */
	for (int v6 = 0; v6 < 2; v6++)
		for (int fresh = 0; fresh < 2; fresh++) {
			static const char *const names[2][2] = {
				{ "from_pod IPv4, A's UDP to a ClusterIP (R, Geneve to n2)",
				  "from_pod IPv4, A's UDP to a ClusterIP, new flow" },
				{ "from_pod IPv6, A6's UDP to a ClusterIP (R6, Geneve to n2)",
				  "from_pod IPv6, A6's UDP to a ClusterIP, new flow" },
			};

			rows[nr] = (struct row){ names[v6][fresh], bpf_program__fd(fp->progs.from_pod),
						 DEV_A, 1, .ret = TC_ACT_REDIRECT,
						 .reason = XCNI_FWD_ENCAP, .dir = XCNI_DIR_FROM_POD,
						 .check = geneve_n2_dnat, .vary = fresh * 3 };
			rows[nr].len = v6 ? udp6(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], A6, CIP6,
						 41004, 80) :
					    udp4(rows[nr].in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, CIP,
						 41004, 80);
			nr++;
		}
	rows[nr] = (struct row){ "NodePort from outside, local backend, new flow",
				 bpf_program__fd(fo[1]->progs.from_overlay), DEV_U, 1,
				 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = into_b, .vary = 2 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 1024, 30080);
	nr++;

#ifdef NP_XDP
	/* xdp_underlay: acceleration off (the prefilter, then XDP_PASS) and on. */
	rows[nr] = (struct row){ "xdp, acceleration off: NodePort UDP, passed (prefilter only)",
				 bpf_program__fd(xu[0]->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_PASS, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50002, 30081);
	nr++;
	rows[nr] = (struct row){ "xdp fast path hit: NodePort, remote backend (XDP_TX)",
				 bpf_program__fd(xu[1]->progs.xdp_underlay), DEV_U, 1, .ret = XDP_TX,
				 .reason = XCNI_FWD_ENCAP, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = to_n2, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50002, 30081);
	nr++;
	/* More XDP objects (the floor): after the hit's
	 * row, whose warm-up opened the flow they all see. */
	if (getenv("PKT_BENCH_XDP_OBJS")) {
		char *list = strdup(getenv("PKT_BENCH_XDP_OBJS")), *save = NULL;

		for (char *path = strtok_r(list, " ", &save); path; path = strtok_r(NULL, " ", &save)) {
			struct bpf_program *prog;

			if (load_xobj(path)) {
				fprintf(stderr, "pkt_bench: %s: %s\n", path, strerror(errno));
				return -1;
			}
			prog = bpf_object__next_program(xobj[nxobj - 1], NULL);
			rows[nr] = (struct row){ strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
						 bpf_program__fd(prog), DEV_U, 1, .any = 1, .xdp = 1 };
			rows[nr].len = rows[nr - 1].len;
			memcpy(rows[nr].in, rows[nr - 1].in, rows[nr].len);
			nr++;
		}
	}
	rows[nr] = (struct row){ "xdp fast path hit, DSR: NodePort, remote backend (XDP_TX)",
				 bpf_program__fd(xu[2]->progs.xdp_underlay), DEV_U, 1, .ret = XDP_TX,
				 .reason = XCNI_FWD_ENCAP, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = to_n2_dsr, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50007, 30081);
	nr++;
	rows[nr] = (struct row){ "xdp fast path hit, IPv6 underlay: IPv6 NodePort, remote backend (XDP_TX)",
				 bpf_program__fd(xu[3]->progs.xdp_underlay), DEV_U, 1, .ret = XDP_TX,
				 .reason = XCNI_FWD_ENCAP, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = to_n3_ul6, .xdp = 1 };
	rows[nr].len = udp6(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT6, NODE6, 50008, 30083);
	nr++;
	rows[nr] = (struct row){ "xdp fast path to tc: NodePort, local backend (XDP_PASS)",
				 bpf_program__fd(xu[1]->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_PASS, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50003, 30080);
	nr++;
#ifdef XCNI_SVC_F_LOCAL_BE
	rows[nr] = (struct row){ "xdp fast path to tc: local-backends frontend (XDP_PASS at lookup)",
				 bpf_program__fd(xu[1]->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_PASS, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50006, 30082);
	nr++;
#endif
	/* XDP then tc for one packet (issue 56 item 3): live, from_overlay
	 * (Services on) at the underlay's tc ingress, acceleration off then on
	 * (on: XDP's tc entry, the choice handed to tc where the tree does).
	 * Repeat 50: a live run takes at most one batch (64 frames) a call here
	 * (repeat 100 counted 64 packets at tc a call). */
	{
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex[DEV_U],
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tco, .prog_fd = bpf_program__fd(fo[1]->progs.from_overlay));
		int err = bpf_tc_hook_create(&hook);

		if ((err && err != -EEXIST) || bpf_tc_attach(&hook, &tco)) {
			fprintf(stderr, "pkt_bench: from_overlay at the underlay's tc ingress\n");
			return -1;
		}
	}
	/* a 2: the floor, an XDP program that only passes (two instructions). */
	for (int a = 0; a < 3; a++) {
		static const struct bpf_insn pass[] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		int fd = a < 2 ? bpf_program__fd(xu[a]->progs.xdp_underlay) :
				 bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_pass", "GPL", pass, 2, NULL);

		if (fd < 0) {
			fprintf(stderr, "pkt_bench: xdp_pass: %s\n", strerror(errno));
			return -1;
		}
		rows[nr] = (struct row){ a == 2   ? "xdp live into tc: NodePort, local backend, XDP_PASS only"
					 : a == 1 ? "xdp live into tc: NodePort, local backend, acceleration on"
						  : "xdp live into tc: NodePort, local backend, acceleration off",
					 fd, DEV_U, 50, .reason = XCNI_FWD_LOCAL,
					 .dir = XCNI_DIR_FROM_OVERLAY, .xdp = 1, .live = 1 };
		rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50009, 30080);
		nr++;
	}
#ifdef XCNI_SVC_F_LOCAL_BE
	/* The same backend behind the frontend xcnid flags all-local (30082):
	 * XDP passes it after the frontend's lookup, tc chooses. */
	rows[nr] = (struct row){ "xdp live into tc: local-backends frontend, acceleration on",
				 bpf_program__fd(xu[1]->progs.xdp_underlay), DEV_U, 50,
				 .reason = XCNI_FWD_LOCAL, .dir = XCNI_DIR_FROM_OVERLAY, .xdp = 1,
				 .live = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50011, 30082);
	nr++;
#endif
	rows[nr] = (struct row){ "xdp fast path miss: UDP to the node's port 53 (XDP_PASS)",
				 bpf_program__fd(xu[1]->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_PASS, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
				 .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], CLIENT, NODE_IP, 50004, 53);
	nr++;
	for (int a = 0; a < 2; a++) {
		rows[nr] = (struct row){ a ? "xdp fast path miss: Geneve from n2 (XDP_PASS)"
					   : "xdp, acceleration off: Geneve from n2 (XDP_PASS)",
					 bpf_program__fd(xu[a]->progs.xdp_underlay), DEV_U, 100,
					 .ret = XDP_PASS, .reason = 0, .dir = XCNI_DIR_FROM_OVERLAY,
					 .check = same, .xdp = 1 };
		ilen = udp4(inner, host_mac[DEV_A], n2_mac, IP_R, IP_A, 7000, 7001);
		rows[nr].len = geneve4(rows[nr].in, inner, ilen, N2, NODE_IP);
		nr++;
	}
	rows[nr] = (struct row){ "xdp fast path on: a deny-listed source dropped (prefilter)",
				 bpf_program__fd(xu[1]->progs.xdp_underlay), DEV_U, 100,
				 .ret = XDP_DROP, .reason = XCNI_DROP_PREFILTER,
				 .dir = XCNI_DIR_FROM_OVERLAY, .check = same, .xdp = 1 };
	rows[nr].len = udp4(rows[nr].in, host_mac[DEV_U], pod_mac[DEV_U], "198.18.0.9", NODE_IP, 50005, 30081);
	nr++;
#endif
	/* Fragments of outside sources' datagrams into A (to_pod), both families. */
	for (int v6 = 0; v6 < 2; v6++) {
		const char *a = v6 ? A6 : IP_A, *c = v6 ? CLIENT6 : CLIENT;

		rows[nr] = (struct row){ v6 ? "frag IPv6: an outside client's first fragment again"
					    : "frag IPv4: an outside client's first fragment again",
					 bpf_program__fd(tp->progs.to_pod), DEV_A, 100,
					 .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL,
					 .dir = XCNI_DIR_TO_POD, .check = same, .prep = frag_prep_first };
		rows[nr].len = frag(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A], c, a, 44000, 7001,
				    0x77, 0, 1);
		nr++;
		rows[nr] = (struct row){ v6 ? "frag IPv6: its later fragment (the first's ports)"
					    : "frag IPv4: its later fragment (the first's ports)",
					 bpf_program__fd(tp->progs.to_pod), DEV_A, 100,
					 .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL,
					 .dir = XCNI_DIR_TO_POD, .check = same, .prep = frag_prep_first };
		rows[nr].len = frag(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A], c, a, 44000, 7001,
				    0x77, 2, 1);
		nr++;
		rows[nr] = (struct row){ v6 ? "frag IPv6: a first fragment past its source's places"
					    : "frag IPv4: a first fragment past its source's places",
					 bpf_program__fd(tp->progs.to_pod), DEV_A, 100,
					 .ret = TC_ACT_SHOT, .reason = XCNI_DROP_FRAG_SHARE,
					 .dir = XCNI_DIR_TO_POD, .check = same, .prep = frag_prep_full };
		rows[nr].len = frag(rows[nr].in, pod_mac[DEV_A], host_mac[DEV_A],
				    v6 ? FLOODER6 : FLOODER, a, 44000, 7001, 0x99, 0, 1);
		nr++;
	}
	return nr;
}
