#!/usr/bin/env python
"""``acmix-train`` from a checkout (``ms_acmix.cli.train``):
one training worker; msrun starts several."""
import sys

from ms_acmix.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
