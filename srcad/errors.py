"""Errors srcad raises on purpose, each naming the user's file, line and construct."""


class SrcadError(Exception):
    """Base class of every error srcad raises on purpose.

    ``filename``, ``lineno`` and ``source_line`` locate the user's code that
    caused it (any of them may be None when no location applies).
    """

    def __init__(self, message, filename=None, lineno=None, source_line=None):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.source_line = source_line
        super().__init__(self._format())

    def _format(self):
        if self.filename is None:
            return self.message
        text = f"{self.filename}:{self.lineno}: {self.message}"
        if self.source_line:
            text += f"\n    {self.source_line.strip()}"
        return text


class UnsupportedSyntaxError(SrcadError):
    """A construct the transformer does not handle."""


class NoDerivativeError(SrcadError):
    """A call on an active value with no rule and no source to differentiate."""
