"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class DSparkError(Exception):
    """Bad input from the user (unknown target, corrupt weights, prompt too long, ...)."""
