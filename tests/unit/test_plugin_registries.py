"""Adapter and critic-backend plugins from entry points (groups ``seval.adapters``, ``seval.critics``):
good ones load and are used by name, broken or clashing ones are left out with a problem naming
them, and asking for a left-out name says why."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from adapters.registry import ENTRY_POINT_GROUP as ADAPTERS
from adapters.registry import AdapterTarget
from adapters.registry import load_registry as load_adapters
from core.errors import UnknownPluginError
from core.plugins import import_object
from core.redaction import Redactor
from core.types import ChatRequest, Outcome
from critic_server.backends.registry import ENTRY_POINT_GROUP as CRITICS
from critic_server.backends.registry import load_registry as load_critics
from critic_server.config import ServerConfig

MODULE = "seval_registry_plugin"
SOURCE = """
from adapters.registry import AdapterSpec
from adapters.routing import OfflineRouting
from critic_server.backends.registry import BackendSpec
from critic_server.backends.rules import RulesBackend, RulesConfig

ECHO = AdapterSpec(name="echo", factory="adapters.scripted:create", routing=OfflineRouting())
GREEDY = AdapterSpec(name="greedy", factory="adapters.scripted:create", routing=OfflineRouting(), auto=True)

def make_echo():
    return ECHO

def strict_rules(config):
    return RulesBackend(RulesConfig())

STRICT = BackendSpec(name="strict", factory=f"{__name__}:strict_rules")
NOT_A_SPEC = 42
"""


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / f"{MODULE}.py").write_text(SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield MODULE
    sys.modules.pop(MODULE, None)


def ep(name: str, attr: str, group: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{MODULE}:{attr}", group=group)


async def test_adapter_plugins(plugin_module: str) -> None:
    registry = load_adapters(
        plugins=[
            ep("echo", "make_echo", ADAPTERS),
            ep("greedy", "GREEDY", ADAPTERS),
            ep("openai", "ECHO", ADAPTERS),
            ep("number", "NOT_A_SPEC", ADAPTERS),
            ep("renamed", "ECHO", ADAPTERS),
        ]
    )
    echo = registry.get("echo").create(AdapterTarget(model="echo/x", options={"replies": ["hi"]}))
    result = await echo.send(ChatRequest(prompt="anything"))
    assert (result.outcome, result.text) == (Outcome.COMPLETED, "hi")
    assert registry.get("openai").factory == "adapters.openai_adapter:create"  # the built-in stays
    problems = {p.name: str(p) for p in registry.problems}
    assert set(problems) == {"greedy", "openai", "number", "renamed"}
    assert "auto=True" in problems["greedy"]
    assert "taken by a built-in adapter" in problems["openai"]
    assert "int is not an AdapterSpec" in problems["number"]
    assert "named 'renamed' but the adapter is named 'echo'" in problems["renamed"]
    with pytest.raises(UnknownPluginError, match="adapter plugin 'greedy'"):
        registry.get("greedy")
    # A plugin is never a default: the same target keeps its adapter whatever is installed.
    assert registry.default_for("echo/x", None) == "litellm"


async def test_critic_backend_plugins(plugin_module: str) -> None:
    registry = load_critics(
        plugins=[
            ep("strict", "STRICT", CRITICS),
            ep("rules", "STRICT", CRITICS),
            ep("gone", "MISSING", CRITICS),
        ]
    )
    assert registry.names() == ["hf", "openai", "rules", "strict"]
    backend = await registry.get("strict").load(ServerConfig())
    assert backend.kind == "rules"
    problems = {p.name: p.error for p in registry.problems}
    assert set(problems) == {"rules", "gone"}
    assert "AttributeError" in problems["gone"]
    with pytest.raises(
        UnknownPluginError, match="unknown critic backend 'nope'; registered: hf, openai, rules"
    ):
        load_critics(plugins=[]).get("nope")


def test_server_config_validates_backend_names() -> None:
    with pytest.raises(ValueError, match="unknown critic backend 'nope'"):
        ServerConfig(backend="nope")


async def test_missing_backend_settings_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"backend 'hf' needs hf settings \(at least a model directory\)"):
        await load_critics(plugins=[]).get("hf").load(ServerConfig(backend="hf"))


def test_import_object_resolves_nested_attributes_and_rejects_bad_paths() -> None:
    assert import_object("core.redaction:Redactor.from_env") == Redactor.from_env
    with pytest.raises(ValueError, match="not a 'module:attribute' path"):
        import_object("core.redaction.Redactor")
