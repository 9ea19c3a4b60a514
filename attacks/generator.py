"""``AdapterGenerator``: a ``TextGenerator`` that asks any ``TargetAdapter`` (the same adapter
layer as targets) for a completion.

It makes exactly one attempt per call: retries and rate limits belong to the caller's policy
layer, as for targets. Anything but a COMPLETED, non-empty answer raises ``GenerationError``
carrying the outcome and the vendor's code (the adapter has already redacted its error text).
"""

from __future__ import annotations

from dataclasses import replace

from core.errors import GenerationError
from core.protocols import TargetAdapter
from core.types import ChatRequest, Decoding, Outcome

DEFAULT_GENERATOR_DECODING = Decoding(temperature=0.7, max_tokens=1024)


class AdapterGenerator:
    """Generator model (Mt) behind a target adapter.

    ``label`` names the model in provenance (e.g. the litellm model string); ``decoding`` sets the
    sampling parameters, and the attack's derived seed is sent with each request when
    ``send_seed`` is true (turn it off for vendors that reject a ``seed`` parameter).
    """

    def __init__(
        self,
        adapter: TargetAdapter,
        *,
        label: str,
        decoding: Decoding = DEFAULT_GENERATOR_DECODING,
        send_seed: bool = True,
        system: str | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self._adapter = adapter
        self._decoding = decoding
        self._send_seed = send_seed
        self._system = system
        self._timeout_s = timeout_s
        self.name = f"{adapter.name}:{label}"

    async def generate(self, prompt: str, *, lang: str, seed: int) -> str:
        """The model's completion of ``prompt`` (``lang`` is implied by the prompt's language)."""
        decoding = replace(self._decoding, seed=seed) if self._send_seed else self._decoding
        request = ChatRequest(
            prompt=prompt, decoding=decoding, stream=False, system=self._system, timeout_s=self._timeout_s
        )
        result = await self._adapter.send(request)
        if result.outcome is not Outcome.COMPLETED:
            detail = result.error or result.finish_reason or "no detail"
            code = result.vendor_code or "none"
            status = result.status_code or "none"
            raise GenerationError(
                f"generator {self.name} ended {result.outcome.value} "
                f"(vendor code {code}, status {status}): {detail}"
            )
        if not result.text.strip():
            raise GenerationError(f"generator {self.name} returned an empty completion")
        return result.text

    async def aclose(self) -> None:
        """Close the underlying adapter."""
        await self._adapter.aclose()
