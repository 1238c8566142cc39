"""The version of the ms-acmix distribution (read by pyproject.toml and both facades)."""
__version__ = "0.1.0"
