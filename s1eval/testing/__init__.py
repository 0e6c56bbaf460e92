"""Test helpers that run anywhere: a tiny, locally built Qwen2-architecture model with set weights."""
