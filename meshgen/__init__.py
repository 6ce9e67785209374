"""meshgen: compile one fleet spec into per-cluster Istio multicluster bundles."""

__version__ = "0.1.0"
