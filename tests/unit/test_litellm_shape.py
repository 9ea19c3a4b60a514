"""The litellm internals the litellm adapter's stream observer relies on are still in place.

litellm offers no supported hook for raw stream events, so ``adapters.litellm_adapter`` reads
``CustomStreamWrapper`` attributes, the provider iterators' ``chunk_parser`` and the Bedrock
decoder bound in ``AWSEventStreamDecoder.aiter_bytes``. Upgrading litellm past a change there
fails here (and the adapter refuses to build) instead of silently losing stream classification.
"""

from __future__ import annotations

import pytest

from adapters import litellm_adapter
from adapters.litellm_adapter import LiteLLMAdapter, LiteLLMShapeError, litellm_shape_problems


def test_installed_litellm_has_the_internals_the_adapter_observes() -> None:
    assert litellm_shape_problems() == ()
    LiteLLMAdapter(model="openai/gpt-4o")  # builds: the check passed


def test_a_changed_shape_refuses_to_build_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = ("bedrock AWSEventStreamDecoder.chunk_parser(chunk_data=...) is gone",)
    monkeypatch.setattr(litellm_adapter, "litellm_shape_problems", lambda: moved)
    with pytest.raises(
        LiteLLMShapeError, match=r"changed internals .*chunk_parser\(chunk_data=\.\.\.\) is gone"
    ):
        LiteLLMAdapter(model="openai/gpt-4o")
