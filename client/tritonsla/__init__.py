"""triton-sla: SLA profiles rendered into a Triton model repository for TensorRT-LLM, and a client
that routes, streams and measures against each profile's SLO."""

__version__ = "0.1.0"
