"""s1hf's untexted-id mask on a Qwen-size vocabulary: masked against unmasked, side by side.

Qwen2.5's model has 152,064 rows and its tokenizer 151,665 entries: ids 151665-152063 decode to
nothing, and s1hf masks them by default. It used transformers' `GenerationConfig(suppress_tokens=...)`,
which runs `torch.isin(arange(152064), those 399 ids)` at every generated token; it now applies
`s1eval.models.hf_engine.UntextedMask` (built once, `scores[:, 151665:] = -inf` in place).

This script decodes the same greedy continuations with the `generate` call s1hf makes
(`HFEngine._generate`) under three masks, in one process with a rotating order (medians of the
repetitions), and prints each one's time and its ratio to no mask:

- `none`: `allow_untexted_ids=true`;
- `suppress_tokens`: the mask as it was;
- `UntextedMask`: the mask as it is.

Each runs twice: plain rounds, and rounds with `min_new` > 0 (rounds after a suppressed end of
thinking, where transformers' own min-new-tokens processor adds an `isin` over the vocabulary
against the few stop ids, which no mask choice changes). Every variant must produce the same tokens.

The model is the tiny test model padded to 152,064 rows (`untexted_mask.build_wide_model`); the
tokenizer is the tiny one reporting Qwen2.5's 151,665 entries, so the masks have Qwen2.5's sizes.

    python benchmarks/hf_untexted_mask.py              # ~1 min on 2 CPU cores
    python benchmarks/hf_untexted_mask.py --tokens 96 --reps 5 --requests 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from untexted_mask import ROWS, TEXTED, build_wide_model  # noqa: E402

VARIANTS = ("none", "suppress_tokens", "UntextedMask")


class QwenSizedTokenizer:
    """The tiny tokenizer, reporting Qwen2.5's 151,665 entries (what `untexted_ids` reads)."""

    def __init__(self, tok: Any) -> None:
        self._tok = tok

    def __len__(self) -> int:
        return TEXTED

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tok, name)


def engines(model: Any, tok: Any) -> dict[str, Any]:
    """One HFEngine per variant (`suppress_tokens` is the masked engine with the old mask put back)."""
    from s1eval.models.hf_engine import HFEngine

    wide = QwenSizedTokenizer(tok)
    unmasked = HFEngine(model, wide, "cpu", allow_untexted_ids=True)
    masked = HFEngine(model, wide, "cpu")
    assert masked.untexted_mask is not None and masked.untexted_mask.texted == TEXTED
    old = HFEngine(model, wide, "cpu", allow_untexted_ids=True)
    old.model = SuppressTokensModel(model, list(range(TEXTED, ROWS)))
    return {"none": unmasked, "suppress_tokens": old, "UntextedMask": masked}


class SuppressTokensModel:
    """The model, whose `generate` adds GenerationConfig(suppress_tokens=ids): the mask before this change."""

    def __init__(self, model: Any, ids: list[int]) -> None:
        self._model, self._ids = model, ids

    def generate(self, **kwargs: Any) -> Any:
        kwargs["generation_config"].suppress_tokens = self._ids
        return self._model.generate(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def run(engine: Any, conts: list[Any]) -> tuple[float, list[tuple[int, ...]]]:
    start = time.perf_counter()
    steps = engine.continue_batch(conts)
    return time.perf_counter() - start, [s.new_ids for s in steps]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=96, help="new tokens per continuation")
    parser.add_argument("--requests", type=int, default=2, help="continuations per measurement (batch 1 each)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s1eval.budget import Continuation

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = build_wide_model(Path(tmp) / "wide")
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        tok = AutoTokenizer.from_pretrained(path)
    by_variant = engines(model, tok)
    print(f"model: tiny Qwen2 with {model.get_output_embeddings().weight.shape[0]:,} rows, tokenizer of "
          f"{TEXTED:,} entries ({ROWS - TEXTED} untexted ids); torch threads {torch.get_num_threads()}")
    print(f"{args.requests} greedy continuations of {args.tokens} new tokens each, batch 1, {args.reps} reps, medians")
    print()
    print(f"{'rounds':<16} " + " ".join(f"{v:>16}" for v in VARIANTS)
          + "   ratio to none (suppress_tokens / UntextedMask)")
    for label, min_new in (("plain", 0), ("min_new > 0", args.tokens)):
        # plain: no stop id, so every round decodes all its tokens; min_new: the stop id masked throughout
        stops = frozenset({399}) if min_new else frozenset()
        conts = [Continuation(key=i, token_ids=(5, 6, 7, 8 + i), max_new=args.tokens, min_new=min_new,
                              stop_token_ids=stops) for i in range(args.requests)]
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        tokens: dict[str, list] = {}
        run(by_variant["none"], conts[:1])  # warm-up
        for rep in range(args.reps):
            order = VARIANTS[rep % 3:] + VARIANTS[: rep % 3]
            for variant in order:
                elapsed, out = run(by_variant[variant], conts)
                times[variant].append(elapsed)
                tokens.setdefault(variant, out)
                if out != tokens[variant]:
                    raise SystemExit(f"{variant}: tokens changed between repetitions")
        if len({tuple(t) for t in tokens.values()}) != 1 or any(len(t) != args.tokens for t in tokens["none"]):
            raise SystemExit(f"{label}: the variants generated different tokens: {tokens}")
        med = {v: statistics.median(t) for v, t in times.items()}
        ratios = f"{med['suppress_tokens'] / med['none']:.2f}x / {med['UntextedMask'] / med['none']:.2f}x"
        print(f"{label:<16} " + " ".join(f"{med[v]:>15.3f}s" for v in VARIANTS) + f"   {ratios}")
    print("\nall variants generated identical tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
