"""Shared pytest setup: make the collection importable as ansible_collections.meshmend.multicluster."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "meshmend", "multicluster")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), LINK)
TESTS = os.path.join(ROOT, "tests")
for path in (TESTS, COLLECTIONS, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)
