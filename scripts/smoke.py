#!/usr/bin/env python
"""``acmix-smoke`` from a checkout (``ms_acmix.cli.smoke``):
every model forwarded in both frameworks."""
import sys

from ms_acmix.cli.smoke import main

if __name__ == "__main__":
    sys.exit(main())
