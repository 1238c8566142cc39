#!/usr/bin/env python
"""``acmix-convert`` from a checkout (``ms_acmix.cli.convert``):
checkpoints between PyTorch and MindSpore."""
import sys

from ms_acmix.cli.convert import main

if __name__ == "__main__":
    sys.exit(main())
