"""CLI commands: ``seval critic serve|validate`` and ``seval critique RUN``.

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

if TYPE_CHECKING:
    from critic_server.config import ServerConfig

critic_app = typer.Typer(help="Run or validate the critic (Mc) that scores responses.", no_args_is_help=True)


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
        list[Path], typer.Option("--labels", help="Label file(s); repeat the option for several.")
    ],
    fmt: Annotated[LabelFormatChoice, typer.Option("--format", help="Label file format.")],
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
) -> None:
    """Balanced accuracy, precision/recall for unsafe and confusion matrix against human labels."""
    from critic_server.validation import LabelFileError, load_labels, report

    try:
        rows = load_labels(labels, "xstest" if fmt is LabelFormatChoice.xstest else "jsonl", split.value)
    except (LabelFileError, OSError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    if not rows:
        _fail("the label files hold no rows")
    config = _server_config(backend, model, device, base_url, api_key_env, judge_config)
    predicted, critic, version = asyncio.run(_judge_rows(config, rows))
    result = {"critic": critic, "critic_version": version, "split": split.value, **report(rows, predicted)}
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
    critic: Annotated[
        str | None,
        typer.Option(
            "--critic", help="Critic server URL (default: start the embedded one).", show_default=False
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SEVAL_DB",
            help="Database URL (default sqlite+aiosqlite:///seval.db).",
            show_default=False,
        ),
    ] = None,
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
    if critic is None and backend is not BackendChoice.rules:
        _fail(
            "the embedded critic runs the rules backend; "
            "serve others with `seval critic serve` and pass --critic"
        )
    token = _read_token(token_env)
    scored, failed = asyncio.run(_critique(run, critic, db, rescore, token, batch_size))
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
    from db.engine import DEFAULT_URL
    from db.store import Store, StoreError
    from gateway.critic_client import CriticClient, CriticUnavailable

    try:
        store = await Store.open(db_url or DEFAULT_URL)
    except StoreError as exc:
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
    app.command("critique")(critique)
