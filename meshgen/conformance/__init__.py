"""Offline conformance: every rendered object checked against Kubernetes' and Istio's own rules.

Layers, as the API server and istiod apply them: the strict JSON Schema converted from each CRD
(``schemas``), the CRD's CEL rules (``cel``), istiod's webhook semantics (``istio*``) and
ObjectMeta rules (``kube``). Schemas are read from the repo's ``schema/`` folder only.
"""

from meshgen.conformance.finding import ERROR, WARNING, Finding
from meshgen.conformance.lint import KubeconformNotFound, lint_tree, run_kubeconform, validate_resources
from meshgen.conformance.schemas import KUBECONFORM_TEMPLATE, SCHEMA_DIR
from meshgen.conformance.validate import LAYERS, validate_object, validate_values

__all__ = [
    "ERROR",
    "KUBECONFORM_TEMPLATE",
    "LAYERS",
    "SCHEMA_DIR",
    "WARNING",
    "Finding",
    "KubeconformNotFound",
    "lint_tree",
    "run_kubeconform",
    "validate_object",
    "validate_resources",
    "validate_values",
]
