"""Prices from config or litellm's offline map, and a model the map lacks costs nothing to look up:
no exception, no provider list printed on stdout."""

from __future__ import annotations

import pytest

from gateway.budget import price_for
from gateway.config import TargetConfig


def _target(model: str, **extra: object) -> TargetConfig:
    return TargetConfig.model_validate({"name": "t", "model": model, **extra})


def test_config_prices_win() -> None:
    price = price_for(_target("openai/gpt-4o", prices={"input_per_1m": 2.0, "output_per_1m": 8.0}))
    assert (price.input_per_token, price.output_per_token, price.known) == (2e-6, 8e-6, True)


def test_a_model_in_litellms_map_is_priced() -> None:
    price = price_for(_target("openai/gpt-4o"))
    assert price.known
    assert 0 < price.input_per_token < price.output_per_token


def test_an_unknown_model_is_unpriced_and_silent(capsys: pytest.CaptureFixture[str]) -> None:
    price = price_for(_target("acme-internal/model-that-no-map-lists"))
    assert (price.input_per_token, price.output_per_token, price.known) == (0.0, 0.0, False)
    out = capsys.readouterr()
    assert out.out == ""
    assert "Provider List" not in out.err
