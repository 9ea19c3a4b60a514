"""The one token estimate, used before a call (limits, budget, ``--estimate``) and after a call
whose vendor reported no usage.

About one token per three characters: close for English, low for Chinese, where a character is
often a token; the completion allowance (the request's ``max_tokens``, which vendors such as Azure
count against the limit up front) is what keeps a request's estimate on the high side.
"""

from __future__ import annotations

DEFAULT_COMPLETION_TOKENS = 512
"""Completion allowance when a request sets no ``max_tokens``."""


def text_tokens(text: str) -> int:
    """Estimated tokens of one text (a prompt or an answer)."""
    return len(text) // 3 + 1


def request_tokens(
    prompt: str, max_tokens: int | None, *, default_completion: int = DEFAULT_COMPLETION_TOKENS
) -> int:
    """Tokens a request may use at most: its prompt plus its completion allowance."""
    return text_tokens(prompt) + (max_tokens if max_tokens is not None else default_completion)
