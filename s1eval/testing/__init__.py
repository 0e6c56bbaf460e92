"""Test helpers that run anywhere, for tests and benchmarks: a tiny, locally built Qwen2-architecture model with
set weights (`tiny_model`), a real vLLM OpenAI server started on 127.0.0.1 (`vllm_server`), and free ports taken
by binding rather than by probing and closing (`ports`)."""
