"""The shared machinery of every plugin registry (attacks, target adapters, critic backends).

A registry holds built-in entries plus those other installed packages publish in an entry-point
group (``seval.attacks``, ``seval.adapters``, ``seval.critics``). Heavy code is imported only when
it is chosen: an entry names its implementation as ``"module:attribute"`` and ``import_object``
resolves it on first use. Loading is forgiving: a plugin that fails to load, reuses a taken name or
is rejected by the registry's check is left out and recorded as a ``PluginProblem``; the others
load regardless, and asking for a left-out name says why it is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Generic, TypeVar

from core.errors import UnknownPluginError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PluginProblem:
    """An entry point that was left out, and why."""

    kind: str
    name: str
    source: str
    error: str

    def __str__(self) -> str:
        return f"{self.kind} plugin {self.name!r} ({self.source}): {self.error}"


def import_object(path: str) -> object:
    """The object ``path`` names (``"package.module:attribute.sub"``), importing its module now."""
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise ValueError(f"{path!r} is not a 'module:attribute' path")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def entry_point_source(ep: EntryPoint) -> str:
    """Where an entry point comes from (``value from dist version``), for problem messages."""
    dist = ep.dist
    where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    return f"{ep.value} from {where}"


def load_plugins(
    group: str,
    *,
    kind: str,
    taken: Iterable[str],
    load: Callable[[EntryPoint], T],
    plugins: Iterable[EntryPoint] | None = None,
) -> tuple[dict[str, T], tuple[PluginProblem, ...]]:
    """Load the entry points of ``group`` (or ``plugins``) with ``load``, which may raise to reject one.

    A plugin whose name is in ``taken`` (the built-ins), or that two plugins share, is rejected with
    a problem naming each; errors raised while loading become problems too.
    """
    builtin = frozenset(taken)
    candidates = list(entry_points(group=group) if plugins is None else plugins)
    counts: dict[str, int] = {}
    for ep in candidates:
        counts[ep.name] = counts.get(ep.name, 0) + 1
    loaded: dict[str, T] = {}
    problems: list[PluginProblem] = []
    for ep in candidates:
        source = entry_point_source(ep)
        if ep.name in builtin:
            problems.append(PluginProblem(kind, ep.name, source, f"the name is taken by a built-in {kind}"))
            continue
        if counts[ep.name] > 1:
            problems.append(PluginProblem(kind, ep.name, source, "several installed plugins use this name"))
            continue
        try:
            loaded[ep.name] = load(ep)
        except Exception as exc:  # a broken plugin must never break the others
            problems.append(PluginProblem(kind, ep.name, source, f"{type(exc).__name__}: {exc}"))
    return loaded, tuple(problems)


def missing_message(kind: str, name: str, known: Iterable[str], problems: Iterable[PluginProblem]) -> str:
    """Why ``name`` is not registered: its plugins' problems, or the list of registered names."""
    broken = [str(p) for p in problems if p.name == name]
    if broken:
        return "; ".join(broken)
    return f"unknown {kind} {name!r}; registered: {', '.join(sorted(known))}"


@dataclass(frozen=True, slots=True)
class Registry(Generic[T]):
    """Entries of one kind by name (built-ins first, then plugins), and the plugins left out."""

    kind: str
    entries: Mapping[str, T]
    problems: tuple[PluginProblem, ...] = ()

    @classmethod
    def build(
        cls,
        kind: str,
        builtins: Iterable[tuple[str, T]],
        group: str,
        load: Callable[[EntryPoint], T],
        plugins: Iterable[EntryPoint] | None = None,
    ) -> Registry[T]:
        """Built-ins plus the plugins of ``group`` (default: the installed entry points)."""
        entries = dict(builtins)
        loaded, problems = load_plugins(group, kind=kind, taken=entries, load=load, plugins=plugins)
        entries.update(loaded)
        return cls(kind, MappingProxyType(entries), problems)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self.entries)

    def get(self, name: str) -> T:
        """The entry called ``name``; ``UnknownPluginError`` naming the registered ones otherwise."""
        entry = self.entries.get(name)
        if entry is None:
            raise UnknownPluginError(missing_message(self.kind, name, self.entries, self.problems))
        return entry
