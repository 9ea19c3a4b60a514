"""instruction_encryption and code_injection: every encoded prompt decodes (or reassembles) back to
exactly the base prompt, over Chinese, English and arbitrary unicode text (hypothesis)."""

from __future__ import annotations

import base64
import random
import re

import pytest
from attack_helpers import base_case
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks.code_injection import CodeInjection, split_fragments
from attacks.encryption import (
    SCHEMES,
    InstructionEncryption,
    decode_base64,
    decode_caesar,
    decode_url,
    encode_caesar,
    encode_url,
)
from attacks.errors import AttackError

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
CHINESE = st.text(alphabet=st.one_of(CJK, st.sampled_from("，。？！、：；“”（） 0123456789")), min_size=1)
ENGLISH = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,?!'-\n"))
ANY_TEXT = st.text()
TEXTS = st.one_of(CHINESE, ENGLISH, ANY_TEXT)
SHIFTS = st.integers(min_value=1, max_value=25)


@given(text=TEXTS, shift=SHIFTS)
def test_every_scheme_decodes_to_exactly_the_text(text: str, shift: int) -> None:
    for scheme in SCHEMES.values():
        assert scheme.decode(scheme.encode(text, shift), shift) == text


@settings(max_examples=150)
@given(
    text=TEXTS.filter(lambda t: t.strip() != ""),
    lang=st.sampled_from(["en", "zh"]),
    seed=st.integers(0, 2**32),
)
async def test_every_encoded_prompt_recovers_the_base_prompt(text: str, lang: str, seed: int) -> None:
    case = base_case(lang, text=text)
    for attack in (ENCRYPTION_ALL, ENCRYPTION_RANDOM_SHIFT):
        (out,) = await attack.apply(case, seed=seed)
        assert attack.recover(out) == text


@settings(max_examples=150)
@given(
    text=TEXTS.filter(lambda t: t.strip() != ""),
    lang=st.sampled_from(["en", "zh"]),
    seed=st.integers(0, 2**32),
)
async def test_code_fragments_reassemble_to_the_base_prompt(text: str, lang: str, seed: int) -> None:
    case = base_case(lang, text=text)
    (out,) = await CODE.apply(case, seed=seed)
    assert CODE.recover(out) == text
    assignments = re.findall(r'^(?:const )?[a-h] = "', out.text, flags=re.MULTILINE)
    assert out.provenance_dict()["fragments"] == str(len(assignments))


@given(text=TEXTS.filter(bool), seed=st.integers(0, 2**16))
def test_fragments_are_non_empty_and_join_to_the_text(text: str, seed: int) -> None:
    pieces = split_fragments(text, random.Random(seed))
    assert "".join(pieces) == text
    assert all(pieces)
    assert 1 <= len(pieces) <= 4


ENCRYPTION_ALL = InstructionEncryption()
ENCRYPTION_RANDOM_SHIFT = InstructionEncryption(schemes=("caesar",), caesar_shift=None)
CODE = CodeInjection()


def test_caesar_rotates_latin_and_cjk_and_leaves_the_rest() -> None:
    assert encode_caesar("Abc xyZ 123, ok?", 3) == "Def abC 123, rn?"
    assert encode_caesar("一", 1) == "丁"  # U+4E00 -> U+4E01
    assert encode_caesar("\u9fff", 1) == "\u4e00"  # wraps within the CJK block
    assert decode_caesar(encode_caesar("你好 world", 7), 7) == "你好 world"
    assert encode_caesar("é ß 😀 ١٢", 5) == "é ß 😀 ١٢"


def test_url_encoding_leaves_only_unreserved_ascii() -> None:
    assert encode_url("a b/c?你") == "a%20b%2Fc%3F%E4%BD%A0"


def test_decoders_reject_malformed_payloads() -> None:
    with pytest.raises(AttackError, match="Base64"):
        decode_base64("not base64!")
    with pytest.raises(AttackError, match="UTF-8"):
        decode_base64(base64.b64encode(b"\xff\xfe").decode())
    with pytest.raises(AttackError, match="UTF-8"):
        decode_url("%FF")


def test_encryption_configuration_is_validated() -> None:
    with pytest.raises(AttackError, match="unknown scheme"):
        InstructionEncryption(schemes=("rot13",))
    with pytest.raises(AttackError, match="caesar_shift must be 1-25"):
        InstructionEncryption(caesar_shift=26)


async def test_configured_shift_is_used_and_recorded() -> None:
    attack = InstructionEncryption(schemes=("caesar",), caesar_shift=11)
    (out,) = await attack.apply(base_case("en"), seed=4)
    prov = out.provenance_dict()
    assert (prov["scheme"], prov["shift"]) == ("caesar", "11")
    assert encode_caesar(base_case("en").text, 11) in out.text
    assert "11" in out.text


async def test_seeds_choose_among_all_schemes() -> None:
    schemes = {
        (await ENCRYPTION_ALL.apply(base_case("zh"), seed=s))[0].provenance_dict()["scheme"]
        for s in range(30)
    }
    assert schemes == {"base64", "caesar", "url"}


async def test_the_prompt_itself_is_not_in_the_encrypted_text() -> None:
    case = base_case("en")
    for seed in range(10):
        (out,) = await ENCRYPTION_ALL.apply(case, seed=seed)
        assert case.text not in out.text
        assert "decod" in out.text.lower() or "decrypt" in out.text.lower()
