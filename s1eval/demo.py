"""`make demo`: budget forcing end to end on the embedded tiny model, offline, in about a minute.

Until the trained mini-s1 model ships, the demo runs the hand-set tiny Qwen2 of
`s1eval.testing.tiny_model` through lm-eval's real evaluator with `--model s1hf` on a few shipped
AIME24 problems, under three budget-forcing settings, and prints per request how many tokens went
to thinking and to the answer, how many thinking rounds ran, how many "Wait"s were appended and
whether the answer was forced. The tiny model cannot solve AIME: the point is to watch the
mechanics (the accuracy column is honest and will read 0).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

SETTINGS = (
    ("natural end (budget 256)", "ends", "max_tokens_thinking=256"),
    ("2x Wait (budget 256)", "ends", "max_tokens_thinking=256,thinking_n_ignore=2,thinking_n_ignore_str=Wait"),
    ("never ends, forced at 48", "never", "max_tokens_thinking=48"),
)


def _evaluate(model_path: Path, gen_kwargs: str, limit: int) -> tuple[list[dict], list[dict]]:
    from lm_eval import simple_evaluate

    from s1eval.budget import COLLECTOR

    COLLECTOR.clear()
    out = simple_evaluate(
        model="s1hf", model_args=f"pretrained={model_path},max_length=4096", tasks=["s1_aime24"],
        limit=limit, apply_chat_template=True, gen_kwargs=f"max_gen_toks=1024,{gen_kwargs}",
        log_samples=True,
    )
    stats = COLLECTOR.pop_task("s1_aime24")
    return out["samples"]["s1_aime24"], stats


def _table(title: str, samples: list[dict], stats: list[dict]) -> str:
    by_doc = {s["doc_id"]: s for s in samples}
    lines = [f"\n{title}", f"{'doc':>4} {'thinking':>8} {'answer':>6} {'rounds':>6} {'waits':>5} {'forced':>6} {'correct':>7}"]
    for row in stats:
        sample = by_doc.get(row["doc_id"], {})
        lines.append(f"{row['doc_id']:>4} {row['thinking_tokens']:>8} {row['answer_tokens']:>6} {row['rounds']:>6} "
                     f"{row['ignores_used']:>5} {str(row['forced']):>6} {str(bool(sample.get('exact_match'))):>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="s1eval demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="demo_out", help="where the tiny models are built")
    parser.add_argument("--limit", type=int, default=3, help="AIME24 problems per setting")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # the table is the output; progress bars would drown it
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("lm_eval", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from s1eval import _autoload
    from s1eval.testing.tiny_model import build_tiny_model

    _autoload.install(force=True)
    models = {v: build_tiny_model(Path(args.workdir) / f"tiny_{v}", variant=v) for v in ("ends", "never")}
    print(f"Budget forcing with s1hf on the tiny hand-set model ({args.limit} AIME24 problems per setting).\n"
          "thinking/answer = tokens; rounds = thinking rounds run; waits = ends suppressed with 'Wait'.")
    for title, variant, gen_kwargs in SETTINGS:
        samples, stats = _evaluate(models[variant], gen_kwargs, args.limit)
        print(_table(f"{title}: --gen_kwargs {gen_kwargs}", samples, stats))
        first = samples[0]["resps"][0][0]
        print(f"first response: {first[:160]!r}{'...' if len(first) > 160 else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
