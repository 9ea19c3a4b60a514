"""Run config: validation errors name the file, field and line; adapter defaults; run id."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from gateway.config import RunConfig, TargetConfig, load_run_config

GOOD = """\
name: smoke
suites: [sample, data/mine.jsonl]
languages: [en]
targets:
  - name: gpt
    model: openai/gpt-4o-mini
    api_key_env: OPENAI_API_KEY
    limits: {rpm: 500, tpm: 200000, max_in_flight: 8}
  - name: claude
    model: anthropic/claude-3-5-haiku-20241022
  - name: local
    model: qwen2.5-7b
    api_base: http://127.0.0.1:8000/v1
decoding:
  temperatures: [0.0, 0.7]
  top_ps: [1.0, 0.9]
  max_tokens: [256]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "run.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_run_config(write(tmp_path, GOOD))
    assert cfg.suites[0] == "sample"
    assert cfg.suites[1] == str((tmp_path / "data/mine.jsonl").resolve())
    assert [t.adapter for t in cfg.targets] == ["openai", "anthropic", "openai"]
    local = cfg.target("local")
    assert local.litellm_model == "openai/qwen2.5-7b"
    assert cfg.target("gpt").openai_base_url == "https://api.openai.com/v1"
    decs = cfg.decodings_for(cfg.target("gpt"))
    assert len(decs) == 4
    assert {d.key for d in decs} == {
        "t=0,p=1,max=256",
        "t=0,p=0.9,max=256",
        "t=0.7,p=1,max=256",
        "t=0.7,p=0.9,max=256",
    }


@pytest.mark.parametrize(
    ("model", "api_base", "adapter"),
    [
        ("openai/gpt-4o", None, "openai"),
        ("deepseek/deepseek-chat", None, "openai"),
        ("dashscope/qwen-max", None, "openai"),
        ("hosted_vllm/llama", "http://h:8000/v1", "openai"),
        ("hosted_vllm/llama", None, "litellm"),
        ("anthropic/claude-3-5-haiku", None, "anthropic"),
        ("azure/my-deploy", None, "litellm"),
        ("gemini/gemini-2.0-flash", None, "gemini"),
        ("bedrock/anthropic.claude-v2", None, "litellm"),
        ("some-model", "http://h/v1", "openai"),
        ("meta-llama/Llama-3-8B", "http://h/v1", "openai"),
        ("cohere/command-r", None, "litellm"),
    ],
)
def test_adapter_default_per_provider(model: str, api_base: str | None, adapter: str) -> None:
    t = TargetConfig(name="t", model=model, api_base=api_base)
    assert t.adapter == adapter
    if api_base is not None and "/" in model and not model.startswith("hosted_vllm/"):
        assert t.litellm_model == f"openai/{model}"  # a slash inside a served model's own name


def test_native_adapters_and_vendor_fields() -> None:
    azure = TargetConfig(name="t", model="azure/my-deploy", api_base="https://r.openai.azure.com")
    assert (azure.adapter, azure.litellm_model) == ("azure", "azure/my-deploy")
    with pytest.raises(ValueError, match="speaks only `gemini/"):
        TargetConfig(name="t", model="anthropic/claude", adapter="gemini")
    with pytest.raises(ValueError, match="`azure` needs `api_base`"):
        TargetConfig(name="t", model="azure/d", adapter="azure")
    secret = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"
    t = TargetConfig(
        name="t",
        model="anthropic/claude",
        extra_body={"metadata": {"user_id": "u1"}, "note": secret},
        headers={"Anthropic-Beta": "tools-2024", "X-Auth": "plain-looking-value", "x-other": secret},
    )
    spec = t.work_spec()
    assert spec["headers"] == {
        "anthropic-beta": "tools-2024",
        "x-auth": "[REDACTED]",
        "x-other": "[REDACTED]",
    }
    assert spec["extra_body"] == {"metadata": {"user_id": "u1"}, "note": "[REDACTED]"}
    assert secret not in str(spec)
    # vendor fields change the answers, so they change the run's spec; unset ones leave it as before
    plain = TargetConfig(name="t", model="anthropic/claude")
    assert "headers" not in plain.work_spec()
    assert "extra_body" not in plain.work_spec()
    assert plain.work_spec() != TargetConfig(name="t", model="anthropic/claude", api_version="v").work_spec()


def test_openai_adapter_refused_for_native_apis() -> None:
    with pytest.raises(ValueError, match="cannot speak anthropic"):
        TargetConfig(name="t", model="anthropic/claude", adapter="openai")
    with pytest.raises(ValueError, match="needs `api_base`"):
        TargetConfig(name="t", model="hosted_vllm/llama", adapter="openai")


