"""The optional C kernel of the PyTorch local attention (torch_ref/models/_csrc); the rest of the
package is described in pyproject.toml. Without a C compiler the build skips the kernel and
torch_ref uses its pure-PyTorch path (torch_ref/models/attention_kernel.py)."""
import sys

from setuptools import Extension, setup

# Portable code only: -O3 and OpenMP SIMD pragmas (no OpenMP runtime); the kernel picks AVX-512,
# AVX2 or baseline x86-64 code at load time (GCC target_clones), never -march=native.
UNIX_FLAGS = ["-O3", "-std=gnu11", "-fopenmp-simd", "-pthread"]

setup(ext_modules=[Extension(
    "torch_ref.models._local_attention_cpu",
    sources=["torch_ref/models/_csrc/local_attention.c"],
    depends=["torch_ref/models/_csrc/local_attention_body.h"],
    extra_compile_args=[] if sys.platform == "win32" else UNIX_FLAGS,
    extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
    optional=True)])
