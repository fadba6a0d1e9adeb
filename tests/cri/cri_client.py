#!/usr/bin/python3
"""Minimal CRI (runtime.v1) client for tests/cri/run.sh.

Stubs are generated from cri_runtime_v1.proto at run time into --gen DIR
(`gen` does it once; every other command expects them there). Each command
prints one JSON document on stdout and exits non-zero on a gRPC error.

  cri_client.py --gen DIR gen
  cri_client.py --gen DIR --sock SOCK version
  cri_client.py --gen DIR --sock SOCK run NAME UID NAMESPACE [CGROUP_PARENT]
  cri_client.py --gen DIR --sock SOCK status ID      # ip, state, netns, ...
  cri_client.py --gen DIR --sock SOCK stop ID
  cri_client.py --gen DIR --sock SOCK remove ID
  cri_client.py --gen DIR --sock SOCK list
  cri_client.py --gen DIR --sock SOCK status-runtime   # CRI conditions
  cri_client.py --gen DIR --sock SOCK image NAME       # image id or ""
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = "cri_runtime_v1.proto"


def generate(gen):
    os.makedirs(gen, exist_ok=True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + HERE,
                    "--python_out=" + gen, "--grpc_python_out=" + gen,
                    os.path.join(HERE, PROTO)], check=True)


def load(gen):
    # Debian's grpc_tools emits old-style generated code; the pure-Python
    # protobuf backend accepts it whatever the protobuf version.
    os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    sys.path.insert(0, gen)
    import cri_runtime_v1_pb2 as pb
    import cri_runtime_v1_pb2_grpc as pbg
    return pb, pbg


def netns_path(info):
    """The sandbox's network namespace path from containerd's verbose info."""
    try:
        doc = json.loads(info.get("info", "{}"))
    except ValueError:
        return ""
    for ns in (doc.get("runtimeSpec", {}).get("linux", {})
               .get("namespaces", []) or []):
        if ns.get("type") == "network":
            return ns.get("path", "")
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen", required=True)
    ap.add_argument("--sock")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("cmd")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()

    if a.cmd == "gen":
        generate(a.gen)
        print(json.dumps({"gen": a.gen}))
        return 0

    pb, pbg = load(a.gen)
    import grpc

    ch = grpc.insecure_channel("unix://" + a.sock)
    rt = pbg.RuntimeServiceStub(ch)
    t = a.timeout
    try:
        if a.cmd == "version":
            r = rt.Version(pb.VersionRequest(version="v1"), timeout=t)
            out = {"version": r.version, "runtime_name": r.runtime_name,
                   "runtime_version": r.runtime_version,
                   "runtime_api_version": r.runtime_api_version}
        elif a.cmd == "run":
            name, uid, ns = a.args[:3]
            cg = a.args[3] if len(a.args) > 3 else ""
            cfg = pb.PodSandboxConfig(
                metadata=pb.PodSandboxMetadata(name=name, uid=uid,
                                               namespace=ns, attempt=0),
                hostname=name,
                labels={"xcni-test": "cri", "io.kubernetes.pod.name": name},
                linux=pb.LinuxPodSandboxConfig(
                    cgroup_parent=cg,
                    security_context=pb.LinuxSandboxSecurityContext(
                        namespace_options=pb.NamespaceOption(
                            network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))))
            r = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg),
                                 timeout=t)
            out = {"id": r.pod_sandbox_id}
        elif a.cmd == "status":
            r = rt.PodSandboxStatus(
                pb.PodSandboxStatusRequest(pod_sandbox_id=a.args[0],
                                           verbose=True), timeout=t)
            s = r.status
            out = {"id": s.id, "name": s.metadata.name,
                   "state": pb.PodSandboxState.Name(s.state),
                   "ip": s.network.ip,
                   "additional_ips": [x.ip for x in s.network.additional_ips],
                   "netns": netns_path(dict(r.info))}
        elif a.cmd == "stop":
            rt.StopPodSandbox(pb.StopPodSandboxRequest(
                pod_sandbox_id=a.args[0]), timeout=t)
            out = {"stopped": a.args[0]}
        elif a.cmd == "remove":
            rt.RemovePodSandbox(pb.RemovePodSandboxRequest(
                pod_sandbox_id=a.args[0]), timeout=t)
            out = {"removed": a.args[0]}
        elif a.cmd == "list":
            r = rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=t)
            out = [{"id": p.id, "name": p.metadata.name,
                    "state": pb.PodSandboxState.Name(p.state)}
                   for p in r.items]
        elif a.cmd == "status-runtime":
            r = rt.Status(pb.StatusRequest(verbose=False), timeout=t)
            out = {c.type: c.status for c in r.status.conditions}
        elif a.cmd == "image":
            im = pbg.ImageServiceStub(ch)
            r = im.ImageStatus(pb.ImageStatusRequest(
                image=pb.ImageSpec(image=a.args[0])), timeout=t)
            out = {"id": r.image.id, "repo_tags": list(r.image.repo_tags)}
        else:
            ap.error("unknown command " + a.cmd)
    except grpc.RpcError as e:
        print("grpc error: %s: %s" % (e.code(), e.details()), file=sys.stderr)
        return 1
    finally:
        ch.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
