#!/usr/bin/env python
"""``acmix-export`` from a checkout (``ms_acmix.cli.export``):
ONNX or MINDIR."""
import sys

from ms_acmix.cli.export import main

if __name__ == "__main__":
    sys.exit(main())
