// Command xdsprobe connects to istiod's plaintext xDS port as a given sidecar (pod IP, name, namespace,
// cluster, network) with Istio's own pkg/adsc client and prints what istiod would send that proxy:
// CDS cluster names and EDS endpoints (address, port, locality, network label, weight) as JSON.
// It stands in for an Envoy in the real lab: istiod computes the proxy's config from its identity.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	pstruct "google.golang.org/protobuf/types/known/structpb"

	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"
	istiolog "istio.io/istio/pkg/log"
)

type endpoint struct {
	Address  string `json:"address"`
	Port     uint32 `json:"port"`
	Locality string `json:"locality,omitempty"`
	Network  string `json:"network,omitempty"`
	Weight   uint32 `json:"weight,omitempty"`
	Health   string `json:"health"`
}

func main() {
	addr := flag.String("addr", "127.0.1.1:15010", "istiod plaintext xDS address")
	ip := flag.String("ip", "10.11.0.5", "the proxy's pod IP")
	ns := flag.String("namespace", "sample", "pod namespace")
	pod := flag.String("pod", "sleep-0", "pod name")
	clusterID := flag.String("cluster-id", "cluster1", "CLUSTER_ID metadata")
	network := flag.String("network", "", "NETWORK metadata")
	sa := flag.String("service-account", "default", "SERVICE_ACCOUNT metadata")
	timeout := flag.Duration("timeout", 15*time.Second, "wait for CDS+EDS")
	only := flag.String("cluster", "", "print endpoints of clusters containing this substring only")
	flag.Parse()
	// Istio's logger writes to stdout by default; keep stdout for the JSON answer.
	lo := istiolog.DefaultOptions()
	lo.OutputPaths = []string{"stderr"}
	lo.ErrorOutputPaths = []string{"stderr"}
	if err := istiolog.Configure(lo); err != nil {
		fail(err)
	}

	meta := map[string]any{
		"CLUSTER_ID":      *clusterID,
		"NAMESPACE":       *ns,
		"SERVICE_ACCOUNT": *sa,
		"INSTANCE_IPS":    *ip,
		"NAME":            *pod,
		"LABELS":          map[string]any{"app": *pod},
		"WORKLOAD_NAME":   *pod,
	}
	if *network != "" {
		meta["NETWORK"] = *network
	}
	m, err := pstruct.NewStruct(meta)
	if err != nil {
		fail(err)
	}
	cfg := &adsc.ADSConfig{
		Config: adsc.Config{ClientName: "xdsprobe", Namespace: *ns, Workload: *pod, IP: *ip, Meta: m,
			Locality: &core.Locality{}},
		InitialDiscoveryRequests: []*discovery.DiscoveryRequest{{TypeUrl: v3.ClusterType}},
	}
	c, err := adsc.New(*addr, cfg)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	if err := c.Run(); err != nil {
		fail(err)
	}
	t0 := time.Now()
	if _, err := c.Wait(*timeout, v3.ClusterType); err != nil {
		fail(fmt.Errorf("CDS: %v", err))
	}
	cdsAt := time.Since(t0)
	edsWanted := len(c.GetEdsClusters()) > 0
	if edsWanted {
		if _, err := c.Wait(*timeout, v3.EndpointType); err != nil {
			fail(fmt.Errorf("EDS: %v", err))
		}
	}
	out := map[string]any{"cds_ms": cdsAt.Milliseconds(), "eds_ms": time.Since(t0).Milliseconds()}
	var names []string
	for n := range c.GetClusters() {
		names = append(names, n)
	}
	for n := range c.GetEdsClusters() {
		names = append(names, n)
	}
	sort.Strings(names)
	out["clusters"] = names
	eps := map[string][]endpoint{}
	for name, cla := range c.GetEndpoints() {
		if *only != "" && !strings.Contains(name, *only) {
			continue
		}
		list := []endpoint{}
		for _, le := range cla.Endpoints {
			loc := ""
			if le.Locality != nil {
				loc = le.Locality.Region + "/" + le.Locality.Zone + "/" + le.Locality.SubZone
			}
			for _, lb := range le.LbEndpoints {
				e := endpoint{Locality: loc, Health: lb.HealthStatus.String()}
				if lb.LoadBalancingWeight != nil {
					e.Weight = lb.LoadBalancingWeight.Value
				}
				if sa := lb.GetEndpoint().GetAddress().GetSocketAddress(); sa != nil {
					e.Address, e.Port = sa.Address, sa.GetPortValue()
				}
				if md := lb.Metadata.GetFilterMetadata()["istio"]; md != nil {
					if v, ok := md.Fields["network"]; ok {
						e.Network = v.GetStringValue()
					}
				}
				list = append(list, e)
			}
		}
		eps[name] = list
	}
	out["endpoints"] = eps
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "xdsprobe:", err)
	os.Exit(1)
}
