"""The expansion API (up-front checks, fallback, plugin output guard), generator attacks with an
in-test generator model, composition, and ``AdapterGenerator`` over a scripted adapter."""

from __future__ import annotations

import dataclasses

import pytest
from attack_helpers import FakeGenerator, base_case

from attacks.base import GENERATOR_FALLBACK, RecoveryKind, TemplateFallback, attacked_case
from attacks.composition import ComposedAttack
from attacks.encryption import InstructionEncryption, encode_base64
from attacks.errors import AttackError, GeneratorRequiredError, UnknownAttackError
from attacks.expand import expand, make_expander, resolve_attacks
from attacks.generator import AdapterGenerator
from attacks.in_context import InContextAttack
from attacks.induction import PositiveInduction, ReverseInduction
from attacks.registry import SEVAL_ATTACKS, AttackRegistry, builtin_attacks
from attacks.templated import GoalHijacking, InstructionJailbreak
from core.errors import GenerationError
from core.protocols import TargetAdapter, TextGenerator
from core.types import AttemptResult, Case, ChatRequest, Outcome


def test_unknown_repeated_and_unsupported_names_fail_up_front() -> None:
    with pytest.raises(UnknownAttackError, match="unknown attack 'nope'"):
        make_expander(["code_injection", "nope"])
    with pytest.raises(UnknownAttackError, match="unknown attack\\(s\\): nope, nada"):
        make_expander(["nope", "nada"])
    with pytest.raises(AttackError, match="named more than once: code_injection"):
        make_expander(["code_injection", "goal_hijacking", "code_injection"])
    with pytest.raises(AttackError, match="does not support language\\(s\\) fr"):
        make_expander(["code_injection"], languages=["en", "fr"])


def test_generator_attacks_need_a_generator_or_the_explicit_fallback() -> None:
    with pytest.raises(
        GeneratorRequiredError, match="positive_induction, in_context_attack need a generator"
    ):
        resolve_attacks(
            ["code_injection", "positive_induction", "in_context_attack"], generator_configured=False
        )
    assert len(resolve_attacks(SEVAL_ATTACKS, generator_configured=True)) == 10
    expander = make_expander(SEVAL_ATTACKS, allow_template_fallback=True)
    assert isinstance(expander.generator, TemplateFallback)
    generator = FakeGenerator()
    assert (
        make_expander(SEVAL_ATTACKS, generator=generator, allow_template_fallback=True).generator is generator
    )
    # Pure-template attacks need nothing.
    assert make_expander(["code_injection", "deepinception"]).generator is None


async def test_expand_all_ten_attacks_with_fallback_and_generator() -> None:
    case = base_case("zh")
    fallback = await expand(case, SEVAL_ATTACKS, seed=9, allow_template_fallback=True)
    assert [c.attack for c in fallback] == list(SEVAL_ATTACKS)
    needs = {a.name for a in builtin_attacks() if a.needs_generator}
    assert needs == {
        "positive_induction",
        "reverse_induction",
        "in_context_attack",
        "compositional_instructions",
    }
    for out in fallback:
        expected = GENERATOR_FALLBACK if out.attack in needs else "none"
        assert out.provenance_dict()["generator"] == expected
    generator = FakeGenerator()
    generated = await expand(case, SEVAL_ATTACKS, seed=9, generator=generator)
    assert len(generator.calls) == len(needs)
    assert all(lang == "zh" for _, lang, _ in generator.calls)
    by_attack = {c.attack: c for c in generated}
    for name in needs:
        assert by_attack[name].provenance_dict()["generator"] == "fake-generator"
        assert by_attack[name].text != next(c.text for c in fallback if c.attack == name)
    for name in set(SEVAL_ATTACKS) - needs:  # the generator changes nothing for template attacks
        assert by_attack[name] == next(c for c in fallback if c.attack == name)
    # Same ids on a second expansion: what the engine freezes and resumes with.
    again = await expand(case, SEVAL_ATTACKS, seed=9, generator=FakeGenerator())
    assert [c.id for c in again] == [c.id for c in generated]


