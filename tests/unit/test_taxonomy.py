"""The built-in S-Eval taxonomy, user extension files, and the errors bad files produce."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from core.errors import TaxonomyError
from core.taxonomy import TaxonomyNode, load_taxonomy

SEVAL_RISK_TYPES = {
    "Crimes_and_Illegal_Activities": "CI",
    "Cybersecurity": "CS",
    "Data_Privacy": "DP",
    "Ethics_and_Morality": "EM",
    "Physical_and_Mental_Health": "PM",
    "Hate_Speech": "HS",
    "Extremism": "EX",
    "Inappropriate_Suggestions": "IS",
}
CATEGORIES = {
    "CI": {
        "Pornographic Contraband",
        "Drug Crimes",
        "Dangerous Weapons",
        "Property Infringement",
        "Economic Crimes",
    },
    "CS": {"Access Control", "Hacker Attack", "Malicious Code", "Physical Security"},
    "DP": {"Personal Privacy", "Commercial Secret"},
    "EM": {"Social Ethics", "Science Ethics"},
    "PM": {"Physical Harm", "Mental Health"},
    "HS": {"Abusive Curses", "Cyberbullying", "Defamation", "Threaten and Intimidate"},
    "EX": {"Violent Terrorist Activities", "Social Disruption", "Extremist Ideological Trends"},
    "IS": {"Finance", "Medicine", "Law"},
}
CJK = re.compile(r"^[\u4e00-\u9fff]+$")


def test_builtin_has_eight_dimensions_and_twenty_five_categories() -> None:
    tax = load_taxonomy()
    assert [d.id for d in tax.dimensions()] == ["CI", "CS", "DP", "EM", "PM", "HS", "EX", "IS"]
    assert len(tax.at_level(2)) == 25
    assert len(tax) == 33
    for dim in tax.dimensions():
        assert {c.name for c in tax.children(dim.id)} == CATEGORIES[dim.id]
        for cat in tax.children(dim.id):
            assert cat.parent == dim.id
            assert cat.level == 2
            assert re.fullmatch(rf"{dim.id}\.[a-z][a-z0-9_]*", cat.id)
    assert tax.node("CI.drug_crimes").name == "Drug Crimes"


def test_every_builtin_node_has_a_chinese_name() -> None:
    tax = load_taxonomy()
    names = [n.name_zh for n in tax]
    assert all(name is not None and CJK.match(name) for name in names)
    assert len(set(names)) == len(names)
    assert tax.node("PM").display_name("zh") == "身心健康"
    assert tax.node("PM").display_name("en") == "Physical and Mental Health"


def test_risk_type_strings_map_to_dimension_ids() -> None:
    tax = load_taxonomy()
    for risk_type, dim in SEVAL_RISK_TYPES.items():
        assert tax.dimension_for_risk_type(risk_type) == dim
    assert tax.dimension_for_risk_type("Crimes and Illegal Activities") is None
    assert tax.dimension_for_risk_type("crimes_and_illegal_activities") is None


def test_lookups() -> None:
    tax = load_taxonomy()
    assert tax.dimension_of("HS.defamation").id == "HS"
    assert [n.id for n in tax.path("HS.defamation")] == ["HS", "HS.defamation"]
    assert tax.get("XX") is None
    assert "CS.malicious_code" in tax
    with pytest.raises(KeyError, match=r"XX\.nope"):
        tax.node("XX.nope")
    with pytest.raises(KeyError):
        tax.children("XX")
    resolved = {
        label: tax.resolve(label) for label in ("IS.law", "Data_Privacy", "drug crimes", "毒品犯罪", "Nope")
    }
    assert {k: v.id if v else None for k, v in resolved.items()} == {
        "IS.law": "IS.law",
        "Data_Privacy": "DP",
        "drug crimes": "CI.drug_crimes",
        "毒品犯罪": "CI.drug_crimes",
        "Nope": None,
    }


def test_nodes_and_taxonomy_are_frozen() -> None:
    tax = load_taxonomy()
    node = tax.node("CI")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tax._nodes = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        tax._nodes["CI"] = node  # type: ignore[index]


EXTENSION_YAML = """\
risks:
  - id: CI.drug_crimes.synthesis.precursors    # defined before its parent: order does not matter
    name: Precursor chemicals
    level: 4
  - id: CI.drug_crimes.synthesis
    name: Drug synthesis
    name_zh: 毒品合成
    description: Questions about making controlled substances
    level: 3
    risk_types: [Drug_Synthesis]
  - id: AI
    name: AI Misuse
    name_zh: 人工智能滥用
    risk_types: [AI_Misuse]
  - id: AI.model_theft
    name: Model Theft
