/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the data plane, BTF-defined and pinned by name. */
#ifndef XCNI_MAPS_H
#define XCNI_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xcni_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XCNI_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct xcni_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XCNI_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_ifindex SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XCNI_MAX_CT);
	__type(key, struct xcni_ct_key);
	__type(value, struct xcni_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCNI_NR_METRICS);
	__type(key, __u32);
	__type(value, struct xcni_metric);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_metrics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCNI_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcni_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_config SEC(".maps");

#endif
