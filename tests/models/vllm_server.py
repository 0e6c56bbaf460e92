"""The real vLLM OpenAI server for tests: moved to `s1eval.testing.vllm_server` (shared with benchmarks/);
re-exported here for the test modules that import it from this path."""

from s1eval.testing.vllm_server import CPU_TEST_ARGS, VLLMServer  # noqa: F401
