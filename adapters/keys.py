"""Limit keys: which requests share one vendor quota (provider, endpoint, API key, model)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit


def key_fingerprint(api_key: str | None) -> str:
    """A short, non-reversible fingerprint of an API key (never the key itself)."""
    if not api_key:
        return "nokey"
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:10]


def split_model(model: str) -> tuple[str, str]:
    """(provider, model name) of a litellm-style model string; no prefix means ``openai``."""
    provider, sep, name = model.partition("/")
    return (provider, name) if sep else ("openai", model)


def make_limit_key(model: str, api_key: str | None, api_base: str | None) -> str:
    """``provider[@host]:keyfp:model``: the same for every adapter that reaches the same quota."""
    provider, name = split_model(model)
    if api_base:
        provider = f"{provider}@{urlsplit(api_base).netloc or api_base}"
    return f"{provider}:{key_fingerprint(api_key)}:{name}"
