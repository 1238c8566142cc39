"""The one exception the export path raises: a sentence naming the argument, op or node."""


class ExportError(Exception):
    """A model/format combination that cannot be exported, or an export that failed a check."""
