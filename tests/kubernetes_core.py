"""kubernetes.core for the tests that use it as users do (module_defaults for its k8s group).

Galaxy is out of reach here; PyPI's `ansible` package carries every collection of the Ansible community
package. Its wheel is downloaded once with pip (no install), only ansible_collections/kubernetes/core is
extracted to .cache/collections/ (git-ignored), and the wheel is thrown away. Pinned: ansible 12.3.0
carries kubernetes.core 6.2.0, which supports ansible-core 2.16 and later.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "ansible==12.3.0"
VERSION = "6.2.0"
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
PREFIX = "ansible_collections/kubernetes/core/"
DEST = os.path.join(COLLECTIONS, "ansible_collections", "kubernetes", "core")


def installed_version(dest=DEST):
    try:
        with open(os.path.join(dest, "MANIFEST.json")) as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure():
    """The collections path holding kubernetes.core VERSION (fetched on first use)."""
    if installed_version() == VERSION:
        return COLLECTIONS
    os.makedirs(os.path.dirname(DEST), exist_ok=True)
    work = tempfile.mkdtemp(prefix="kubernetes-core-", dir=os.path.dirname(DEST))
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--dest", work, PACKAGE], capture_output=True, text=True, timeout=600, check=False)
        wheels = [n for n in os.listdir(work) if n.endswith(".whl")]
        if proc.returncode != 0 or len(wheels) != 1:
            raise RuntimeError("pip download %s failed: %s" % (PACKAGE, proc.stderr[-2000:]))
        staged = os.path.join(work, "core")
        with zipfile.ZipFile(os.path.join(work, wheels[0])) as wheel:
            for name in wheel.namelist():
                if name.startswith(PREFIX) and not name.endswith("/"):
                    target = os.path.join(staged, name[len(PREFIX):])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with wheel.open(name) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        if installed_version(staged) != VERSION:
            raise RuntimeError("%s does not carry kubernetes.core %s" % (PACKAGE, VERSION))
        if installed_version() != VERSION:  # another test process may have finished first
            shutil.rmtree(DEST, ignore_errors=True)
            try:
                os.rename(staged, DEST)
            except OSError:
                if installed_version() != VERSION:
                    raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return COLLECTIONS
