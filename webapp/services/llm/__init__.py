"""The LLM call service: the one path from Switchboard (UI, playground, gateway, your code)
to a provider. Settings, keys, retries, fallbacks and metering are applied on every call.

    from webapp.services import llm
    reply = llm.complete([{"role": "user", "content": "Hi"}], context=llm.CallContext(user=u))
"""

from webapp.services.llm.calls import CallContext
from webapp.services.llm.chat import CompletionStream, complete, stream
from webapp.services.llm.errors import LLMError
from webapp.services.llm.operations import ConnectionResult, embed, list_models, test_connection
from webapp.services.llm.types import (
    Completion,
    EmbeddingResult,
    Message,
    StreamEvent,
    Tool,
    ToolCall,
)

__all__ = [
    "CallContext",
    "Completion",
    "CompletionStream",
    "ConnectionResult",
    "EmbeddingResult",
    "LLMError",
    "Message",
    "StreamEvent",
    "Tool",
    "ToolCall",
    "complete",
    "embed",
    "list_models",
    "stream",
    "test_connection",
]
