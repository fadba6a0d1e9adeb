#!/bin/bash
# Installs what a Kubernetes 1.20 cluster on this machine needs besides the
# binaries scripts/k8s-build.sh makes (issue 37), all from Debian bookworm:
# etcd 3.4 (server and etcdctl), containerd 1.6 and runc for the nodes, the
# reference CNI plugins (containerd's loopback; ptp to compare against), what
# kubelet and kube-proxy call (iptables, conntrack, socat for port-forward,
# nsenter/mount from util-linux), and openssl for the cluster's certificates.
# Idempotent: with everything present it does no network I/O. Starts nothing.
set -euo pipefail

PKGS=(
	etcd-server etcd-client
	containerd runc containernetworking-plugins
	iptables conntrack socat util-linux iproute2 kmod ethtool
	openssl curl jq
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "k8s-deps: missing ${missing[*]}; run as root" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's etcd-server enables (and, under systemd, starts) a node-wide etcd on
# 127.0.0.1:2379; the tests run their own on other ports, so one installed here
# is not left running.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
	systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
echo "k8s-deps: installed ${missing[*]}"
