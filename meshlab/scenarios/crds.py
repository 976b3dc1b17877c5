"""Istio's CustomResourceDefinitions: the real ones, with their openAPIV3Schema (the API server validates Istio
resources against them, as a real cluster does).

The data is `_common/istio-crds.json` (istio/istio manifests/charts/base/files/crd-all.gen.yaml as a JSON List;
provenance in `_common/README.md`); every bundled scenario's `<cluster>/00-istio-crds.json` is a symlink to it.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CRDS_FILE = os.path.join(HERE, "_common", "istio-crds.json")
_CACHE = []


def istio_crds():
    """The CRD documents (parsed once per process; callers must not change them)."""
    if not _CACHE:
        with open(CRDS_FILE, encoding="utf-8") as f:
            _CACHE.extend(json.load(f)["items"])
    return _CACHE


def crd_for(kind, group="networking.istio.io"):
    for d in istio_crds():
        if d["spec"]["group"] == group and d["spec"]["names"]["kind"] == kind:
            return d
    return None
