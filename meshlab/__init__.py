"""meshlab: Kubernetes API servers on loopback (one per cluster) plus a model of Istio. See README.md."""
