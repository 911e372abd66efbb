"""The one error type a user can cause; the CLI prints it as one line and exits 2."""


class UserError(ValueError):
    """Bad input from a user: a flag, a file, a field. The message says what and what is accepted."""