def test_bare_model_without_url_is_an_error() -> None:
    with pytest.raises(ValueError, match="no provider prefix"):
        TargetConfig(name="t", model="gpt-4o")


def test_key_value_instead_of_env_name_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("OPENAI_API_KEY", "sk-proj-abcdefghijklmnopqrstuvwx")
    with pytest.raises(ConfigError) as info:
        load_run_config(write(tmp_path, text))
    msg = str(info.value)
    assert "targets.0.api_key_env (line 7)" in msg
    assert "abcdefghijklmnop" not in msg  # the key itself is never echoed


def test_unknown_field_names_file_field_and_line(tmp_path: Path) -> None:
    text = GOOD.replace("    limits: {rpm: 500", "    limts: {rpm: 500")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "targets.0.limts (line 8)" in msg
    assert "Extra inputs are not permitted" in msg


def test_bad_value_in_grid_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("temperatures: [0.0, 0.7]", "temperatures: [0.0, 9]"))
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    msg = str(info.value)
    assert "decoding.temperatures.1 (line 15): Input should be less than or equal to 2" in msg
    assert "1 problem(s)" in msg


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nsuites: [sample\ntargets: []\n")
    with pytest.raises(ConfigError, match=r"run.yaml \(line \d+, column \d+\): invalid YAML"):
        load_run_config(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read run config"):
        load_run_config(tmp_path / "nope.yaml")


def test_duplicate_target_names_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("name: claude", "name: gpt")
    with pytest.raises(ConfigError, match="used twice"):
        load_run_config(write(tmp_path, text))


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_run_config(write(tmp_path, GOOD))
    with pytest.raises(ValueError, match="frozen"):
        cfg.samples = 3  # type: ignore[misc]


def test_run_id_depends_on_work_not_on_operational_settings(tmp_path: Path) -> None:
    base = load_run_config(write(tmp_path, GOOD))
    same = load_run_config(
        write(tmp_path, GOOD.replace("rpm: 500", "rpm: 50") + "budget: {max_usd: 3}\ncache: false\n")
    )
    other = load_run_config(write(tmp_path, GOOD.replace("max_tokens: [256]", "max_tokens: [512]")))
    assert base.run_id == same.run_id
    assert base.run_id != other.run_id
    assert len(base.run_id) == 32
    # Same object through the SDK gives the same id as through YAML.
    assert RunConfig.model_validate(base.model_dump()).run_id == base.run_id


def test_overrides_replace_fields(tmp_path: Path) -> None:
    cfg = load_run_config(write(tmp_path, GOOD), db_url="sqlite+aiosqlite:///x.db")
    assert cfg.db_url == "sqlite+aiosqlite:///x.db"


def test_attacks_need_attack_kind(tmp_path: Path) -> None:
    text = GOOD + "kinds: [base]\nattacks: {apply: [code_injection]}\n"
    with pytest.raises(ConfigError, match="attack` is not in kinds"):
        load_run_config(write(tmp_path, text))


def test_documented_example_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "run.yaml"
    cfg = load_run_config(example)
    assert [t.adapter for t in cfg.targets] == ["openai", "anthropic", "openai"]
    assert cfg.attacks.apply
    assert len(cfg.decoding_settings()) == 2


def test_endpoint_name_stands_in_for_the_address_in_the_run_id(tmp_path: Path) -> None:
    named = GOOD.replace(
        "    api_base: http://127.0.0.1:8000/v1",
        "    api_base: http://127.0.0.1:8000/v1\n    endpoint_name: lab-vllm",
    )
    first = load_run_config(write(tmp_path, named))
    moved = load_run_config(write(tmp_path, named.replace(":8000", ":41234")))
    assert first.run_id == moved.run_id
    assert first.target("local").api_base != moved.target("local").api_base
    # Without a name the address is part of the work, as before; another name is other work.
    plain = load_run_config(write(tmp_path, GOOD))
    assert plain.run_id != load_run_config(write(tmp_path, GOOD.replace(":8000", ":41234"))).run_id
    assert first.run_id != plain.run_id
    assert first.run_id != load_run_config(write(tmp_path, named.replace("lab-vllm", "other"))).run_id


def test_demo_run_id_does_not_depend_on_the_simulator_port() -> None:
    from gateway.demo import demo_config

    url = "sqlite+aiosqlite:///demo.db"
    first = demo_config("http://127.0.0.1:40001/v1", url)
    second = demo_config("http://127.0.0.1:40002/v1", url)
    assert first.run_id == second.run_id
