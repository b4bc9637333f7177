"""Engine kind `llmapi`: the tensorrt_llm model driven by TensorRT-LLM's LLM API (GPU only)."""
