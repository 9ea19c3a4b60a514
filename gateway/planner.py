"""Lazy planning: suites -> cases (attacked variants frozen in the store) -> work items per target.

Nothing here holds more than one batch of cases: the suites stream row by row, attacked variants
are made (or found frozen) one base case at a time, and work items are generated on demand.
A run of S-Eval's full set against 20 targets (4.4 million items) plans in flat memory.

Work keys are deterministic (``WorkItem.make_key``), so a resumed run recognises what it already
has. Attacked variants are frozen in the store before any of their items is sent, and a resumed
run finds them there (same seed, same generator) instead of asking the attack again: a generator
model would not write the same rewrite twice, and a newer attack version would write another.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.protocols import Attack, TextGenerator
from core.types import Case, CaseKind, Decoding, SkippedRow, WorkItem
from db.writer import wait_out_locks
from gateway.config import RunConfig, TargetConfig

CASE_BATCH = 256
"""Cases handed to the targets at a time (and saved to the store in one statement)."""


class CaseStore(Protocol):
    """What planning needs from ``db.store.Store``."""

    async def save_cases(self, cases: Iterable[Case]) -> None:
        """Insert-or-ignore by id."""
        ...

    async def cases_by_parent(self, parent_id: str, attack: str | None) -> list[Case]:
        """Stored cases made from ``parent_id`` by ``attack``."""
        ...


def suite_cases(config: RunConfig, *, on_skip: Callable[[SkippedRow], None]) -> Iterator[Case]:
    """The run's source cases, streamed: languages and kinds filtered, at most ``config.limit``
    (a stratified slice unless ``limit_strategy`` is ``first``).

    Base cases are kept when base prompts are sent or attacks are applied to them; released attack
    rows when ``attack`` is among the kinds. Raises ``SuiteError``/``TaxonomyError`` up front for
    missing files or a bad taxonomy extension.
    """
    return _selected(_source_cases(config, on_skip=on_skip), config)


def _selected(cases: Iterable[Case], config: RunConfig) -> Iterator[Case]:
    """The run's filters and its ``limit`` (a stratified slice unless ``limit_strategy: first``)."""
    if config.limit is not None and config.limit_strategy == "stratified":
        return _stratified(cases, config, config.limit)
    return _filtered(cases, config)


def _source_cases(config: RunConfig, *, on_skip: Callable[[SkippedRow], None]) -> Iterator[Case]:
    from core.taxonomy import load_taxonomy
    from gateway.suites import ColumnMapping, iter_cases

    taxonomy = load_taxonomy(Path(config.taxonomy) if config.taxonomy else None)
    mapping = ColumnMapping.parse(config.mapping) if config.mapping else None
    return iter_cases(config.suites, taxonomy=taxonomy, on_skip=on_skip, mapping=mapping)


def _stratified(cases: Iterable[Case], config: RunConfig, limit: int) -> Iterator[Case]:
    """The stratified slice of the filtered cases (one streaming pass, bounded memory), lazily:
    the suites are read when the first case is asked for, as with the unsliced stream."""
    from gateway.selection.strata import stratified_slice

    unlimited = config.model_copy(update={"limit": None})
    yield from stratified_slice(_filtered(cases, unlimited), limit)


def _filtered(cases: Iterable[Case], config: RunConfig) -> Iterator[Case]:
    langs = frozenset(config.languages)
    keep_base = CaseKind.BASE in config.kinds or bool(config.attacks.apply)
    keep_attack = CaseKind.ATTACK in config.kinds
    taken = 0
    for case in cases:
        if case.lang not in langs:
            continue
        if not (keep_base if case.kind is CaseKind.BASE else keep_attack):
            continue
        yield case
        taken += 1
        if config.limit is not None and taken >= config.limit:
            return


class Expander(Protocol):
    """What freezing needs from ``attacks.expand.Expander``."""

    @property
    def attacks(self) -> tuple[Attack, ...]:
        """The checked attacks, in order."""
        ...

    @property
    def generator(self) -> TextGenerator | None:
        """The generator they use (a template fallback counts)."""
        ...


@dataclass(frozen=True, slots=True)
class FrozenAttacks:
    """Attacked variants of base cases: found frozen in the store, or made and frozen there first."""

    store: CaseStore
    attacks: tuple[Attack, ...]
    generator: TextGenerator | None
    seed: int
    generator_label: str

    @classmethod
    def for_expander(cls, store: CaseStore, expander: Expander, seed: int) -> FrozenAttacks:
        """Freezing for ``expander``'s attacks and generator under the run's ``seed``."""
        from attacks.base import generator_label

        gen = expander.generator
        return cls(store, tuple(expander.attacks), gen, seed, generator_label(gen) if gen else "none")

    async def variants(self, base: Case) -> list[Case]:
        """Every attack's variants of ``base``: the frozen ones, else new ones (returned unsaved)."""
        from attacks.expand import Expander as LibraryExpander

        out: list[Case] = []
        for attack in self.attacks:
            frozen = [
                c for c in await self.store.cases_by_parent(base.id, attack.name) if self._ours(attack, c)
            ]
            if not frozen:
                frozen = await LibraryExpander((attack,), self.generator).expand(base, seed=self.seed)
            out.extend(frozen)
        return out

    def _ours(self, attack: Attack, case: Case) -> bool:
        prov = case.provenance_dict()
        if prov.get("seed") != str(self.seed) or prov.get("version") != attack.version:
            return False
        return not attack.needs_generator or prov.get("generator") == self.generator_label


