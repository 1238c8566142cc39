"""Errors the converter raises for bad input; the CLI prints each on one line."""
from typing import Optional


class CheckpointError(Exception):
    """A problem with the arguments or the files (exit code 2); the message is one line.

    ``report`` carries the partial conversion report when there is one (for ``--report``).
    """

    exit_code = 2

    def __init__(self, message: str, report: Optional[dict] = None):
        super().__init__(" ".join(message.split()))
        self.report = report


class VerifyError(CheckpointError):
    """The converted model's logits differ from the source's (exit code 1); nothing is written."""

    exit_code = 1
