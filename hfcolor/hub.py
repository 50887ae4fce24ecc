"""Is the Hugging Face Hub reachable? Asked once, in seconds, instead of letting each call retry for ~20 s."""

from __future__ import annotations

import functools
import socket
from urllib.parse import urlparse

from huggingface_hub import constants


@functools.lru_cache(maxsize=1)
def hub_unreachable_reason(timeout: float = 3.0) -> str | None:
    """None when the Hub answers; otherwise why not (offline mode, no route, no DNS)."""
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as error:
        return f"cannot reach {host} ({error})"
    return None
