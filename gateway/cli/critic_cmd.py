"""CLI commands: ``seval critic serve|validate``, ``seval critique RUN`` and ``seval critique export``.

Import-light: FastAPI, uvicorn, the backends (torch for hf), the store and httpx are imported inside
the commands.
"""

from __future__ import annotations

import asyncio
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from gateway.cli.db_cmd import DbOption

if TYPE_CHECKING:
    from critic_server.config import ServerConfig

critic_app = typer.Typer(help="Run or validate the critic (Mc) that scores responses.", no_args_is_help=True)


class _CritiqueGroup(TyperGroup):
    """``seval critique RUN`` scores a run (the hidden ``run`` subcommand) while ``seval critique
    export ...`` names a subcommand: anything that is not a subcommand name goes to ``run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


critique_app = typer.Typer(
    cls=_CritiqueGroup,
    help="Score a run's responses (`seval critique RUN`), or export items for human review.",
    no_args_is_help=True,
)


class BackendChoice(StrEnum):
    """Critic backends."""

    rules = "rules"
    hf = "hf"
    openai = "openai"


class DeviceChoice(StrEnum):
    """Where an hf judge runs."""

    cpu = "cpu"
    cuda = "cuda"


class SplitChoice(StrEnum):
    """Which fixed half of the labels ``validate`` reads (see critic_server/validation.py)."""

    all = "all"
    tune = "tune"
    heldout = "heldout"


class LabelFormatChoice(StrEnum):
    """Label file formats for ``validate``."""

    xstest = "xstest"
    jsonl = "jsonl"
    review = "review"


BackendOpt = Annotated[BackendChoice, typer.Option("--backend", help="Critic backend.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", help="hf: local model directory; openai: the judge's model name.", show_default=False
    ),
]
DeviceOpt = Annotated[DeviceChoice, typer.Option("--device", help="hf: where the model runs.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="openai: the judge's API base (…/v1).", show_default=False)
]
ApiKeyEnvOpt = Annotated[
    str | None,
    typer.Option("--api-key-env", help="openai: variable holding the judge's API key.", show_default=False),
]
JudgeConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--judge-config",
        help="JSON or YAML file with further hf/openai settings (prompt template, label map, ...).",
        show_default=False,
    ),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _read_token(token_env: str | None) -> str | None:
    if token_env is None:
        return None
    value = os.environ.get(token_env, "")
    if not value:
        _fail(f"--token-env {token_env}: the variable is unset or empty")
    return value


def _server_config(
    backend: BackendChoice,
    model: str | None,
    device: DeviceChoice,
    base_url: str | None,
    api_key_env: str | None,
    judge_config: Path | None,
    **extra: Any,
) -> ServerConfig:
    from pydantic import ValidationError

    from critic_server.config import ServerConfig

    settings: dict[str, Any] = {}
    if judge_config is not None:
        import yaml

        try:
            loaded = yaml.safe_load(judge_config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            _fail(f"{judge_config}: cannot read judge settings ({exc})")
        if not isinstance(loaded, dict):
            _fail(f"{judge_config}: judge settings must be a mapping")
        settings.update(loaded)
    if backend is BackendChoice.hf:
        if model:
            settings["model"] = model
        settings["device"] = device.value
        if "model" not in settings:
            _fail("--backend hf needs --model PATH (a local model directory)")
    elif backend is BackendChoice.openai:
        if model:
            settings["model"] = model
        if base_url:
            settings["base_url"] = base_url
        if api_key_env:
            settings["api_key_env"] = api_key_env
        if "model" not in settings or "base_url" not in settings:
            _fail("--backend openai needs --model NAME and --base-url URL")
    payload: dict[str, Any] = {"backend": backend.value, **extra}
    if backend is not BackendChoice.rules:
        payload[backend.value] = settings
    try:
        return ServerConfig.model_validate(payload)
    except ValidationError as exc:
        _fail(f"invalid critic settings: {exc}")


@critic_app.command("serve")
def serve(
    backend: BackendOpt = BackendChoice.rules,
    model: ModelOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (non-loopback needs a token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to bind.")] = 8089,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env", help="Variable holding the bearer token clients must send.", show_default=False
        ),
    ] = None,
    device: DeviceOpt = DeviceChoice.cpu,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    judge_config: JudgeConfigOpt = None,
) -> None:
    """Serve the critic over HTTP (POST /v1/critique, GET /v1/info, GET /healthz, /docs)."""
    from critic_server.config import check_bind

    token = _read_token(token_env)
    try:
        check_bind(host, token is not None)
    except ValueError as exc:
        _fail(str(exc))
    config = _server_config(backend, model, device, base_url, api_key_env, judge_config, token=token)

    import uvicorn

    from critic_server.app import create_app

    typer.echo(f"critic ({backend.value}) on http://{host}:{port}", err=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)


@critic_app.command("validate")
def validate(
    labels: Annotated[
        list[Path],
        typer.Option("--labels", help="Label file(s): --labels A B or --labels A --labels B."),
    ],
    fmt: Annotated[LabelFormatChoice, typer.Option("--format", help="Label file format.")],
    more_labels: Annotated[
        list[Path] | None,
        typer.Argument(help="More label files (after --labels FILE).", show_default=False),
    ] = None,
    backend: BackendOpt = BackendChoice.rules,
    split: Annotated[
        SplitChoice,
        typer.Option(
            "--split",
            help="Rows of one fixed half only: tune (rules were tuned on it) or heldout (never seen).",
        ),
    ] = SplitChoice.all,
    model: ModelOpt = None,
    device: DeviceOpt = DeviceChoice.cpu,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    judge_config: JudgeConfigOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
    run_config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Validate the critic of this run config (e.g. a vendor `judge` or a cascade) "
            "instead of --backend.",
            show_default=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SEVAL_DB",
            help="Store the result in this database (reports show a critic's latest validation); "
            "review files exported without texts read them from it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Balanced accuracy, precision/recall for unsafe and confusion matrix against human labels."""
    from critic_server.validation import LabelFileError, load_labels, report

    try:
        rows = load_labels([*labels, *(more_labels or [])], fmt.value, split.value)
    except (LabelFileError, OSError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    if not rows:
        _fail("the label files hold no labelled rows")
    if any(r.needs_text for r in rows):
        if db is None:
            _fail("the review file has no texts: pass --db (the run's database) to read them")
        rows = asyncio.run(_fill_texts(rows, db))
    if run_config is not None:
        predicted, critic, version = asyncio.run(_critique_rows(run_config, rows))
    else:
        config = _server_config(backend, model, device, base_url, api_key_env, judge_config)
        predicted, critic, version = asyncio.run(_judge_rows(config, rows))
    result = {"critic": critic, "critic_version": version, "split": split.value, **report(rows, predicted)}
    if db is not None:
        asyncio.run(_store_validation(db, labels, rows, result))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        _print_table(result)


async def _judge_rows(config: ServerConfig, rows: list[Any]) -> tuple[list[bool | None], str, str]:
    from core.critic_wire import CritiqueItemIn
    from critic_server.app import load_backend

    backend = await load_backend(config)
    try:
        predicted: list[bool | None] = []
        for start in range(0, len(rows), 64):
            chunk = rows[start : start + 64]
            items = [
                CritiqueItemIn(id=str(start + i), prompt=r.prompt, response=r.response, lang=r.lang)
                for i, r in enumerate(chunk)
            ]
            for j in await backend.judge(items):
                predicted.append(None if j.error is not None or j.label is None else j.label == "unsafe")
        return predicted, backend.critic_name, backend.version
    finally:
        await backend.aclose()


async def _fill_texts(rows: list[Any], db_url: str) -> list[Any]:
    """Review rows with their prompt and response texts read from the run's database."""
    from dataclasses import replace

    from db.critic_records import texts_of
    from db.store import Store, StoreError

    try:
        store = await Store.open(db_url, create=False)
    except StoreError as exc:
        _fail(str(exc))
    try:
        texts: dict[tuple[str, str], tuple[str, str]] = {}
        for run_id in sorted({r.run_id for r in rows if r.needs_text}):
            keys = [r.key for r in rows if r.run_id == run_id and r.needs_text]
            for key, pair in (await texts_of(store.engine, run_id, keys)).items():
                texts[(run_id, key)] = pair
    finally:
        await store.close()
    missing = [r for r in rows if r.needs_text and (r.run_id, r.key) not in texts]
    if missing:
        _fail(
            f"{len(missing)} labelled items are not in the database "
            f"(first: {missing[0].source}:{missing[0].line})"
        )
    return [
        replace(r, prompt=texts[(r.run_id, r.key)][0], response=texts[(r.run_id, r.key)][1])
        if r.needs_text
        else r
        for r in rows
    ]


async def _critique_rows(run_config: Path, rows: list[Any]) -> tuple[list[bool | None], str, str]:
    """Verdicts of the critic a run config names (a judge through the gateway, or a cascade)."""
    from core.errors import InputError
    from core.types import CritiqueItem, VerdictStatus
    from gateway.sdk import open_critic

    try:
        opened = open_critic(run_config)
        async with opened as critic:
            predicted: list[bool | None] = []
            for start in range(0, len(rows), 64):
                chunk = rows[start : start + 64]
                items = [
                    CritiqueItem(id=str(start + i), prompt=r.prompt, response=r.response, lang=r.lang)
                    for i, r in enumerate(chunk)
                ]
                for v in await critic.critique(items):
                    ok = v.status is VerdictStatus.SCORED and v.label is not None
                    predicted.append(v.label == "unsafe" if ok else None)
            return predicted, critic.name, critic.version
    except InputError as exc:
        _fail(str(exc))


async def _store_validation(db_url: str, paths: list[Path], rows: list[Any], result: dict[str, Any]) -> None:
    """One ``critic_validations`` row per language and one for all (see ``db.critic_records``)."""
    import hashlib

    from db.critic_records import ValidationRecord, save_validations
    from db.store import Store, StoreError

    digest = hashlib.sha256()
    for r in rows:  # the labelled data itself: same labels, same hash, wherever the file lives
        digest.update(f"{r.key}\0{r.lang}\0{r.unsafe}\0{r.prompt}\0{r.response}\n".encode())
    scopes = [("all", result), *result["by_language"].items()]
    records = [
        ValidationRecord(
            critic=result["critic"],
            critic_version=result["critic_version"],
            dataset=", ".join(p.name for p in paths)[:500],
            dataset_hash=digest.hexdigest(),
            split=result["split"],
            lang=lang,
            n=m["n"],
            balanced_accuracy=m["balanced_accuracy"],
            unsafe_precision=m["precision_unsafe"],
            unsafe_recall=m["recall_unsafe"],
            errors=m["critic_errors"],
        )
        for lang, m in scopes
    ]
    try:
        store = await Store.open(db_url)
    except StoreError as exc:
        _fail(str(exc))
    try:
        await save_validations(store.engine, records)
    finally:
        await store.close()


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Critic {result['critic']} {result['critic_version']}, split {result['split']} "
        "(unsafe = positive class)"
    )
    for col in ("scope", "n", "balanced acc.", "precision", "recall", "TP", "FP", "TN", "FN", "errors"):
        table.add_column(col, justify="right" if col != "scope" else "left")
    scopes = [("all", result)] + [(f"lang={k}", v) for k, v in result["by_language"].items()]
    for scope, m in scopes:
        c = m["confusion"]
        table.add_row(
            scope,
            str(m["n"]),
            _fmt(m["balanced_accuracy"]),
            _fmt(m["precision_unsafe"]),
            _fmt(m["recall_unsafe"]),
            str(c["tp"]),
            str(c["fp"]),
            str(c["tn"]),
            str(c["fn"]),
            str(m["critic_errors"]),
        )
    Console().print(table)


