#!/usr/bin/env python
"""``acmix-benchmark`` from a checkout (``ms_acmix.cli.benchmark``):
time and memory against plain layers."""
import sys

from ms_acmix.cli.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
