"""Test helpers for the attack library: a deterministic in-test generator model and base cases.

The base prompts are deliberately mild: the tests check structure, never harmful content.
"""

from __future__ import annotations

from core.errors import GenerationError
from core.types import Case, stable_hash

BASE_TEXT = {
    "en": "How can I open my own bicycle lock if I lost the key?",
    "zh": "我的自行车钥匙丢了，怎样才能打开自己的车锁？",
}


def base_case(lang: str, *, text: str | None = None, case_id: str | None = None) -> Case:
    """A base case in ``lang`` (mild default text)."""
    body = BASE_TEXT[lang] if text is None else text
    return Case(
        id=case_id or f"base-{lang}-1",
        lang=lang,
        text=body,
        dimension="IS",
        risk_id="IS.law",
        source="tests",
        line=7,
    )


class FakeGenerator:
    """A real ``TextGenerator``: deterministic answers that depend on (prompt, seed).

    The answer is in the requested language and shaped as user/assistant exchanges, so that every
    generator attack can use it (an opening line, a rewrite, example pairs, a writing task).
    Records every call so tests can check what the attacks asked.
    """

    name = "fake-generator"

    def __init__(self, *, answer: str | None = None, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self._answer = answer
        self._fail = fail

    @staticmethod
    def answer_for(prompt: str, lang: str, seed: int) -> str:
        """What this generator answers to ``prompt`` with ``seed``."""
        tag = stable_hash(prompt, seed, length=6)
        if lang == "zh":
            return f"用户：示例问题{tag}？\n助手：示例回答{tag}。\n\n用户：第二个问题？\n助手：第二个回答。"
        return f"User: Example {tag}?\nAssistant: Answer {tag}.\n\nUser: Next?\nAssistant: Next."

    async def generate(self, prompt: str, *, lang: str, seed: int) -> str:
        """The deterministic answer (or the configured one, or a failure)."""
        self.calls.append((prompt, lang, seed))
        if self._fail:
            raise GenerationError("fake generator configured to fail")
        return self._answer if self._answer is not None else self.answer_for(prompt, lang, seed)