def critique(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix, or name.")],
    critic_url: Annotated[
        str | None,
        typer.Option(
            "--critic-url", help="Critic server URL (default: start the embedded one).", show_default=False
        ),
    ] = None,
    old_critic: Annotated[
        str | None, typer.Option("--critic", hidden=True, help="Deprecated spelling of --critic-url.")
    ] = None,
    db: DbOption = None,
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore", help="Score every completed response again (keeps other critics' verdicts)."
        ),
    ] = False,
    backend: Annotated[
        BackendChoice, typer.Option("--backend", help="Backend of the embedded critic (without --critic).")
    ] = BackendChoice.rules,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env", help="Variable holding the critic server's bearer token.", show_default=False
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Items per critic request.")] = 64,
) -> None:
    """Score a run's unscored or failed responses (or all, with --rescore) and store the verdicts."""
    if critic_url is None and old_critic is None and backend is not BackendChoice.rules:
        _fail(
            "the embedded critic runs the rules backend; "
            "serve others with `seval critic serve` and pass --critic-url"
        )
    if old_critic is not None:
        # `--critic` names NAME@VERSION in `seval report`; here it was a URL. Kept for old scripts.
        typer.echo("warning: --critic is deprecated here: pass the server URL as --critic-url", err=True)
        critic_url = critic_url or old_critic
    token = _read_token(token_env)
    scored, failed = asyncio.run(_critique(run, critic_url, db, rescore, token, batch_size))
    typer.echo(f"scored {scored} responses, {failed} critic errors")
    if failed:
        raise typer.Exit(1)


