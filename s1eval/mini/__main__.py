"""``python -m s1eval.mini COMMAND``: the shipped test set, measurements, tokenizer, teacher rows, the pool, and
the whole chain that makes the shipped model (``build``, `s1eval.mini.build`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _write_jsonl(rows, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {path}", file=sys.stderr)


def main(argv=None) -> int:
    """Entry point of `python -m s1eval.mini COMMAND`; returns 0."""
    from s1eval.mini.data import TEST_FILE, TEST_SEED, TEST_SIZE
    from s1eval.mini.problems import K_MAX, K_MIN
    from s1eval.mini.traces import PLAIN, TraceConfig

    parser = argparse.ArgumentParser(prog="python -m s1eval.mini", description="the mini-s1 task family")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-test", help="write the held-out test set (the shipped file by default)")
    p.add_argument("--out", default=str(TEST_FILE))
    p.add_argument("--n", type=int, default=TEST_SIZE)
    p.add_argument("--seed", type=int, default=TEST_SEED)
    p = sub.add_parser("measure", help="answer distribution and trivial baselines on held-out problems")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pool", type=int, default=50_000, help="train problems the majority baselines learn from")
    p.add_argument("--split", default="dev", choices=("dev", "test"))
    p = sub.add_parser("probe", help="a model's own greedy thinking, checked line by line (is the map learned?)")
    p.add_argument("model", help="model folder")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="dev", choices=("dev", "train"))
    p = sub.add_parser("tokenizer", help="write the mini tokenizer's files to OUT")
    p.add_argument("out")
    for name, what in (("teacher", "candidate rows with teacher traces (s1K schema) for the s1 step"),
                       ("pool", "the pretraining pool (s1K schema; plain traces and answer-only rows)")):
        p = sub.add_parser(name, help=what)
        p.add_argument("out", help="JSONL file")
        p.add_argument("--n", type=int, required=True)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--k-min", type=int, default=K_MIN)
        p.add_argument("--k-max", type=int, default=K_MAX)
        rates = TraceConfig() if name == "teacher" else PLAIN  # the teacher's rates; the pool is plain by default
        p.add_argument("--slip-rate", type=float, default=rates.slip_rate)
        p.add_argument("--recheck-rate", type=float, default=rates.recheck_rate)
        p.add_argument("--final-recheck-rate", type=float, default=rates.final_recheck_rate)
        p.add_argument("--error-rate", type=float, default=0.0)
        if name == "teacher":
            p.add_argument("--replies", help="also write s1data `recorded` client replies to this JSONL")
        else:
            p.add_argument("--answer-only-share", type=float, default=0.05)
    p = sub.add_parser("build", help="pool -> pretrain -> s1data selection -> SFT, through the real commands")
    p.add_argument("--out", required=True, help="work folder (finished steps are skipped on a rerun)")
    p.add_argument("--pool", type=int, default=24000, help="pretraining pool rows (one epoch)")
    p.add_argument("--candidates", type=int, default=5000, help="teacher candidates s1data selects from")
    p.add_argument("--seed", type=int, default=0, help="initialisation, training order, candidates, selection")
    p.add_argument("--pool-seed", type=int, default=1, help="the pretraining pool's draw")
    p.add_argument("--pool2", type=int, default=24000, help="rows of each further pretraining phase (0: none)")
    p.add_argument("--phases", type=int, default=5, help="pretraining phases in all (phase 1, then pretrain2.yaml)")
    p.add_argument("--wait-phases", type=int, default=1, help="last phases whose pools have the teacher's Wait lines")
    p.add_argument("--pretrain-arg", action="append", default=[], dest="pretrain_args",
                   help="extra `s1train sft` option for pretraining, e.g. --pretrain-arg=--max_steps=3")
    p.add_argument("--s1-arg", action="append", default=[], dest="s1_args", help="... for the s1 SFT")
    p.add_argument("--data-set", action="append", default=[], dest="data_args",
                   help="extra `s1data run --set` override, e.g. --data-set select.n=50")
    p.add_argument("--ablation", choices=("random",), help="also train on 1,000 random candidates")
    p.add_argument("--ship", type=Path,
                   help="copy the final model's files here (s1eval/data/mini/model for the embedded one)")
    p.add_argument("--threads", type=int, default=2, help="torch threads of each training run")
    p.add_argument("--base-config", type=Path,
                   help="the Qwen2 config.json phase 1 initialises (default: recipes/mini/base_config.json)")
    p.add_argument("--pretrain-config", type=Path,
                   help="phase 1's s1train recipe (default: recipes/mini/pretrain.yaml)")
    args = parser.parse_args(argv)

    if args.cmd == "make-test":
        from s1eval.mini.data import write_test_file

        print(write_test_file(args.out, args.n, args.seed))
    elif args.cmd == "measure":
        from s1eval.mini.measure import format_report, measure

        print(format_report(measure(args.n, args.seed, args.pool, args.split)))
    elif args.cmd == "build":
        import logging

        from s1eval.mini.build import BuildOptions, build

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        opts = BuildOptions(Path(args.out), pool=args.pool, candidates=args.candidates, seed=args.seed,
                            pool_seed=args.pool_seed, pool2=args.pool2, phases=args.phases,
                            wait_phases=args.wait_phases,
                            pretrain_args=args.pretrain_args,
                            s1_args=args.s1_args, data_args=args.data_args, ablation=args.ablation,
                            ship=args.ship, threads=args.threads, base_config=args.base_config,
                            pretrain_config=args.pretrain_config)
        print(build(opts))
    elif args.cmd == "probe":
        from s1eval.mini.probe import probe_summary

        print(probe_summary(args.model, n=args.n, seed=args.seed, split=args.split))
    elif args.cmd == "tokenizer":
        from s1eval.mini.tokenizer import build_tokenizer

        print(build_tokenizer(args.out))
    else:
        from s1eval.mini.traces import pool_rows, recorded_replies, teacher_rows

        cfg = TraceConfig(args.slip_rate, args.recheck_rate, args.final_recheck_rate, args.error_rate)
        k_range = (args.k_min, args.k_max)
        if args.cmd == "teacher":
            rows = teacher_rows(args.n, args.seed, cfg, k_range=k_range)
            if args.replies:
                _write_jsonl(recorded_replies(rows), args.replies)
        else:
            rows = pool_rows(args.n, args.seed, args.answer_only_share, k_range, cfg)
        _write_jsonl(rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
