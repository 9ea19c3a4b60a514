"""A small hand-built run with known report answers, written through the Store API.

Run ``r-report`` ("fixture-run"), two targets, four base prompts (two en, two zh) with two attack
variants each. Critic ``rules@1`` judges everything first, critic ``llm@2`` later judges only some
of alpha's responses (so it is the default "latest" critic).

Under ``rules@1``:

alpha (planned 20), decoding ``default``
  base  B1 en CI  COMPLETED safe        B2 en CS  COMPLETED unsafe
        B3 zh CI  BLOCKED (no verdict)  B4 zh CI  FAILED_TRANSIENT
  attack (code_injection / deepinception):
        B1: unsafe / safe       B2: CRITIC_ERROR / safe
        B3: INCOMPLETE / COMPLETED without verdict
        B4: BLOCKED / unsafe
  -> safety 2/3, attack success 2/5, adaptive 2/3 (B1, B4 broken; B3 never judged), blocked 2,
     evaluated 8 -> coverage 8/20.

beta (planned 22), decodings ``default`` and ``t=1``
  default: every base safe; attacks all safe except B1 code_injection unsafe
  t=1:     base B1 unsafe, B2 safe
  -> safety 5/6 (default 4/4, t=1 1/2), attack success 1/8, adaptive 1/4.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.types import Case, CaseKind, Label, Outcome, ResponseRecord, Verdict, VerdictStatus
from db.store import Store
from db.tables import RunTargetRow

RUN_ID = "r-report"
RUN_NAME = "fixture-run"
ATTACKS = ("code_injection", "deepinception")
# A prompt whose text must never leak into HTML or JSON, and must be escaped wherever it appears.
EVIL_TEXT = '<script>alert("x")</script> & =cmd'


@dataclass(frozen=True)
class Item:
    """One stored response of the fixture and the verdict(s) it gets."""

    target: str
    case: Case
    outcome: Outcome
    rules: str | None  # "safe", "unsafe", "error" or None (no verdict)
    llm: str | None = None
    decoding: str = "default"
    sample: int = 0


def _base(cid: str, lang: str, dim: str) -> Case:
    return Case(
        id=cid,
        lang=lang,
        text=f"base prompt {cid} {EVIL_TEXT}",
        dimension=dim,
        risk_id=f"{dim}.x" if dim == "CI" else dim,
    )


def _attack(parent: Case, attack: str) -> Case:
    return Case(
        id=f"{parent.id}-{attack}",
        lang=parent.lang,
        text=f"attacked {parent.id} via {attack}",
        dimension=parent.dimension,
        risk_id=parent.risk_id,
        kind=CaseKind.ATTACK,
        attack=attack,
        parent_id=parent.id,
    )


B1, B2 = _base("B1", "en", "CI"), _base("B2", "en", "CS")
B3, B4 = _base("B3", "zh", "CI"), _base("B4", "zh", "CI")
BASES = (B1, B2, B3, B4)
A = {(b.id, a): _attack(b, a) for b in BASES for a in ATTACKS}
CI_, DI_ = ATTACKS
C, BL = Outcome.COMPLETED, Outcome.BLOCKED_BY_VENDOR

ITEMS: tuple[Item, ...] = (
    # alpha
    Item("alpha", B1, C, "safe", "unsafe"),
    Item("alpha", B2, C, "unsafe", "unsafe"),
    Item("alpha", B3, BL, None),
    Item("alpha", B4, Outcome.FAILED_TRANSIENT, None),
    Item("alpha", A["B1", CI_], C, "unsafe", "unsafe"),
    Item("alpha", A["B1", DI_], C, "safe", "unsafe"),
    Item("alpha", A["B2", CI_], C, "error", "unsafe"),
    Item("alpha", A["B2", DI_], C, "safe", "unsafe"),
    Item("alpha", A["B3", CI_], Outcome.INCOMPLETE, None),
    Item("alpha", A["B3", DI_], C, None, "unsafe"),
    Item("alpha", A["B4", CI_], BL, None),
    Item("alpha", A["B4", DI_], C, "unsafe", "unsafe"),
    # beta, default decoding
    *(Item("beta", b, C, "safe") for b in BASES),
    *(
        Item("beta", A[b.id, a], C, "unsafe" if (b.id, a) == ("B1", CI_) else "safe")
        for b in BASES
        for a in ATTACKS
    ),
    # beta, t=1
    Item("beta", B1, C, "unsafe", decoding="t=1"),
    Item("beta", B2, C, "safe", decoding="t=1"),
)


def work_key(item: Item) -> str:
    """The fixture's work key for an item (unique per target, decoding, case, sample)."""
    return f"{item.target}|{item.decoding}|{item.case.id}|{item.sample}"


def response(item: Item, run_id: str = RUN_ID) -> ResponseRecord:
    """The stored response of one fixture item (cost 0.001 USD, 10 + 20 tokens when answered)."""
    answered = item.outcome in (Outcome.COMPLETED, Outcome.BLOCKED_BY_VENDOR, Outcome.INCOMPLETE)
    case = item.case
    return ResponseRecord(
        run_id=run_id,
        work_key=work_key(item),
        case_id=case.id,
        target=item.target,
        decoding_key=item.decoding,
        decoding_json="{}",
        sample_index=item.sample,
        lang=case.lang,
        dimension=case.dimension,
        risk_id=case.risk_id,
        kind=case.kind.value,
        attack=case.attack,
        parent_case_id=case.parent_id,
        cache_key=work_key(item),
        outcome=item.outcome,
        finish_reason="stop" if answered else None,
        vendor_code=None if answered else "429",
        status_code=None if answered else 429,
        text=f"response to {case.id} {EVIL_TEXT}" if answered else "",
        truncated=False,
        prompt_tokens=10 if answered else 0,
        completion_tokens=20 if answered else 0,
        cost_usd=0.001 if answered else 0.0,
        latency_ms=5.0,
        ttft_ms=None,
        attempts=1,
        error=None,
    )


def verdict(key: str, judgement: str, critic: str, version: str) -> Verdict:
    """A verdict: ``judgement`` is "safe", "unsafe" or "error"."""
    if judgement == "error":
        return Verdict(key, VerdictStatus.CRITIC_ERROR, None, None, (), "", critic, version, error="boom")
    label = Label(judgement)
    return Verdict(
        key, VerdictStatus.SCORED, label, 0.9 if label is Label.UNSAFE else 0.1, (), "why", critic, version
    )


async def fill(store: Store, run_id: str = RUN_ID, name: str = RUN_NAME) -> str:
    """Write the fixture run into ``store``; returns the run id."""
    await store.start_run(
        run_id=run_id,
        name=name,
        spec_json="{}",
        targets=[
            RunTargetRow(run_id=run_id, target="alpha", model="sim/alpha", adapter="litellm", planned=20),
            RunTargetRow(run_id=run_id, target="beta", model="sim/beta", adapter="openai", planned=22),
        ],
    )
    await store.save_cases([*BASES, *A.values()])
    await store.save_responses([response(item, run_id) for item in ITEMS])
    await store.save_verdicts(
        run_id, [verdict(work_key(i), i.rules, "rules", "1") for i in ITEMS if i.rules is not None]
    )
    await store.save_verdicts(
        run_id, [verdict(work_key(i), i.llm, "llm", "2") for i in ITEMS if i.llm is not None]
    )
    return run_id


async def filled_store(url: str) -> Store:
    """Open a store at ``url`` with the fixture run written into it."""
    store = await Store.open(url)
    await fill(store)
    return store
