"""SDK clients reused per (protocol, base URL, key, headers), so connections are pooled.

The key is part of the cache key only as a SHA-256 digest; the client object itself holds
the key, in memory, for as long as it stays in this bounded LRU.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from webapp.services.llm.adapters import adapter_for

MAX_CLIENTS = 256
_lock = threading.Lock()
_clients: OrderedDict[tuple[str, str, str, str], Any] = OrderedDict()


def client_for(
    protocol: str, base_url: str | None, api_key: str, headers: dict[str, str] | None = None
) -> Any:
    key = (
        protocol,
        base_url or "",
        hashlib.sha256(api_key.encode()).hexdigest(),
        json.dumps(headers or {}, sort_keys=True),
    )
    with _lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
    client = adapter_for(protocol).make_client(base_url, api_key, headers)
    with _lock:
        _clients[key] = client
        _clients.move_to_end(key)
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
    return client


def cached_clients() -> int:
    return len(_clients)


def clear() -> None:
    """Drop every cached client and close its connections (tests do, between tests)."""
    with _lock:
        dropped = list(_clients.values())
        _clients.clear()
    for client in dropped:
        client.close()