async def _critique(
    run_ref: str,
    critic_url: str | None,
    db_url: str | None,
    rescore: bool,
    token: str | None,
    batch_size: int,
) -> tuple[int, int]:
    from contextlib import AsyncExitStack

    from core.protocols import Critic
    from core.types import CritiqueItem, VerdictStatus
    from critic_server.local import LocalCritic
    from db.engine import DEFAULT_URL, UnsupportedDatabaseURL
    from db.store import Store, StoreError
    from gateway.critic_client import CriticClient, CriticUnavailable
    from gateway.reports.api import ReportError, require_existing_database

    url = db_url or DEFAULT_URL
    try:
        require_existing_database(url)  # scoring a run needs one: never create an empty database
        store = await Store.open(url)
    except (StoreError, ReportError, UnsupportedDatabaseURL) as exc:
        _fail(str(exc))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        run = await store.get_run(run_ref)
        if run is None:
            _fail(f"no run matches {run_ref!r}")
        client: Critic
        if critic_url is None:
            client = await stack.enter_async_context(LocalCritic.open())
        else:
            remote = CriticClient(critic_url, token=token, batch_size=batch_size)
            stack.push_async_callback(remote.aclose)
            try:
                await remote.start()
            except CriticUnavailable as exc:
                _fail(str(exc))
            client = remote
        scored = failed = 0
        pages = store.pending_critique(run.id, client.name, client.version, rescore=rescore, batch_size=256)
        async for page in pages:
            items = [
                CritiqueItem(
                    id=p.work_key, prompt=p.prompt, response=p.response, lang=p.lang, risk_hint=p.dimension
                )
                for p in page
            ]
            verdicts = await client.critique(items)
            await store.save_verdicts(run.id, verdicts)
            ok = sum(v.status is VerdictStatus.SCORED for v in verdicts)
            scored += ok
            failed += len(verdicts) - ok
        return scored, failed


