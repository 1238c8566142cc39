#!/usr/bin/env python
"""Convert ACmix checkpoints between PyTorch and MindSpore; see ``--help``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ckpt_convert.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
