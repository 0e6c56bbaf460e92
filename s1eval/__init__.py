"""s1eval: budget-forcing evaluation of reasoning models inside lm-evaluation-harness.

The package registers the `s1hf`, `s1vllm` and `s1api` models and the `s1_*` tasks with lm-eval
(see `s1eval._autoload`). Importing it is cheap: torch and vllm are imported only by the backends
that need them.
"""

__version__ = "0.1.0"

# Bumped whenever the meaning of a budget-forcing knob or of a token count changes, so that results
# produced under different semantics are never compared silently (see s1eval.runinfo).
# 2: until_thinking is matched as text unless it is one added token (a one-token "." was matched by id only).
BUDGET_SEMANTICS_VERSION = 2
