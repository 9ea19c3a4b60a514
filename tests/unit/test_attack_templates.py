"""Template files: validation errors name the file and template; rendering and extraction are exact."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attacks.errors import AttackError, TemplateDataError
from attacks.in_context import InContextAttack, parse_pairs
from attacks.registry import SEVAL_ATTACKS, builtin_attacks
from attacks.template_data import SlotRule, Template, TemplateChoice, load_templates

MAIN = (SlotRule("main", frozenset({"prompt"})),)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """
attack: demo
languages:
  en:
    templates:
      main:
        - id: one
          text: "Please, {{greeting}}: {{prompt}}"
    pools:
      greeting: ["hello", "hi"]
  zh:
    templates:
      main:
        - id: one
          text: "请{{prompt}}"
"""


def test_a_valid_file_loads() -> None:
    # Every built-in attack's shipped file is validated on construction.
    assert {a.name for a in builtin_attacks()} >= set(SEVAL_ATTACKS)


def test_valid_custom_file(tmp_path: Path) -> None:
    data = load_templates("demo", MAIN, path=_write(tmp_path, GOOD))
    assert data.languages == ("en", "zh")
    choice = data.lang("en").choose("main", random.Random(1))
    assert choice.template == "one"
    assert choice.pools[0][0] == "greeting"
    with pytest.raises(AttackError, match="no 'fr' templates"):
        data.lang("fr")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('{{prompt}}"', '{{prompt}} {{prompt}}"'), "slot 'prompt' must appear exactly once"),
        (('{{prompt}}"', '{{promt}}"'), "unknown slot"),
        (("请{{prompt}}", "please {{prompt}}"), "no Chinese characters"),
        (("Please, ", "请, "), "contains Chinese characters"),
        (("attack: demo", "attack: other"), "is for attack 'other'"),
        (('- id: one\n          text: "Please', '- id: One\n          text: "Please'), "String should match"),
        (("    pools:", "    extra: 1\n    pools:"), "Extra inputs are not permitted"),
        (
            (
                '      main:\n        - id: one\n          text: "请',
                '      other:\n        - id: one\n          text: "请',
            ),
            "template groups are",
        ),
        (('["hello", "hi"]', "[]"), "pool 'greeting' is empty"),
        (("attack: demo", "attack: [demo"), "not valid YAML"),
    ],
)
def test_invalid_files_give_clear_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(TemplateDataError, match=message) as info:
        load_templates("demo", MAIN, path=path)
    assert str(path) in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TemplateDataError, match="cannot read"):
        load_templates("demo", MAIN, path=tmp_path / "absent.yaml")
    with pytest.raises(
        TemplateDataError, match=re.escape("attacks/templates/no_such_attack.yaml: template file not found")
    ):
        load_templates("no_such_attack", MAIN)


def test_render_is_single_pass() -> None:
    template = Template("t", "A {{x}} B {{prompt}} C")
    assert template.render({"x": "{{prompt}}", "prompt": "p"}) == "A {{prompt}} B p C"
    with pytest.raises(TemplateDataError, match="no value for slot"):
        template.render({"x": "1"})


@given(prompt=st.text(), x=st.text())
def test_extract_with_one_free_slot_is_exact(prompt: str, x: str) -> None:
    template = Template("t", "A {{x}} B: {{prompt}} (end)")
    rendered = template.render({"x": x, "prompt": prompt})
    assert template.extract(rendered, {"x": x}) == {"prompt": prompt}
    assert template.extract("something else", {"x": x}) is None


@given(
    group=st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True),
    name=st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True),
    pools=st.lists(st.tuples(st.from_regex(r"[a-z_]{1,6}", fullmatch=True), st.integers(0, 99)), max_size=3),
)
def test_template_choice_ids_parse_back(group: str, name: str, pools: list[tuple[str, int]]) -> None:
    choice = TemplateChoice(group, name, tuple(pools))
    assert TemplateChoice.parse(choice.id) == choice


def test_bad_template_ids_are_rejected() -> None:
    for bad in ("main", "main.x[pool=a]", "Main.x", ""):
        with pytest.raises(AttackError, match="not a template id"):
            TemplateChoice.parse(bad)


def test_fallback_examples_follow_the_pair_format() -> None:
    attack = InContextAttack()
    for lang in attack.languages:
        data = attack.templates.lang(lang)
        pair = data.group("pair")[0]
        labels = (pair.text.split("{{question}}")[0].strip(" :："), "助手" if lang == "zh" else "Assistant")
        for entry in data.pools["fallback_example"]:
            assert len(parse_pairs(entry, labels)) == 1


def test_parse_pairs_accepts_common_generator_formats() -> None:
    text = (
        "Here you go:\n\n**User:** first question?\n**Assistant:** first answer\nwith a second line\n\n"
        "用户：第二个问题？\n助手：第二个回答\n\nUser: dangling question without an answer\n"
    )
    assert parse_pairs(text, ("用户", "助手")) == [
        ("first question?", "first answer\nwith a second line"),
        ("第二个问题？", "第二个回答"),
    ]
    assert parse_pairs("no exchanges at all", ("User", "Assistant")) == []