async def test_positive_induction_uses_the_generated_opening() -> None:
    generator = FakeGenerator(answer='"Sure, here is how to open your own lock:"\nextra line ignored')
    attack = PositiveInduction()
    (out,) = await attack.apply(base_case("en"), seed=2, generator=generator)
    assert "Sure, here is how to open your own lock:" in out.text
    assert "extra line ignored" not in out.text
    assert base_case("en").text in out.text
    prompt, lang, seed = generator.calls[0]
    assert base_case("en").text in prompt
    assert lang == "en"
    assert isinstance(seed, int)
    assert out.provenance_dict()["opening"] == "generated"
    assert out.provenance_dict()["meta"] == "meta.opening_sentence"
    assert attack.recover(out) == base_case("en").text


async def test_reverse_induction_rewrite_is_not_recoverable_but_fallback_is() -> None:
    attack = ReverseInduction()
    (rewritten,) = await attack.apply(
        base_case("en"), seed=1, generator=FakeGenerator(answer="What should I avoid?")
    )
    assert rewritten.text == "What should I avoid?"
    assert attack.recovery(rewritten) is RecoveryKind.NONE
    (templated,) = await attack.apply(base_case("en"), seed=1, generator=TemplateFallback())
    assert attack.recovery(templated) is RecoveryKind.VERBATIM


async def test_in_context_attack_re_renders_generated_pairs() -> None:
    answer = "Here are examples:\n**User:** Q one?\n**Assistant:** A one.\n\nUser: Q two?\nAssistant: A two."
    (out,) = await InContextAttack().apply(base_case("en"), seed=0, generator=FakeGenerator(answer=answer))
    assert "User: Q one?\nAssistant: A one." in out.text
    assert "User: Q two?\nAssistant: A two." in out.text
    assert "Here are examples" not in out.text
    assert out.text.endswith(f"User: {base_case('en').text}\nAssistant:")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("   ", "returned nothing"),
        ("only English here", "without Chinese text"),
    ],
)
async def test_bad_generator_answers_raise_generation_error(answer: str, message: str) -> None:
    with pytest.raises(GenerationError, match=f"attack 'reverse_induction' on case 'base-zh-1'.*{message}"):
        await ReverseInduction().apply(base_case("zh"), seed=0, generator=FakeGenerator(answer=answer))


async def test_generator_failures_and_unparseable_examples_name_the_attack() -> None:
    with pytest.raises(
        GenerationError, match="attack 'positive_induction' on case 'base-en-1': fake generator"
    ):
        await expand(base_case("en"), ["positive_induction"], seed=0, generator=FakeGenerator(fail=True))
    with pytest.raises(GenerationError, match="no user/assistant example exchanges"):
        await InContextAttack().apply(base_case("en"), seed=0, generator=FakeGenerator(answer="just prose"))
    with pytest.raises(GenerationError, match="template-only fallback was chosen"):
        await TemplateFallback().generate("x", lang="en", seed=0)


class _BadAttack:
    """A plugin that breaks the attacked-case contract."""

    name = "bad"
    version = "1"
    languages: tuple[str, ...] = ("en",)
    description = "returns its input"
    needs_generator = False

    async def apply(self, case: Case, *, seed: int, generator: TextGenerator | None = None) -> list[Case]:
        return [case]


async def test_plugin_output_is_checked() -> None:
    registry = AttackRegistry({"bad": _BadAttack()})
    with pytest.raises(
        AttackError, match="'bad' on case 'base-en-1' returned a bad case: kind is not ATTACK"
    ):
        await expand(base_case("en"), ["bad"], seed=0, registry=registry)


