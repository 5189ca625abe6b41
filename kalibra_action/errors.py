"""Errors that end a run with a one-line message, and the exit codes."""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_GATE_FAILED = 1
EXIT_INPUT_ERROR = 2


class InputError(Exception):
    """Bad input (trace, config, gate, usage): one line naming the file and line; exit code 2."""

    exit_code = EXIT_INPUT_ERROR

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line is not None else "")
            where += ": "
        key = f"{self.key}: " if self.key else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{key}{self.message}{hint}".replace("\n", " ")