def case_chunks(source: Iterable[Case], size: int = CASE_BATCH) -> Iterator[tuple[int, list[Case]]]:
    """The source cases in numbered blocks of ``size``: block ``n`` is shard ``n`` of the run's plan.

    The numbering is fixed by the config (same suites, filters and order), so every worker of a run,
    and every later session, agrees on what each shard holds.
    """
    it = iter(source)
    for number in itertools.count():
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield number, chunk


async def prepare_batch(
    chunk: list[Case],
    *,
    store: CaseStore,
    send_base: bool,
    frozen: FrozenAttacks | None,
    on_skip: Callable[[SkippedRow], None] = lambda _row: None,
) -> list[Case]:
    """The cases to send for one block of source cases. Every case of the batch (and each attacked
    case's base) is saved in the store before it is returned, so nothing is ever sent that the store
    does not hold.

    A base case whose attacked variants the generator model cannot write (``GenerationError``,
    after the generator's own retries) is reported to ``on_skip`` and sent without them.
    """
    from core.errors import GenerationError

    batch: list[Case] = []
    made: list[Case] = []
    for case in chunk:
        if case.kind is CaseKind.BASE:
            if send_base:
                batch.append(case)
            if frozen is not None:
                try:
                    variants = await frozen.variants(case)
                except GenerationError as exc:
                    on_skip(SkippedRow(case.source, case.line, f"attacks on case {case.id}: {exc}"))
                    continue
                made.extend(variants)
                batch.extend(variants)
        else:
            batch.append(case)
    # A store locked by another connection pauses the run here instead of failing it.
    await wait_out_locks(lambda: store.save_cases([*chunk, *made]))
    return batch


async def case_batches(
    source: Iterable[Case],
    *,
    store: CaseStore,
    send_base: bool,
    frozen: FrozenAttacks | None,
    on_skip: Callable[[SkippedRow], None] = lambda _row: None,
    batch_size: int = CASE_BATCH,
) -> AsyncIterator[list[Case]]:
    """Every block of ``source`` prepared for sending (``prepare_batch``), in order."""
    for _number, chunk in case_chunks(source, batch_size):
        yield await prepare_batch(chunk, store=store, send_base=send_base, frozen=frozen, on_skip=on_skip)


@dataclass(frozen=True, slots=True)
class TargetPlan:
    """What one target gets for each case: its effective decodings and the samples per decoding."""

    name: str
    decodings: tuple[Decoding, ...]
    samples: int

    @classmethod
    def of(cls, config: RunConfig, target: TargetConfig) -> TargetPlan:
        """The plan for ``target`` under ``config``."""
        return cls(target.name, tuple(config.decodings_for(target)), config.samples)

    @property
    def per_case(self) -> int:
        """Work items per case."""
        return len(self.decodings) * self.samples

    def items(
        self, cases: Iterable[Case], skip: frozenset[str] | set[str] = frozenset()
    ) -> Iterator[WorkItem]:
        """The work items of ``cases`` for this target, in order, minus the keys in ``skip``."""
        name = self.name
        for case in cases:
            for decoding in self.decodings:
                for sample in range(self.samples):
                    key = WorkItem.make_key(case, name, decoding, sample)
                    if key not in skip:
                        yield WorkItem(key, case, name, decoding, sample)


def count_source_cases(config: RunConfig) -> tuple[int, int]:
    """(base cases, released attack cases) the run reads, counted by streaming the suites.

    Raises ``ConfigError`` naming the filter when the suites hold cases but ``languages`` or
    ``kinds`` leave none: such a run would "complete" without sending anything.
    """
    langs: Counter[str] = Counter()
    kinds: Counter[str] = Counter()

    def tally(cases: Iterable[Case]) -> Iterator[Case]:
        for case in cases:
            langs[case.lang] += 1
            kinds[case.kind.value] += 1
            yield case

    base = attack = 0
    for case in _selected(tally(_source_cases(config, on_skip=lambda _row: None)), config):
        if case.kind is CaseKind.BASE:
            base += 1
        else:
            attack += 1
    if base == attack == 0 and langs:
        _raise_empty_filter(config, langs, kinds)
    return base, attack


def _raise_empty_filter(config: RunConfig, langs: Counter[str], kinds: Counter[str]) -> None:
    from core.errors import ConfigError

    def held(counter: Counter[str]) -> str:
        return ", ".join(f"{key} {n:,}" for key, n in sorted(counter.items()))

    if not langs.keys() & set(config.languages):
        problem = f"`languages: {list(config.languages)}` matches none of them (they hold {held(langs)})"
    else:
        wanted = [k.value for k in config.kinds]
        problem = (
            f"`kinds: {wanted}` (attacks applied: {len(config.attacks.apply)}) matches none of the cases "
            f"in the chosen languages (the suites hold {held(kinds)})"
        )
    raise ConfigError(f"the run's filters leave no case to send from its suites: {problem}")


def planned_cases(config: RunConfig, base: int, released_attacks: int, variants_per_attack: int = 1) -> int:
    """Cases sent per (target, decoding, sample): base prompts, released attack rows, and each applied
    attack's variants of every base case (one each unless an attack is known to make more)."""
    sent_base = base if CaseKind.BASE in config.kinds else 0
    return sent_base + released_attacks + base * len(config.attacks.apply) * variants_per_attack


def planned_counts(config: RunConfig, cases: int) -> dict[str, int]:
    """Work items planned per target for ``cases`` cases."""
    return {t.name: cases * TargetPlan.of(config, t).per_case for t in config.targets}