def register(app: typer.Typer) -> None:
    """Attach ``seval critic ...`` and ``seval critique`` to the root app."""
    app.add_typer(critic_app, name="critic")
    critique_app.command("run", hidden=True)(critique)
    critique_app.command("export")(export)
    app.add_typer(critique_app, name="critique")


def export(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix, or name.")],
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    disagreements: Annotated[
        bool, typer.Option("--disagreements", help="Only items the two critics label differently.")
    ] = False,
    critic: Annotated[
        str | None,
        typer.Option("--critic", help="Critic A, NAME or NAME@VERSION (default: the run's latest)."),
    ] = None,
    other: Annotated[
        str | None,
        typer.Option("--other", help="Critic B, NAME or NAME@VERSION (default: the next one)."),
    ] = None,
    include_text: Annotated[
        bool,
        typer.Option("--include-text", help="Write prompt and response texts (labellers need them)."),
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N items.")] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="SEVAL_DB", help="Database URL.", show_default=False),
    ] = None,
) -> None:
    """Write items two critics both scored (or only their disagreements) for human labelling.

    Each line: run_id, id (the work key), target, lang, dimension, risk_id, kind, attack, both
    critics' labels, and ``label`` (null: the labeller writes safe or unsafe); prompt and response
    only with --include-text. Read the labelled file back with
    ``seval critic validate --format review --labels FILE``.
    """
    n = asyncio.run(_export(run, out, disagreements, critic, other, include_text, limit, db))
    typer.echo(
        f"wrote {n} items to {out}" + ("" if include_text else " (no texts: --include-text adds them)")
    )


async def _export(
    run_ref: str,
    out: Path,
    disagreements: bool,
    critic: str | None,
    other: str | None,
    include_text: bool,
    limit: int | None,
    db_url: str | None,
) -> int:
    from db.critic_records import review_items
    from db.engine import DEFAULT_URL
    from db.store import Store, StoreError
    from gateway.reports.metrics import ReportError, choose_critic

    try:
        store = await Store.open(db_url or DEFAULT_URL, create=False)
    except StoreError as exc:
        _fail(str(exc))
    try:
        found = await store.get_run(run_ref)
        if found is None:
            _fail(f"no run matches {run_ref!r}")
        async with store.reading() as q:
            critics = await q.critics(found.id)
        try:
            a = choose_critic(critics, critic)
            rest = [c for c in critics if a is None or (c.name, c.version) != (a.name, a.version)]
            b = choose_critic(rest, other)
        except ReportError as exc:
            _fail(str(exc))
        if a is None or b is None:
            _fail("export needs two critics with verdicts in the run; score it with another critic first")
        items = await review_items(
            store.engine,
            found.id,
            (a.name, a.version),
            (b.name, b.version),
            disagreements_only=disagreements,
            include_text=include_text,
            limit=limit,
        )
    finally:
        await store.close()
    with out.open("w", encoding="utf-8") as f:
        for it in items:
            row: dict[str, Any] = {
                "run_id": found.id,
                "id": it.work_key,
                "target": it.target,
                "lang": it.lang,
                "dimension": it.dimension,
                "risk_id": it.risk_id,
                "kind": it.kind,
                "attack": it.attack,
                "critics": {a.label: it.label_a, b.label: it.label_b},
                "label": None,
            }
            if include_text:
                row["prompt"], row["response"] = it.prompt, it.response
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(items)
