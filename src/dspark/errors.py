"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class DSparkError(Exception):
    """Bad input from the user (unknown target, corrupt weights, prompt too long, ...)."""


def require_text(text: str, what: str = "the prompt") -> str:
    """The one rule for empty input, in every entry point (`dspark generate`, both HTTP endpoints,
    eval and bench prompts): a prompt must hold some text other than whitespace. An empty prompt
    would make the model answer a chat template or a bare BOS token: output nobody asked for."""
    if not text.strip():
        raise DSparkError(f"{what} is empty: give some text to answer or continue")
    return text
