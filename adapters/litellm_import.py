"""The one way this project imports litellm: offline, and without its stdout banners."""

from __future__ import annotations

import os
from types import ModuleType


def quiet_litellm() -> ModuleType:
    """litellm, with its bundled cost map (there may be no internet) and its debug banners off.

    Without ``suppress_debug_info`` litellm prints a provider list to stdout for every model its map
    lacks, which floods a run's output (and a bench's) when prices are looked up for custom models.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm
