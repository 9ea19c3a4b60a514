"""The redactor removes configured secret values and common vendor key shapes."""

from __future__ import annotations

import pytest

from core.redaction import FRAGMENT_MIN, REDACTED, Redactor


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
    # Shares no 8-character fragment with the secrets (a shared fragment would be redacted too).
    monkeypatch.setenv("HARMLESS", "harmless-3-zyxwvuts")
    r = Redactor.from_environment(["ODDLY_NAMED_CRED_VAR"])
    text = "value-one-abcdefgh value-two-abcdefgh harmless-3-zyxwvuts"
    out = r.redact(text)
    assert "value-one-abcdefgh" not in out
    assert "value-two-abcdefgh" not in out
    assert "harmless-3-zyxwvuts" in out


def test_exception_text_is_redacted() -> None:
    key = "sk-" + "Z" * 40
    out = Redactor().redact_exception(RuntimeError(f"auth failed for {key}"))
    assert out.startswith("RuntimeError: auth failed for ")
    assert key not in out


SECRET = "plainwords-but-secret-123456"


@pytest.mark.parametrize(
    "echo",
    [
        SECRET[:12] + "...",  # a prefix, as vendors print "invalid key plainwords-b..."
        "..." + SECRET[-10:],  # a suffix
        f"{SECRET[:14]} / {SECRET[14:]}",  # the key split in two
        SECRET[5:13],  # any 8-character window
    ],
)
def test_long_fragments_of_a_configured_secret_are_removed(echo: str) -> None:
    out = Redactor([SECRET]).redact(f"invalid api key {echo} (401)")
    assert REDACTED in out
    assert out.startswith("invalid api key ")
    assert out.endswith(" (401)")
    for start in range(len(SECRET) - FRAGMENT_MIN + 1):
        assert SECRET[start : start + FRAGMENT_MIN] not in out


def test_fragments_shorter_than_the_minimum_are_kept() -> None:
    short = SECRET[: FRAGMENT_MIN - 1]
    assert Redactor([SECRET]).redact(f"see {short}!") == f"see {short}!"


def test_adjacent_fragments_become_one_marker_and_text_around_survives() -> None:
    other = "another-long-secret"
    out = Redactor([SECRET, other]).redact(f"a {SECRET}{other} b {SECRET[3:20]} c")
    assert out == f"a {REDACTED} b {REDACTED} c"
