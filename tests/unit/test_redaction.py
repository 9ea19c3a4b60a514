"""The redactor removes configured secret values and common vendor key shapes."""

from __future__ import annotations

import pytest

from core.redaction import REDACTED, Redactor


@pytest.mark.parametrize(
    "key",
    [
        "sk-proj-" + "a1B2" * 10,
        "sk-ant-api03-" + "x9Y8" * 8,
        "AIza" + "Q" * 35,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "gsk_" + "z" * 30,
        "hf_" + "k" * 30,
    ],
)
def test_key_shapes_are_removed(key: str) -> None:
    out = Redactor().redact(f"call failed: invalid key {key} (401)")
    assert key not in out
    assert REDACTED in out
    assert out.startswith("call failed: invalid key ")


def test_configured_values_of_any_shape_are_removed() -> None:
    secret = "plainwords-but-secret-123"
    out = Redactor([secret]).redact(f"url=https://x/?k={secret}&q=1")
    assert secret not in out


def test_short_values_are_not_treated_as_secrets() -> None:
    # A 3-character "secret" would shred ordinary text; it is ignored instead.
    assert Redactor(["the"]).redact("the cat") == "the cat"


def test_bearer_and_key_assignments() -> None:
    r = Redactor()
    assert "abcdef123456789" not in r.redact("Authorization: Bearer abcdef123456789")
    assert "s3cr3tvalue99" not in r.redact('{"api_key": "s3cr3tvalue99"}')


def test_from_environment_reads_secret_looking_and_named_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_VENDOR_API_KEY", "value-one-abcdefgh")
    monkeypatch.setenv("ODDLY_NAMED_CRED_VAR", "value-two-abcdefgh")
    monkeypatch.setenv("HARMLESS", "value-three-abcdefgh")
    r = Redactor.from_environment(["ODDLY_NAMED_CRED_VAR"])
    text = "value-one-abcdefgh value-two-abcdefgh value-three-abcdefgh"
    out = r.redact(text)
    assert "value-one-abcdefgh" not in out
    assert "value-two-abcdefgh" not in out
    assert "value-three-abcdefgh" in out


def test_exception_text_is_redacted() -> None:
    key = "sk-" + "Z" * 40
    out = Redactor().redact_exception(RuntimeError(f"auth failed for {key}"))
    assert out.startswith("RuntimeError: auth failed for ")
    assert key not in out
