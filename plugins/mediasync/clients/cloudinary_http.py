"""Room in the Cloudinary SDK's connection pools for the calls mediasync runs at once.

The official SDK sends every Admin/Search call through one module-level urllib3 pool manager
(`cloudinary.api_client.call_api._http`) and every upload through another (`cloudinary.uploader._http`),
built at import with urllib3's default of **one** kept connection per host. The cleanup drain, the
destroy fallback and the partitioned listing call Cloudinary from several threads at once, so every
answer but one would close its connection and the next call would open a new one: a TCP and TLS
handshake to Cloudinary, two to three round trips, for each call beyond the first (urllib3 logs
"Connection pool is full, discarding connection"). The SDK offers no setting for the size, so the
pools are rebuilt once per process, through the SDK's own `get_http_connector` (which keeps its
proxy and TCP keep-alive choices), with room for `KEPT_CONNECTIONS` per host.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import cloudinary
import cloudinary.api_client.call_api
import cloudinary.uploader
from cloudinary.utils import get_http_connector

log = logging.getLogger(__name__)

# Connections kept per host: the most calls one process runs at once (destroy fallback 20 + the
# drain's chunks + the listing's cursors stay under this); more are still opened, just not kept.
KEPT_CONNECTIONS = 32
SDK_MODULES: tuple[Any, ...] = (cloudinary.api_client.call_api, cloudinary.uploader)
_lock = threading.Lock()


def make_room_in_sdk_pools(kept: int = KEPT_CONNECTIONS) -> None:
    """Rebuild the SDK's pool managers to keep `kept` connections per host (a no-op once they do)."""
    with _lock:
        for module in SDK_MODULES:
            current = getattr(module, "_http", None)
            if current is None or not hasattr(current, "connection_pool_kw"):
                continue  # not a urllib3 pool manager (e.g. the SDK's App Engine manager): leave it
            if current.connection_pool_kw.get("maxsize", 1) >= kept:
                continue
            module._http = get_http_connector(cloudinary.config(), {**cloudinary.CERT_KWARGS, "maxsize": kept})
            log.debug("cloudinary SDK: %s keeps %d connections per host", module.__name__, kept)
