#!/usr/bin/env python
"""``acmix-digits`` from a checkout (``ms_acmix.cli.digits``):
the bundled digits as an image folder."""
import sys

from ms_acmix.cli.digits import main

if __name__ == "__main__":
    sys.exit(main())