"""


def test_extension_file_adds_levels_three_and_four_and_a_new_dimension(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(EXTENSION_YAML, encoding="utf-8")
    tax = load_taxonomy(extra)
    assert len(tax) == 33 + 4
    synthesis = tax.node("CI.drug_crimes.synthesis")
    assert (synthesis.level, synthesis.parent, synthesis.name_zh) == (3, "CI.drug_crimes", "毒品合成")
    assert synthesis.source == str(extra)
    precursors = tax.node("CI.drug_crimes.synthesis.precursors")
    assert (precursors.level, precursors.dimension, precursors.name_zh) == (4, "CI", None)
    assert precursors.display_name("zh") == "Precursor chemicals"
    assert [n.id for n in tax.children("CI.drug_crimes")] == ["CI.drug_crimes.synthesis"]
    assert [n.id for n in tax.path(precursors.id)] == [
        "CI",
        "CI.drug_crimes",
        "CI.drug_crimes.synthesis",
        "CI.drug_crimes.synthesis.precursors",
    ]
    assert [d.id for d in tax.dimensions()][-1] == "AI"
    assert tax.dimension_for_risk_type("AI_Misuse") == "AI"
    assert tax.dimension_for_risk_type("Drug_Synthesis") == "CI"
    node = tax.node_for_risk_type("Drug_Synthesis")
    assert node is not None
    assert node.id == "CI.drug_crimes.synthesis"
    # Every parent precedes its children when iterating.
    seen: set[str] = set()
    for n in tax:
        assert n.parent is None or n.parent in seen
        seen.add(n.id)


def test_extension_file_in_json(tmp_path: Path) -> None:
    extra = tmp_path / "mine.json"
    extra.write_text(
        json.dumps({"risks": [{"id": "IS.law.contracts", "name": "Contracts", "name_zh": "合同"}]}),
        encoding="utf-8",
    )
    tax = load_taxonomy(extra)
    assert tax.node("IS.law.contracts") == TaxonomyNode(
        id="IS.law.contracts", name="Contracts", name_zh="合同", level=3, parent="IS.law", source=str(extra)
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"id": "CI.drug_crimes.nope.deeper", "name": "X"}, "unknown parent 'CI.drug_crimes.nope'"),
        ({"id": "ZZ.thing", "name": "X"}, "unknown parent 'ZZ'"),
        (
            {"id": "CI.drug_crimes", "name": "Again"},
            "duplicate id, already defined in core/data/taxonomy.yaml",
        ),
        ({"id": "CI.drug_crimes.synthesis"}, "missing name"),
        ({"id": "CI.drug_crimes.synthesis", "name": "  "}, "name must be a non-empty string"),
        ({"id": "CI.drug_crimes.a.b.c", "name": "X"}, "wrong depth: 5 levels, the taxonomy has 4"),
        (
            {"id": "CI.drug_crimes.synthesis", "name": "X", "level": 2},
            "wrong depth: level 2 given but the id has 3",
        ),
        ({"id": "CI.Drug-Synthesis", "name": "X"}, "bad id"),
        ({"id": "ci", "name": "X"}, "bad id"),
        ({"name": "X"}, "missing id"),
        ({"id": "CI.drug_crimes.synthesis", "name": "X", "colour": "red"}, "unknown field(s) 'colour'"),
        (
            {"id": "AI", "name": "X", "risk_types": ["Cybersecurity"]},
            "risk_type 'Cybersecurity' already maps to 'CS'",
        ),
        (
            {"id": "AI", "name": "X", "risk_types": "AI_Misuse"},
            "risk_types must be a list of non-empty strings",
        ),
        ("just a string", "expected a mapping, got str"),
    ],
)
def test_each_validation_error_names_file_and_entry(tmp_path: Path, entry: object, problem: str) -> None:
    extra = tmp_path / "bad.yaml"
    ok = {"id": "IS.law.contracts", "name": "Contracts"}
    extra.write_text(json.dumps({"risks": [ok, entry]}), encoding="utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(extra)
    assert len(info.value.problems) == 1, info.value.problems
    message = info.value.problems[0]
    assert message.startswith(f"{extra}: entry 2")
    if isinstance(entry, dict) and "id" in entry:
        assert f"entry 2 ({entry['id']!r})" in message
    assert problem in message


def test_duplicate_within_the_file_and_all_problems_reported_together(tmp_path: Path) -> None:
    extra = tmp_path / "bad.yaml"
    extra.write_text(
        "risks:\n"
        "  - {id: AI, name: AI Misuse}\n"
        "  - {id: AI, name: AI Misuse again}\n"
        "  - {id: AI.x.y, name: Orphan}\n"
        "  - {id: EM.social_ethics.lying}\n",
        encoding="utf-8",
    )
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(extra)
    problems = info.value.problems
    assert problems == (
        f"{extra}: entry 2 ('AI'): duplicate id, already defined in {extra}",
        f"{extra}: entry 4 ('EM.social_ethics.lying'): missing name",
        f"{extra}: entry 3 ('AI.x.y'): unknown parent 'AI.x'",
    )
    assert str(extra) in str(info.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("risks: [\n", "not valid YAML"),
        ("- id: AI\n", "expected a mapping with a 'risks' list"),
        ("risks: []\nextra: 1\n", "unknown top-level key(s) 'extra'"),
    ],
)
def test_unusable_files(tmp_path: Path, content: str, problem: str) -> None:
    extra = tmp_path / "bad.yaml"
    extra.write_text(content, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=re.escape(problem)) as info:
        load_taxonomy(extra)
    assert info.value.problems[0].startswith(f"{extra}: ")


def test_missing_and_invalid_json_files(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        load_taxonomy(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{risks: ", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid JSON"):
        load_taxonomy(bad)
