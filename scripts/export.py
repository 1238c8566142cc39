#!/usr/bin/env python
"""Export a model to ONNX (either framework) or MINDIR (MindSpore); see --help."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from model_export.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
