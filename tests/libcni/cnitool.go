// cnitool: a minimal CNI runtime built on libcni (the reference client
// library), used by tests/libcni/run.sh to drive a plugin chain the way
// container runtimes do.
//
//	cnitool add|check|del   CONFLIST_FILE NETNS_PATH CONTAINER_ID IFNAME
//	cnitool validate|version CONFLIST_FILE
//	cnitool summary RESULT_FILE
//
// libcni 1.1.2 (Debian's golang-github-appc-cni-dev) has no GC/STATUS
// verbs, so they are not offered.
//
// Environment:
//
//	CNI_PATH        colon-separated plugin directories (required)
//	CNI_CACHE_DIR   libcni result cache directory (required; never defaults
//	                to /var/lib/cni)
//	CNI_PORTMAP     optional JSON array for the portMappings capability,
//	                e.g. [{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]
//	CNI_BANDWIDTH   optional JSON object for the bandwidth capability
//	CNI_ARGS        optional "K1=V1;K2=V2" plugin args
//	CNI_TIMEOUT     seconds per operation (default 60)
//
// add prints the result JSON (in the list's cniVersion) on stdout. summary
// parses such a result with libcni's own types and prints one line per
// item, so shell tests need no JSON tool:
//
//	cniVersion 1.0.0
//	if IDX NAME MAC SANDBOX      (SANDBOX "-" for host-side interfaces)
//	ip ADDR/PREFIX GATEWAY IFIDX (GATEWAY/IFIDX "-" when absent)
//	route DST GW
//
// Any failure prints the error on stderr and exits 1 (usage errors exit 2).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cnitool add|check|del CONFLIST_FILE NETNS_PATH CONTAINER_ID IFNAME\n"+
		"       cnitool validate|version CONFLIST_FILE\n"+
		"       cnitool summary RESULT_FILE")
	os.Exit(2)
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "cnitool: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	cmd, confFile := os.Args[1], os.Args[2]
	if cmd == "summary" {
		summary(confFile)
		return
	}

	binPath := os.Getenv("CNI_PATH")
	if binPath == "" {
		die("CNI_PATH is not set")
	}
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	if cacheDir == "" {
		die("CNI_CACHE_DIR is not set (refusing to use the default /var/lib/cni)")
	}

	list, err := libcni.ConfListFromFile(confFile)
	if err != nil {
		die("loading %s: %v", confFile, err)
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(binPath), cacheDir, nil)

	timeout := 60 * time.Second
	if s := os.Getenv("CNI_TIMEOUT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			die("bad CNI_TIMEOUT %q", s)
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	switch cmd {
	case "validate":
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			die("validate: %v", err)
		}
		out, _ := json.Marshal(caps)
		fmt.Println(string(out))
		return
	case "version":
		for _, p := range list.Plugins {
			info, err := cni.GetVersionInfo(ctx, p.Network.Type)
			if err != nil {
				die("version %s: %v", p.Network.Type, err)
			}
			fmt.Printf("%s: %s\n", p.Network.Type, strings.Join(info.SupportedVersions(), ","))
		}
		return
	case "add", "check", "del":
	default:
		usage()
	}
	if len(os.Args) != 6 {
		usage()
	}

	rt := &libcni.RuntimeConf{
		NetNS:          os.Args[3],
		ContainerID:    os.Args[4],
		IfName:         os.Args[5],
		CapabilityArgs: map[string]interface{}{},
	}
	if s := os.Getenv("CNI_ARGS"); s != "" {
		for _, kv := range strings.Split(s, ";") {
			p := strings.SplitN(kv, "=", 2)
			if len(p) != 2 {
				die("bad CNI_ARGS element %q", kv)
			}
			rt.Args = append(rt.Args, [2]string{p[0], p[1]})
		}
	}
	if s := os.Getenv("CNI_PORTMAP"); s != "" {
		var pm []map[string]interface{}
		if err := json.Unmarshal([]byte(s), &pm); err != nil {
			die("bad CNI_PORTMAP: %v", err)
		}
		rt.CapabilityArgs["portMappings"] = pm
	}
	if s := os.Getenv("CNI_BANDWIDTH"); s != "" {
		var bw map[string]interface{}
		if err := json.Unmarshal([]byte(s), &bw); err != nil {
			die("bad CNI_BANDWIDTH: %v", err)
		}
		rt.CapabilityArgs["bandwidth"] = bw
	}

	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			die("add: %v", err)
		}
		if err := res.Print(); err != nil {
			die("printing result: %v", err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			die("check: %v", err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			die("del: %v", err)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func summary(file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		die("%v", err)
	}
	generic, err := types100.NewResult(data)
	if err != nil {
		die("parsing %s: %v", file, err)
	}
	res, err := types100.GetResult(generic)
	if err != nil {
		die("converting %s: %v", file, err)
	}
	fmt.Printf("cniVersion %s\n", res.CNIVersion)
	for i, ifc := range res.Interfaces {
		fmt.Printf("if %d %s %s %s\n", i, dash(ifc.Name), dash(ifc.Mac), dash(ifc.Sandbox))
	}
	for _, ip := range res.IPs {
		gw, idx := "-", "-"
		if ip.Gateway != nil {
			gw = ip.Gateway.String()
		}
		if ip.Interface != nil {
			idx = strconv.Itoa(*ip.Interface)
		}
		fmt.Printf("ip %s %s %s\n", ip.Address.String(), gw, idx)
	}
	for _, r := range res.Routes {
		gw := "-"
		if r.GW != nil {
			gw = r.GW.String()
		}
		fmt.Printf("route %s %s\n", r.Dst.String(), gw)
	}
}
