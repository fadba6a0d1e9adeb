/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The programs' settings, written in one place (agent/settings.c): every
 * rodata variable of bpf/lib/config.h from the options, into the objects
 * that take it, before load; and the node config record (xcni_config).
 * tests/structure/tree_shape.py (item settings) checks that every rodata of
 * config.h has its row here and is read by a program.
 */
#ifndef XCNID_SETTINGS_H
#define XCNID_SETTINGS_H

struct bpf_object;
struct from_pod;
struct opts;
struct overlay;

/* The objects a setting goes to, one bit each. */
enum settings_prog {
	SET_FROM_POD = 1 << 0,
	SET_TO_POD = 1 << 1,
	SET_FROM_OVERLAY = 1 << 2,
	SET_TO_OVERLAY = 1 << 3,
	SET_TO_UNDERLAY = 1 << 4,
	SET_XDP_UNDERLAY = 1 << 5,
};

/*
 * The settings of prog (one SET_* bit) into obj's .rodata (opened, not
 * loaded), by name through the object's BTF, from o (and o->ov, resolved).
 * 0, or -ENOENT naming the variable an object lacks.
 */
int settings_write(const struct opts *o, struct bpf_object *obj, unsigned int prog);

/* The node config record (xcni_config) as an agent starts: its options. 0 or -errno. */
int settings_write_config(const struct opts *o, struct from_pod *fp);

/* How XDP ended up attached (xcni_config's xdp_mode, np_accel), once it is. */
void settings_config_attached(const struct overlay *ov, struct from_pod *fp);

#endif
