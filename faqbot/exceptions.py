"""One small exception tree, so callers can catch everything of ours with ``FaqbotError``."""

from __future__ import annotations


class FaqbotError(Exception):
    """Base class of every error faqbot raises on purpose."""


class KnowledgeError(FaqbotError):
    """A knowledge file is wrong; the message names file, line and field and says what to do."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file or "<knowledge>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class KnowledgeErrors(KnowledgeError):
    """Several knowledge errors found in one load, reported together so an author fixes them in one go."""

    def __init__(self, errors: list[KnowledgeError]) -> None:
        self.errors = errors
        first = errors[0]
        FaqbotError.__init__(self, "\n".join(str(e) for e in errors))
        self.file, self.line, self.field, self.reason = first.file, first.line, first.field, first.reason


class ProtocolError(FaqbotError):
    """A client frame is malformed; ``code`` is sent back to the client in an error frame."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ConfigError(FaqbotError):
    """A setting from flags or environment is invalid."""
