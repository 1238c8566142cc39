#!/usr/bin/env python
"""``acmix-eval`` from a checkout (``ms_acmix.cli.evaluate``):
top-1/top-5 on an image folder."""
import sys

from ms_acmix.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
