"""What the gateway and its clients agree on beyond OpenAI's API (no dependencies).

Kept apart from `tritonsla.gateway`, which loads the HTTP stack, so that clients (the bench's
OpenAI sender) and the Kubernetes manifests can name these without importing it.
"""

CLASS_HEADER = "x-sla-class"
"""Request header choosing a class; response header naming the class that served."""
DEADLINE_HEADER = "x-request-deadline-ms"
"""Request header: milliseconds the client will wait for the whole answer."""
DONE = "[DONE]"
"""The last SSE event of a stream (OpenAI's)."""
API_KEY_ENV = "TRITONSLA_API_KEY"
"""Environment variable holding the gateway's optional Bearer key (never argv)."""
