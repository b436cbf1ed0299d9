"""One exception type for everything a user can get wrong.

The CLI turns a :class:`UsiInputError` into one line on stderr and exit code 2, so every
reader and validator raises it with the file (and line or session) at fault instead of
letting a traceback reach the user.
"""

from __future__ import annotations

from pathlib import Path


class UsiInputError(Exception):
    """Bad input: names the file, the place in it, and what is wrong."""

    def __init__(self, message: str, path: str | Path | None = None, where: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.where = where
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The single line the CLI prints: ``file:where: problem``."""
        location = ""
        if self.path:
            location = self.path
            if self.where:
                location += f":{self.where}"
            location += ": "
        elif self.where:
            location = f"{self.where}: "
        text = " ".join(self.message.split())
        return f"{location}{text}"
