"""The ``hf`` critic: a local transformers causal LM as judge (Octopus-SEval format by default).

Octopus-SEval format (``prompt_format="chat"``): the prompt is the user turn and the response the
assistant turn of the model's own chat template, followed by its generation prompt and the
configured ``generation_prefix``. The judge's FIRST generated token is its verdict.

Score: the next-token distribution is read at the last position and renormalised over the label
tokens only: ``P(t) = exp(l_t) / sum_j exp(l_j)`` for the tokens ``j`` of ``label_map``. The risk
score is the mass of the tokens labelled unsafe; for the two-token Octopus map this is exactly
``1 - P(safe)``. With a multi-token map (XGuard-style category ids as first tokens) it is the mass of
every unsafe category, and the tags are those of the most probable unsafe token. The label is unsafe
when the score reaches ``threshold``.

Optional short generation (``explanation_tokens > 0``) continues greedily after the chosen label token
and keeps the text of ``<explanation>...</explanation>`` when the judge writes one.

Both texts are untrusted. In chat format they go in exactly as the judge was trained on them, raw;
only the tokenizer's special tokens inside them are broken (``fencing.SpecialTokenGuard``), so
neither can close a turn, and for texts without special tokens the token ids equal
``apply_chat_template`` on the raw messages. Fences and entity escaping (``fencing.Fence``,
``Escaper``) are only for ``prompt_format="template"``, whose instructions can name the markers.
torch and transformers are imported only when this backend loads; forward passes run in a worker
thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.critic_wire import DIMENSION_IDS, CritiqueItemIn, LabelText
from core.types import stable_hash
from critic_server.backends.base import Judgement
from critic_server.fencing import Escaper, Fence, SpecialTokenGuard

_EXPLANATION = re.compile(r"<explanation>(.*?)(?:</explanation>|$)", re.DOTALL)


class LabelRule(BaseModel):
    """What a first token means: a label, and the taxonomy tags it carries when unsafe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: LabelText = Field(description="Label this first token stands for.")
    tags: tuple[str, ...] = Field(default=(), description="Taxonomy ids reported when this token wins.")


def _octopus_labels() -> dict[str, LabelRule]:
    return {"safe": LabelRule(label="safe"), "unsafe": LabelRule(label="unsafe")}


