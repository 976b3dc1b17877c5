import os
import sys

# fixtures.py sits beside the tests.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
