"""Contract tests over EVERY registered attack (built-ins and installed plugins), in both languages.

Parametrized from the registry, so a new attack is covered without touching this file. Attacks
that need a generator run twice: with an in-test generator model and with the template fallback.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from attack_helpers import BASE_TEXT, FakeGenerator, base_case

from attacks.base import (
    GENERATOR_FALLBACK,
    GENERATOR_NONE,
    PROVENANCE_KEYS,
    RecoverableAttack,
    RecoveryKind,
    TemplateFallback,
    attacked_case_id,
)
from attacks.errors import AttackError, GeneratorRequiredError
from attacks.registry import SEVAL_ATTACKS, list_attacks
from attacks.template_data import has_cjk
from core.protocols import Attack, TextGenerator
from core.types import CaseKind

ATTACKS = list_attacks()
LANGS = ("en", "zh")


def _modes(attack: Attack) -> list[str]:
    return ["generator", "fallback"] if attack.needs_generator else ["plain"]


CASES = [
    pytest.param(attack, lang, mode, id=f"{attack.name}-{lang}-{mode}")
    for attack in ATTACKS
    for lang in LANGS
    if lang in attack.languages
    for mode in _modes(attack)
]


def _generator(mode: str) -> TextGenerator | None:
    if mode == "generator":
        return FakeGenerator()
    if mode == "fallback":
        return TemplateFallback()
    return None


def test_registry_has_the_ten_seval_attacks_in_both_languages() -> None:
    names = {a.name for a in ATTACKS}
    assert set(SEVAL_ATTACKS) <= names
    for attack in ATTACKS:
        if attack.name in SEVAL_ATTACKS:
            assert set(attack.languages) == {"zh", "en"}
            assert attack.description
            assert attack.version


@pytest.mark.parametrize(("attack", "lang", "mode"), CASES)
async def test_deterministic_under_a_seed(attack: Attack, lang: str, mode: str) -> None:
    case = base_case(lang)
    first = await attack.apply(case, seed=11, generator=_generator(mode))
    second = await attack.apply(case, seed=11, generator=_generator(mode))
    assert first == second


@pytest.mark.parametrize(("attack", "lang", "mode"), CASES)
async def test_different_seeds_vary(attack: Attack, lang: str, mode: str) -> None:
    case = base_case(lang)
    outputs = [(await attack.apply(case, seed=seed, generator=_generator(mode)))[0] for seed in range(40)]
    assert len({o.text for o in outputs}) > 1
    if mode != "generator":
        assert len({o.provenance_dict()["template_id"] for o in outputs}) > 1


@pytest.mark.parametrize(("attack", "lang", "mode"), CASES)
async def test_case_fields_and_provenance(attack: Attack, lang: str, mode: str) -> None:
    case = base_case(lang)
    outputs = await attack.apply(case, seed=5, generator=_generator(mode))
    assert outputs
    for out in outputs:
        assert out.kind is CaseKind.ATTACK
        assert out.attack == attack.name
        assert out.parent_id == case.id
        assert (out.lang, out.dimension, out.risk_id) == (case.lang, case.dimension, case.risk_id)
        assert out.id == attacked_case_id(case.id, attack.name, attack.version, out.text)
        assert out.id.startswith(f"{attack.name}-")
        prov = out.provenance_dict()
        assert [k for k, _ in out.provenance[: len(PROVENANCE_KEYS)]] == list(PROVENANCE_KEYS)
        assert all(prov[k] for k in PROVENANCE_KEYS)
        assert prov["attack"] == attack.name
        assert prov["version"] == attack.version
        assert prov["parent_id"] == case.id
        assert prov["lang"] == lang
        assert prov["seed"] == "5"
        expected_generator = {
            "generator": FakeGenerator.name,
            "fallback": GENERATOR_FALLBACK,
            "plain": GENERATOR_NONE,
        }[mode]
        assert prov["generator"] == expected_generator


@pytest.mark.parametrize(("attack", "lang", "mode"), CASES)
async def test_language_preserved_and_output_non_empty(attack: Attack, lang: str, mode: str) -> None:
    (out,) = await attack.apply(base_case(lang), seed=3, generator=_generator(mode))
    assert out.text.strip()
    assert out.text != BASE_TEXT[lang]
    if lang == "zh":
        assert has_cjk(out.text)
    else:
        assert not has_cjk(out.text)


@pytest.mark.parametrize(("attack", "lang", "mode"), CASES)
async def test_base_request_present_or_recoverable(attack: Attack, lang: str, mode: str) -> None:
    assert isinstance(attack, RecoverableAttack), f"{attack.name} does not say how its base is recoverable"
    case = base_case(lang)
    for seed in range(12):  # several templates and schemes
        generator = _generator(mode)
        (out,) = await attack.apply(case, seed=seed, generator=generator)
        kind = attack.recovery(out)
        if kind is RecoveryKind.NONE:
            # Only a generator rewrite may lose the base text, and then the rewrite must be used.
            assert isinstance(generator, FakeGenerator)
            assert attack.recover(out) is None
            last_prompt, _, last_seed = generator.calls[-1]
            assert case.text in last_prompt
            assert FakeGenerator.answer_for(last_prompt, lang, last_seed) in out.text
            continue
        if kind is RecoveryKind.VERBATIM:
            assert case.text in out.text
        assert attack.recover(out) == case.text


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
async def test_unsupported_language_and_empty_prompt_are_clear_errors(attack: Attack) -> None:
    generator = TemplateFallback()
    with pytest.raises(AttackError, match="does not support language 'fr'"):
        await attack.apply(replace(base_case("en"), lang="fr"), seed=0, generator=generator)
    with pytest.raises(AttackError, match="empty prompt"):
        await attack.apply(base_case("en", text="   "), seed=0, generator=generator)


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.needs_generator], ids=lambda a: a.name)
async def test_generator_attacks_refuse_to_run_without_a_generator(attack: Attack) -> None:
    with pytest.raises(GeneratorRequiredError, match="needs a generator"):
        await attack.apply(base_case("en"), seed=0)
