"""What every protocol adapter provides. Adapters only translate; the service decides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from webapp.services.llm.types import ChatRequest, ChatResult, Delta, LiveModel, Usage


class Adapter(Protocol):
    def make_client(
        self, base_url: str | None, api_key: str, headers: dict[str, str] | None
    ) -> Any: ...

    def chat(self, client: Any, request: ChatRequest) -> ChatResult: ...

    def open_stream(self, client: Any, request: ChatRequest) -> Iterator[Delta]:
        """Send the request and wait for the response headers, raising on HTTP errors;
        return an iterator over the body. Retries are only possible before this returns."""
        ...

    def embed(
        self, client: Any, model: str, inputs: list[str], timeout_s: float
    ) -> tuple[list[list[float]], Usage]: ...

    def list_models(self, client: Any, timeout_s: float) -> list[LiveModel]: ...
