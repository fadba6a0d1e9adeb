# The files a test node's daemons read, written alike by tests/cri/run.sh,
# tests/k8s/controlplane.sh and tests/k8s/node.sh (sourced).
#
# containerd_config DIR STATE SOCK IMAGE CNI-BIN CNI-CONF SNAPSHOTTER RUNC-ROOT [LEVEL]:
# the config.toml of a containerd for the tests (tests/cri/run.sh, tests/k8s/node.sh):
# its root, temp, plugins and opt under DIR, its state STATE, gRPC on SOCK, the
# CRI plugin with sandbox IMAGE and one CNI config from CNI-CONF (plugins in
# CNI-BIN), runc (state RUNC-ROOT) over SNAPSHOTTER, logging at LEVEL (info).
containerd_config() {
	cat <<EOF
version = 2
root = "$1/root"
state = "$2"
temp = "$1/tmp"
plugin_dir = "$1/plugins"
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "$3"
[ttrpc]
  address = "$3.ttrpc"
[debug]
  level = "${9:-info}"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$1/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$4"
    restrict_oom_score_adj = true
    disable_apparmor = true
    enable_selinux = false
    disable_tcp_service = true
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$5"
      conf_dir = "$6"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "$7"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          Root = "$8"
          SystemdCgroup = false
EOF
}

# kubeconfig_write FILE SERVER CA USER CRED...: FILE, a kubeconfig for USER at
# SERVER (the CA's certificate embedded), CRED kubectl's set-credentials flags
# (--client-certificate C --client-key K --embed-certs, or --token T).
kubeconfig_write() {
	local f=$1 k=$K8S_BIN/kubectl
	"$k" config --kubeconfig "$f" set-cluster xcni --server "$2" --certificate-authority "$3" --embed-certs >/dev/null
	"$k" config --kubeconfig "$f" set-credentials "$4" "${@:5}" >/dev/null
	"$k" config --kubeconfig "$f" set-context xcni --cluster xcni --user "$4" >/dev/null
	"$k" config --kubeconfig "$f" use-context xcni >/dev/null
}
