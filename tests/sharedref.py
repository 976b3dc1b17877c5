"""Where the project's shared reference material is: `../shared` beside the repo (as on every
developer machine and in CI), or $MESHMEND_SHARED."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("MESHMEND_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
REFERENCE = os.path.join(SHARED, "reference")
