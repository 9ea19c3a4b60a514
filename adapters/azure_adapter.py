"""Lean adapter for Azure OpenAI chat completions (deployment URLs, ``api-version``, ``api-key``).

The wire is OpenAI's, so the body and the readers are ``adapters.openai_adapter``'s; what differs
is the address (``{api_base}/openai/deployments/{deployment}/chat/completions?api-version=...``),
the ``api-key`` header, and Azure's two content-filter shapes, which the shared classification
already tells apart: a 400 ``content_filter`` whose ``innererror`` carries
``ResponsibleAIPolicyViolation`` and ``content_filter_result`` (the prompt was filtered), and a
200 whose choice ends with ``finish_reason: content_filter`` and ``content_filter_results`` (the
answer was), streamed or not. Their categories are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from adapters.fast_transport import FastAdapter, StreamState
from adapters.keys import make_limit_key, split_model
from adapters.openai_adapter import chat_body, read_chat_body, read_chat_stream, split_extra
from adapters.outcomes import Classified
from core.redaction import Redactor
from core.types import ChatRequest

if TYPE_CHECKING:
    from adapters.fast_transport import ClientPool
    from adapters.registry import AdapterTarget


DEFAULT_API_VERSION = "2024-10-21"
"""The GA ``api-version`` used when a target names none."""


class AzureOpenAIAdapter(FastAdapter):
    """``TargetAdapter`` for one Azure OpenAI deployment (``model="azure/<deployment>"``).

    ``api_base`` is the resource endpoint (``https://NAME.openai.azure.com``); it is required, as
    Azure has no shared public endpoint. The limit key is the litellm adapter's for the same
    target (Azure limits are per deployment).
    """

    adapter_name = "azure"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        api_base: str | None = None,
        api_version: str | None = None,
        redactor: Redactor | None = None,
        extra_params: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(session)
        if not api_base:
            raise ValueError(f"model {model!r}: Azure OpenAI needs api_base (https://NAME.openai.azure.com)")
        self._extra, extra_headers = split_extra(extra_params)
        _, deployment = split_model(model)
        version = quote(api_version or DEFAULT_API_VERSION, safe="")
        self._chat_url = (
            f"{api_base.rstrip('/')}/openai/deployments/{quote(deployment, safe='')}"
            f"/chat/completions?api-version={version}"
        )
        self._limit_key = make_limit_key(model, api_key, api_base)
        self._redactor = redactor or Redactor([api_key] if api_key else [])
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            self._headers["api-key"] = api_key
        self._headers.update(extra_headers)

    def _url(self, request: ChatRequest) -> str:
        return self._chat_url

    def _body(self, request: ChatRequest) -> bytes:
        return chat_body(self._extra, request, None)  # the deployment in the URL names the model

    def _read_body(self, raw: bytes, state: StreamState) -> Classified:
        return read_chat_body(raw, state)

    async def _read_stream(
        self, response: aiohttp.ClientResponse, state: StreamState, request: ChatRequest, start: float
    ) -> Classified:
        return await read_chat_stream(response, state, request, start, self._redactor)


def create(target: AdapterTarget, shared: ClientPool | None) -> AzureOpenAIAdapter:
    """The registry's factory: an adapter on ``shared``'s session for its resource endpoint."""
    base = target.api_base
    return AzureOpenAIAdapter(
        model=target.model,
        api_key=target.api_key,
        api_base=base,
        api_version=target.api_version,
        redactor=target.redactor,
        extra_params=target.extra_params(),
        session=shared.session_for(base) if shared is not None and base else None,
    )
