"""Column mapping for generic JSONL and CSV suites: which column holds which field of a case.

On the command line a mapping is a comma-separated list of ``FIELD=COLUMN`` (read the field from
that column, or JSON key) and ``FIELD:=VALUE`` (the same value for every row)::

    --map text=question,lang=language,risk=category
    --map text=prompt,id=id,risk:=EM,lang:=en

Fields:

- ``text``: the prompt (column; default ``prompt``). Rows where it is missing or blank are skipped.
- ``id``: a stable case id (column). Without it the id is a hash of language and text.
- ``lang``: the language (column or constant): ``en``, ``zh``, ``en-US``, ``Chinese``, ...
  Without it the language is read from the text's script (CJK -> ``zh``, otherwise ``en``).
- ``risk``: the risk (column or constant; one of the two is required): a taxonomy id
  (``CI.drug_crimes``), a ``risk_type`` string (``Crimes_and_Illegal_Activities``), or a unique
  English or Chinese taxonomy name (``Drug Crimes``, ``毒品犯罪``).
- ``kind``: ``base`` or ``attack`` (column or constant); default ``attack`` when the row names an
  attack, else ``base``.
- ``attack``: the attack name (column or constant).
- ``parent``: the base case id an attacked row derives from (column).
- ``twin``: the id of the same prompt in the other language (column).

In Python, build ``ColumnMapping(text="question", risk="category")`` directly, or parse the
string form with ``ColumnMapping.parse``.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_CONSTANT_FIELDS = ("lang", "risk", "kind", "attack")
_FIELDS = ("text", "id", "lang", "risk", "kind", "attack", "parent", "twin")


class ColumnMapping(BaseModel):
    """Where a generic suite file keeps each case field (columns) or which value all rows share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field("prompt", min_length=1, description="Column holding the prompt text.")
    id: str | None = Field(None, min_length=1, description="Column holding a stable case id.")
    lang: str | None = Field(None, min_length=1, description="Column holding the language tag.")
    risk: str | None = Field(None, min_length=1, description="Column holding the risk label.")
    kind: str | None = Field(None, min_length=1, description="Column holding base/attack.")
    attack: str | None = Field(None, min_length=1, description="Column holding the attack name.")
    parent: str | None = Field(None, min_length=1, description="Column holding the parent base case id.")
    twin: str | None = Field(None, min_length=1, description="Column holding the other-language twin id.")
    fixed_lang: str | None = Field(None, min_length=1, description="Language of every row.")
    fixed_risk: str | None = Field(None, min_length=1, description="Risk label of every row.")
    fixed_kind: str | None = Field(None, min_length=1, description="Kind (base/attack) of every row.")
    fixed_attack: str | None = Field(None, min_length=1, description="Attack name of every row.")

    @model_validator(mode="after")
    def _one_source_per_field(self) -> Self:
        for name in _CONSTANT_FIELDS:
            if getattr(self, name) is not None and getattr(self, f"fixed_{name}") is not None:
                raise ValueError(
                    f"{name}: give a column ({name}=COLUMN) or a constant ({name}:=VALUE), not both"
                )
        if self.risk is None and self.fixed_risk is None:
            raise ValueError("risk: map a column (risk=COLUMN) or give one for every row (risk:=ID)")
        return self

    @classmethod
    def parse(cls, spec: str) -> ColumnMapping:
        """Parse ``text=question,risk=category,lang:=en``; ``ValueError`` naming the bad item."""
        values: dict[str, str] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            constant = ":=" in item
            name, sep, value = item.partition(":=" if constant else "=")
            name, value = name.strip(), value.strip()
            if not sep or not value:
                raise ValueError(f"mapping item {item!r}: expected FIELD=COLUMN or FIELD:=VALUE")
            allowed = _CONSTANT_FIELDS if constant else _FIELDS
            if name not in allowed:
                kind = "a constant for" if constant else "a column for"
                raise ValueError(
                    f"mapping item {item!r}: cannot set {kind} {name!r}; use one of {', '.join(allowed)}"
                )
            key = f"fixed_{name}" if constant else name
            if key in values:
                raise ValueError(f"mapping item {item!r}: {name!r} is given twice")
            values[key] = value
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = (
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors()
            )
            raise ValueError("; ".join(p.removeprefix("Value error, ") for p in problems)) from None

    def columns(self) -> dict[str, str]:
        """Field name -> column for every field read from a column."""
        return {name: col for name in _FIELDS if (col := getattr(self, name)) is not None}
