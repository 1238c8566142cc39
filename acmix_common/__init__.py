"""Framework-neutral pieces shared by ``torch_ref`` and ``ms_acmix``.

Nothing here imports torch or MindSpore: argument checks (so both frameworks raise the same
``ValueError``), the architecture table of every registered variant, the model registry and the
one parameter-name map between the two frameworks.
"""
