"""Supply-chain guard: litellm 1.82.7 and 1.82.8 were compromised releases that shipped a
``litellm_init.pth`` start-up hook. Neither release, nor that file, may be present anywhere in the
environment the tests run in."""

from __future__ import annotations

import site
import sys
from importlib import metadata
from pathlib import Path

COMPROMISED_LITELLM = {"1.82.7", "1.82.8"}
HOOK_NAME = "litellm_init.pth"


def _site_dirs() -> list[Path]:
    """Every directory Python may read ``.pth`` files from, plus everything on sys.path."""
    dirs = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    return sorted({Path(d).resolve() for d in dirs if d and Path(d).is_dir()})


def test_no_compromised_litellm_release_is_installed() -> None:
    versions = {
        dist.version
        for dist in metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("_", "-") == "litellm"
    }
    assert versions, "litellm is a declared dependency and should be installed"
    assert not versions & COMPROMISED_LITELLM, f"compromised litellm installed: {sorted(versions)}"


def test_no_litellm_init_pth_in_any_site_directory() -> None:
    found = [str(d / HOOK_NAME) for d in _site_dirs() if (d / HOOK_NAME).exists()]
    assert found == []


def test_no_installed_distribution_ships_litellm_init_pth() -> None:
    owners = sorted(
        dist.metadata["Name"] or "?"
        for dist in metadata.distributions()
        if any(Path(str(f)).name == HOOK_NAME for f in dist.files or ())
    )
    assert owners == []


def test_the_scan_covers_this_interpreters_site_packages() -> None:
    # Guards the scan itself: if it looked in the wrong places the tests above would pass vacuously.
    litellm_dist = metadata.distribution("litellm")
    installed_in = Path(str(litellm_dist.locate_file(""))).resolve()
    assert installed_in in _site_dirs()