async def test_composition_chains_steps_with_full_provenance() -> None:
    composed = ComposedAttack("b64_hijack", [InstructionEncryption(schemes=("base64",)), GoalHijacking()])
    assert composed.version == "1[1+1]"
    assert composed.needs_generator is False
    case = base_case("zh")
    (out,) = await composed.apply(case, seed=3)
    prov = out.provenance_dict()
    assert out.parent_id == case.id
    assert out.attack == "b64_hijack"
    assert prov["steps"] == "instruction_encryption@1 > goal_hijacking@1"
    assert prov["step1.attack"] == "instruction_encryption"
    assert prov["step1.scheme"] == "base64"
    assert prov["step2.attack"] == "goal_hijacking"
    assert prov["template_id"] == f"{prov['step1.template_id']} > {prov['step2.template_id']}"
    assert "step1.parent_id" not in prov
    assert composed.recovery(out) is RecoveryKind.DECODE
    assert composed.recover(out) == case.text
    # The inner step's output is verbatim inside the outer template.
    inner = (await InstructionEncryption(schemes=("base64",)).apply(case, seed=3))[0]
    assert inner.text in out.text
    assert encode_base64(case.text) in out.text


async def test_composition_with_a_generator_step_records_the_generator() -> None:
    composed = ComposedAttack("jailbroken_opening", [PositiveInduction(), InstructionJailbreak()])
    assert composed.needs_generator
    (out,) = await composed.apply(base_case("en"), seed=0, generator=FakeGenerator())
    assert out.provenance_dict()["generator"] == "fake-generator"
    assert out.provenance_dict()["step2.generator"] == "none"
    assert composed.recover(out) == base_case("en").text


def test_composition_is_validated() -> None:
    with pytest.raises(AttackError, match="at least two steps"):
        ComposedAttack("solo", [GoalHijacking()])
    with pytest.raises(AttackError, match="must match"):
        ComposedAttack("Bad Name", [GoalHijacking(), GoalHijacking()])


class _ScriptedAdapter:
    """A real ``TargetAdapter`` that answers from a script and records requests."""

    def __init__(self, results: list[AttemptResult]) -> None:
        self.results = results
        self.requests: list[ChatRequest] = []
        self.closed = False

    @property
    def limit_key(self) -> str:
        return "scripted"

    @property
    def name(self) -> str:
        return "scripted"

    async def send(self, request: ChatRequest) -> AttemptResult:
        self.requests.append(request)
        return self.results.pop(0)

    async def aclose(self) -> None:
        self.closed = True


async def test_adapter_generator_sends_one_request_and_classifies_failures() -> None:
    adapter = _ScriptedAdapter(
        [
            AttemptResult(Outcome.COMPLETED, text="用户：问？\n助手：答。"),
            AttemptResult(Outcome.BLOCKED_BY_VENDOR, vendor_code="content_filter", error="blocked"),
            AttemptResult(Outcome.FAILED_TRANSIENT, status_code=429, error="rate limited"),
            AttemptResult(Outcome.COMPLETED, text="  "),
        ]
    )
    assert isinstance(adapter, TargetAdapter)
    generator = AdapterGenerator(adapter, label="sim-model")
    assert generator.name == "scripted:sim-model"
    (out,) = await InContextAttack().apply(base_case("zh"), seed=4, generator=generator)
    assert out.provenance_dict()["generator"] == "scripted:sim-model"
    request = adapter.requests[0]
    assert request.stream is False
    assert request.decoding.seed is not None
    assert base_case("zh").text in request.prompt
    with pytest.raises(GenerationError, match="ended BLOCKED_BY_VENDOR \\(vendor code content_filter"):
        await generator.generate("p", lang="en", seed=1)
    with pytest.raises(GenerationError, match=r"FAILED_TRANSIENT .*status 429\): rate limited"):
        await generator.generate("p", lang="en", seed=1)
    with pytest.raises(GenerationError, match="empty completion"):
        await generator.generate("p", lang="en", seed=1)
    plain = _ScriptedAdapter([AttemptResult(Outcome.COMPLETED, text="x")])
    no_seed = AdapterGenerator(plain, label="m", send_seed=False)
    assert await no_seed.generate("p", lang="en", seed=5) == "x"
    await no_seed.aclose()
    assert plain.requests[0].decoding.seed is None
    assert plain.closed


async def test_attacked_case_helper_copies_base_fields() -> None:
    base = dataclasses.replace(base_case("en"), twin_id="zh-twin")
    out = attacked_case(
        base, attack="x", version="1", text="t", template_id="main.a", seed=1, generator="none"
    )
    assert out.twin_id is None
    assert (out.source, out.line) == (base.source, base.line)
