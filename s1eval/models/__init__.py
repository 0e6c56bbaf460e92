"""Thin lm-eval backends (s1hf, s1vllm, s1api). Each only translates the budget core's
"continue these token sequences" call into its engine; no budget logic lives here.
Submodules import torch / vllm / aiohttp, so nothing is imported eagerly."""
