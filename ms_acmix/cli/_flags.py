"""Library errors in a command's words.

The library names what an error is about by its parameter, as Python writes it
(``path='w.pth' does not exist``, ``model_kwargs={'k_att': 4}: ...``, ``ema=True: ...``). Each
command owns one table from those words to its flags and applies it where it prints an error:
``{"path=": "--checkpoint=", "ema=True": "--ema"}`` turns ``ema=True: path='w.pth' has no EMA
copy`` into ``--ema: --checkpoint='w.pth' has no EMA copy``. The value stays as the library
wrote it.
"""
import re
from typing import Mapping


def in_flags(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with every word of ``flags`` replaced by its flag; a word matches only where
    it starts a name (``name=`` is not rewritten inside ``model_name=`` or ``data.name=``)."""
    for word, flag in flags.items():
        end = r"(?!\w)" if word[-1].isalnum() else ""
        message = re.sub(rf"(?<![\w.-]){re.escape(word)}{end}", flag.replace("\\", r"\\"),
                         message)
    return message