class HFJudgeConfig(BaseModel):
    """Settings of a transformers judge model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Local directory of the model and its tokenizer (nothing is downloaded).")
    name: str | None = Field(
        default=None, description="Critic name stored with verdicts (default hf:<dir name>)."
    )
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="Where the model runs.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="Weights dtype (auto: float32 on CPU, bfloat16 on CUDA)."
    )
    prompt_format: Literal["chat", "template"] = Field(
        default="chat",
        description="chat: prompt as user turn, response as assistant turn (Octopus-SEval); "
        "template: one user turn rendered from `template`.",
    )
    template: str | None = Field(
        default=None,
        description="For prompt_format=template: text with {prompt}, {response} and {lang}; the first two "
        "are replaced by the fenced, escaped texts.",
    )
    system_prompt: str | None = Field(default=None, description="Optional system turn placed first.")
    generation_prefix: str = Field(
        default="", description="Text appended after the template's generation prompt."
    )
    label_map: dict[str, LabelRule] = Field(
        default_factory=_octopus_labels,
        description="First-token text -> label (and tags); each must be one token.",
    )
    threshold: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Risk score at which the label is unsafe."
    )
    explanation_tokens: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="Greedy tokens generated after the label for an explanation (0: none).",
    )
    max_prompt_tokens: int = Field(
        default=1024, ge=8, description="The prompt is clipped to this many tokens."
    )
    max_response_tokens: int = Field(
        default=2048, ge=8, description="The response is clipped to this many tokens."
    )

    @model_validator(mode="after")
    def _check(self) -> HFJudgeConfig:
        if self.prompt_format == "template" and not self.template:
            raise ValueError("prompt_format 'template' needs `template`")
        if not self.label_map:
            raise ValueError("label_map must name at least one first token")
        if not any(r.label == "safe" for r in self.label_map.values()):
            raise ValueError("label_map needs at least one token labelled safe")
        for text, rule in self.label_map.items():
            unknown = [t for t in rule.tags if t.split(".")[0] not in DIMENSION_IDS]
            if unknown:
                raise ValueError(f"label_map[{text!r}]: unknown taxonomy ids {unknown}")
        return self


class HFBackend:
    """A loaded transformers judge. Build with ``await HFBackend.load(config)``."""

    def __init__(self, config: HFJudgeConfig, model: Any, tokenizer: Any, version: str) -> None:
        import torch

        self._config = config
        self._model = model
        self._tok = tokenizer
        self._version = version
        self._torch = torch
        self._device = torch.device(config.device)
        label_texts = list(config.label_map)
        ids: list[int] = []
        for text in label_texts:
            enc = tokenizer.encode(text, add_special_tokens=False)
            if len(enc) != 1:
                raise ValueError(
                    f"label token {text!r} is {len(enc)} tokens for this tokenizer; it must be one"
                )
            ids.append(enc[0])
        self._label_texts = label_texts
        self._label_ids = ids
        self._unsafe_mask = [config.label_map[t].label == "unsafe" for t in label_texts]
        specials = set(getattr(tokenizer, "all_special_tokens", []) or [])
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        self._guard = SpecialTokenGuard(
            specials | {t.content for t in added.values() if getattr(t, "special", False)}
        )
        specials |= set((tokenizer.get_added_vocab() or {}).keys()) - set(label_texts)
        self._escaper = Escaper(specials)

    @classmethod
    async def load(cls, config: HFJudgeConfig) -> HFBackend:
        """Load model and tokenizer from the local directory (in a worker thread)."""
        return await asyncio.to_thread(cls._load_sync, config)

    @classmethod
    def _load_sync(cls, config: HFJudgeConfig) -> HFBackend:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        path = Path(config.model)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"hf backend: no model at {path} (config.json missing); nothing is downloaded"
            )
        dtype = {
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
            "auto": torch.bfloat16 if config.device == "cuda" else torch.float32,
        }[config.dtype]
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        model.to(config.device)  # type: ignore[arg-type]
        model.eval()  # type: ignore[no-untyped-call]
        config_json = (path / "config.json").read_text(encoding="utf-8")
        fingerprint = [
            config_json,
            sorted(
                (p.name, p.stat().st_size) for p in path.iterdir() if p.suffix in {".safetensors", ".bin"}
            ),
            getattr(tokenizer, "chat_template", None),
            config.model_dump(mode="json", exclude={"model", "device", "dtype", "name"}),
        ]
        version = (
            f"{json.loads(config_json).get('model_type', 'model')}-{stable_hash(*fingerprint, length=12)}"
        )
        return cls(config, model, tokenizer, version)

    @property
    def kind(self) -> str:
        """Backend kind."""
        return "hf"

    @property
    def critic_name(self) -> str:
        """Critic name stored with each verdict."""
        return self._config.name or f"hf:{Path(self._config.model).name}"

    @property
    def version(self) -> str:
        """Model type plus a hash of its config, weight sizes, chat template and judge settings."""
        return self._version

    @property
    def model(self) -> str:
        """The model directory."""
        return self._config.model

    @property
    def threshold(self) -> float:
        """Risk score at which the label is unsafe."""
        return self._config.threshold

    @property
    def micro_batched(self) -> bool:
        """Forward passes are batched: coalesce concurrent requests."""
        return True

    def _clip(self, text: str, max_tokens: int) -> str:
        ids = self._tok.encode(text, add_special_tokens=False)
        if len(ids) <= max_tokens:
            return text
        return str(self._tok.decode(ids[:max_tokens])) + " [truncated]"

    def build_prompt(self, item: CritiqueItemIn, fence: Fence) -> str:
        """The exact text the judge reads for ``item`` (its verdict is the next token).

        Chat format: the raw prompt as user turn, the raw response as assistant turn (special tokens
        broken, nothing else changed; ``fence`` unused). Template format: both fenced and escaped.
        """
        cfg = self._config
        prompt_text = self._clip(item.prompt, cfg.max_prompt_tokens)
        response_text = self._clip(item.response, cfg.max_response_tokens)
        messages: list[dict[str, str]] = []
        if cfg.system_prompt:
            messages.append({"role": "system", "content": cfg.system_prompt})
        if cfg.prompt_format == "chat":
            messages += [
                {"role": "user", "content": self._guard.neutralize(prompt_text)},
                {"role": "assistant", "content": self._guard.neutralize(response_text)},
            ]
        else:
            prompt = fence.wrap("PROMPT", prompt_text, self._escaper)
            response = fence.wrap("RESPONSE", response_text, self._escaper)
            assert cfg.template is not None
            text = cfg.template.replace("{lang}", item.lang).replace("{prompt}", prompt)
            messages.append({"role": "user", "content": text.replace("{response}", response)})
        rendered = self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return str(rendered) + cfg.generation_prefix

    def score_prompts(self, prompts: Sequence[str]) -> list[list[float]]:
        """Per prompt, the label tokens' probabilities (renormalised over the label tokens), batched."""
        torch = self._torch
        enc = self._tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self._device) for k, v in enc.items()}
        with torch.inference_mode():
            logits = self._model(**enc).logits[:, -1, :]
        label_logits = logits[:, self._label_ids].float()
        probs = torch.softmax(label_logits, dim=-1)
        return [[float(p) for p in row] for row in probs.cpu()]

    def _explanations(self, prompts: Sequence[str], label_ids: Sequence[int]) -> list[str]:
        torch = self._torch
        enc = self._tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
        first = torch.tensor([[i] for i in label_ids], dtype=enc["input_ids"].dtype)
        input_ids = torch.cat([enc["input_ids"], first], dim=1).to(self._device)
        mask = torch.cat([enc["attention_mask"], torch.ones_like(first)], dim=1).to(self._device)
        with torch.inference_mode():
            out = self._model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=self._config.explanation_tokens,
                do_sample=False,
                pad_token_id=self._tok.pad_token_id,
            )
        texts = self._tok.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True)
        found = [_EXPLANATION.search(t) for t in texts]
        return [m.group(1).strip() if m else "" for m in found]

    def _judge_sync(self, items: Sequence[CritiqueItemIn]) -> list[Judgement]:
        prompts = [self.build_prompt(item, Fence.new()) for item in items]
        probs = self.score_prompts(prompts)
        threshold = self._config.threshold
        results: list[tuple[LabelText, float, tuple[str, ...], int, str]] = []
        for row in probs:
            score = sum(p for p, unsafe in zip(row, self._unsafe_mask, strict=True) if unsafe)
            label: LabelText = "unsafe" if score >= threshold else "safe"
            best = max(
                (i for i in range(len(row)) if self._unsafe_mask[i] == (label == "unsafe")),
                key=lambda i: row[i],
            )
            text = self._label_texts[best]
            shown = ", ".join(f"P({t})={p:.3f}" for t, p in zip(self._label_texts, row, strict=True))
            tags = self._config.label_map[text].tags if label == "unsafe" else ()
            results.append((label, score, tags, self._label_ids[best], f"first token {text!r}; {shown}"))
        explanations = (
            self._explanations(prompts, [r[3] for r in results])
            if self._config.explanation_tokens > 0
            else [""] * len(results)
        )
        return [
            Judgement(
                label=label,
                risk_score=round(min(1.0, max(0.0, score)), 6),
                risk_tags=tags,
                explanation=f"{expl} ({summary})" if expl else summary,
            )
            for (label, score, tags, _, summary), expl in zip(results, explanations, strict=True)
        ]

    async def judge(self, items: Sequence[CritiqueItemIn]) -> list[Judgement]:
        """Judge one batch (a forward pass, plus generation when explanations are on)."""
        return await asyncio.to_thread(self._judge_sync, items)

    async def aclose(self) -> None:
        """Drop the model (frees GPU memory when on CUDA)."""
        self._model = None
        if self._config.device == "cuda":
            self._torch.cuda.empty_cache()
