"""The console commands (``acmix-train``, ``acmix-convert``, ...): one module each with ``main()``,
the only place that maps library errors to flags and exit codes. ``scripts/*.py`` call them."""
