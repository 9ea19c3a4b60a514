"""The registry: built-ins, plugins from real ``seval.attacks`` entry points (temporary dist-info
folders on sys.path), and clear problems for broken, misnamed or duplicate plugins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from attack_helpers import base_case

from attacks.errors import PluginLoadError, UnknownAttackError
from attacks.expand import expand
from attacks.registry import SEVAL_ATTACKS, load_registry

PLUGIN_MODULE = "seval_test_attack_plugin"
PLUGIN_SOURCE = """
from attacks.base import attacked_case

class ShoutAttack:
    name = "shout"
    version = "2"
    languages = ("en",)
    description = "Upper-cases the request."
    needs_generator = False

    async def apply(self, case, *, seed, generator=None):
        text = case.text.upper() + "!"
        return [attacked_case(case, attack=self.name, version=self.version, text=text,
                              template_id="upper", seed=seed, generator="none")]

def make_whisper():
    attack = ShoutAttack()
    attack.name = "whisper"
    return attack

NOT_AN_ATTACK = 42

def exploding_factory():
    raise RuntimeError("plugin factory exploded")

class SyncApply(ShoutAttack):
    name = "syncy"
    def apply(self, case, *, seed, generator=None):
        return []
"""


def _dist(root: Path, name: str, entries: dict[str, str]) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    lines = "\n".join(f"{k} = {v}" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[seval.attacks]\n{lines}\n", encoding="utf-8")


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sys.path entry holding the plugin module and two installed distributions declaring attacks."""
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    _dist(
        tmp_path,
        "seval_plugin_one",
        {
            "shout": f"{PLUGIN_MODULE}:ShoutAttack",
            "whisper": f"{PLUGIN_MODULE}:make_whisper",
            "missing": "no_such_module_for_seval:thing",
            "number": f"{PLUGIN_MODULE}:NOT_AN_ATTACK",
            "exploding": f"{PLUGIN_MODULE}:exploding_factory",
            "misnamed": f"{PLUGIN_MODULE}:ShoutAttack",
            "syncy": f"{PLUGIN_MODULE}:SyncApply",
            "code_injection": f"{PLUGIN_MODULE}:ShoutAttack",
            "twin": f"{PLUGIN_MODULE}:ShoutAttack",
        },
    )
    _dist(tmp_path, "seval_plugin_two", {"twin": f"{PLUGIN_MODULE}:ShoutAttack"})
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(PLUGIN_MODULE, None)


def test_builtins_without_plugins() -> None:
    registry = load_registry(plugins=[])
    assert set(SEVAL_ATTACKS) | {"encrypted_jailbreak"} == set(registry.names())
    assert registry.problems == ()
    assert registry.get("code_injection").name == "code_injection"
    with pytest.raises(UnknownAttackError, match=r"unknown attack 'nope'.*registered: chain_of_utterances"):
        registry.get("nope")


async def test_entry_point_plugins_load_and_bad_ones_are_named(plugin_path: Path) -> None:
    registry = load_registry()
    # Good plugins: a class and a factory.
    assert registry.get("shout").version == "2"
    assert registry.get("whisper").name == "whisper"
    # Built-ins are untouched by a plugin claiming one of their names.
    assert type(registry.get("code_injection")).__name__ == "CodeInjection"
    problems = {p.name: p for p in registry.problems}
    assert set(problems) == {"missing", "number", "exploding", "misnamed", "syncy", "code_injection", "twin"}
    assert "ModuleNotFoundError" in problems["missing"].error
    assert "is not an Attack" in problems["number"].error
    assert "plugin factory exploded" in problems["exploding"].error
    assert "named 'misnamed' but the attack is named 'shout'" in problems["misnamed"].error
    assert "apply must be an async method" in problems["syncy"].error
    assert "taken by a built-in" in problems["code_injection"].error
    twins = [p for p in registry.problems if p.name == "twin"]
    assert len(twins) == 2
    assert {"seval_plugin_one" in str(p) or "seval_plugin_two" in str(p) for p in twins} == {True}
    assert "seval_plugin_one 1.0" in problems["missing"].source
    with pytest.raises(PluginLoadError, match=r"attack plugin 'exploding'.*plugin factory exploded"):
        registry.get("exploding")

    # A plugin attack is usable through the expansion API like any built-in.
    (out,) = await expand(base_case("en"), ["shout"], seed=1, registry=registry)
    assert out.text == base_case("en").text.upper() + "!"
    assert out.provenance_dict()["template_id"] == "upper"
