"""The `s1data` command.

    s1data run configs/s1k.yaml [--set select.n=500 ...]     run a pipeline (completed stages are skipped)
    s1data run s1k                                           the same config as shipped in the package
    s1data STAGE --input PATH --out DIR [--set key=value]    run one stage (quality, decontaminate, select, ...)
    s1data select --pool PATH_OR_HUB --out DIR [--config C]  quality + select + export on a featurised pool
    s1data stages                                            list the stages and their options
    s1data configs                                           list the packaged configs

A config argument is a path when that file exists; otherwise it names a packaged config (`s1k`, `s1k_1.1`,
`ablations/random_1k`, `mini/s1k`, or the checkout spelling `configs/s1k.yaml`), so the commands work from any
folder once the wheel is installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from s1data.config import load_config, make_stage, parse_override
from s1data.io import columns_of, read_rows
from s1data.pipeline import run_pipeline
from s1data.record import missing_columns, stages_for
from s1data.stages import stage_class, stage_names
from s1eval.resources import packaged_dir, packaged_names, resolve

log = logging.getLogger("s1data")


def config_dir() -> Path:
    """The packaged pipeline configs: `s1data/configs` in the wheel, `configs/` in a checkout."""
    return packaged_dir(__file__, "configs")


def resolve_config(value: str) -> Path:
    """A config path, or the packaged config it names (`s1k`, `configs/s1k.yaml`); FileNotFoundError lists them."""
    return resolve(value, config_dir(), kind="config", prefix="configs")


def _overrides(items: list[str]) -> dict[str, Any]:
    return dict(parse_override(t) for t in items)


def _print_summary(results: list) -> None:
    for r in results:
        s = r.stats
        flag = " (skipped: complete)" if r.skipped else ""
        print(f"{s['stage']:>14}: in {s['in']:>6}  kept {s['kept']:>6}  dropped {s['dropped_total']:>6} "
              f"{s['dropped']}{flag}")
    if results:
        print(f"output: {results[-1].folder}")


def cmd_run(args: argparse.Namespace) -> int:
    """`s1data run`: run a pipeline config and print each stage's summary."""
    cfg = load_config(resolve_config(args.config), args.set)
    _print_summary(run_pipeline(cfg.build(), args.out or cfg.out_dir, cfg.input))
    return 0


def pool_stage_options(config: str | None, seed: int | None) -> dict[str, dict[str, Any]]:
    """quality/select/export options from a config (if given), else the defaults."""
    opts: dict[str, dict[str, Any]] = {"quality": {}, "select": {}, "export": {}}
    if config:
        cfg = load_config(resolve_config(config))
        for name, raw in cfg.stages:
            if name in opts:
                opts[name] = dict(raw)
        seed = cfg.seed if seed is None else seed
    if seed is not None:
        opts["select"].setdefault("seed", seed)
    return opts


def check_pool(rows: list[dict[str, Any]], select_opts: Any) -> list[str]:
    """Missing feature columns of a pool for the configured selection (trace columns included)."""
    from s1data.stages.select import required_columns

    cols = columns_of(rows[:1000])
    missing = missing_columns(cols, required_columns(select_opts))
    if not ({"thinking_trajectory", "thinking_trajectories"} & set(cols)):
        missing.append("thinking_trajectory")
    if "attempt" not in cols:
        missing.append("attempt")
    return missing


def cmd_select_pool(args: argparse.Namespace) -> int:
    """`s1data select --pool`: quality + select + export on a featurised pool; 2 if it lacks columns."""
    opts = pool_stage_options(args.config, args.seed)
    opts["select"].update(_overrides(args.set))
    stages = [make_stage(n, opts[n]) for n in ("quality", "select", "export")]
    rows = read_rows(args.pool)
    missing = check_pool(rows, stages[1].options)
    if missing:
        print(f"error: pool {args.pool!r} lacks the feature columns {missing} that selection "
              f"(method={stages[1].options.method!r}) needs; compute them with the stages {stages_for(missing)} "
              f"(e.g. s1data run configs/s1k.yaml with input: {args.pool}), or choose method=random/full, "
              f"which need none", file=sys.stderr)
        return 2
    _print_summary(run_pipeline(stages, args.out, args.pool))
    return 0


def cmd_stage(name: str, args: argparse.Namespace) -> int:
    """`s1data STAGE`: run one stage alone; 2 if a non-source stage has no --input."""
    stage = make_stage(name, _overrides(args.set))
    source = None if stage_class(name).is_source else args.input
    if source is None and not stage_class(name).is_source:
        print(f"error: stage {name!r} needs --input PATH_OR_HUB", file=sys.stderr)
        return 2
    _print_summary(run_pipeline([stage], args.out, source))
    return 0


def cmd_configs() -> int:
    """`s1data configs`: list the packaged config names (their folder on stderr)."""
    root = config_dir()
    for name in packaged_names(root):
        print(name)
    print(f"({root})", file=sys.stderr)
    return 0


def cmd_stages() -> int:
    """`s1data stages`: list each stage with its option names."""
    for name in stage_names():
        cls = stage_class(name)
        fields = ", ".join(f"{f.name}" for f in dataclasses.fields(cls.Options))
        print(f"{name}: {fields}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `s1data` argument parser: run, stages, configs and one subcommand per stage."""
    p = argparse.ArgumentParser(prog="s1data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a pipeline config")
    r.add_argument("config", help="a config file, or a packaged config's name (s1data configs lists them)")
    r.add_argument("--out", help="output folder (default: the config's out_dir)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    sub.add_parser("stages", help="list stages and options")
    sub.add_parser("configs", help="list the packaged configs (s1data run NAME)")
    for name in stage_names():
        s = sub.add_parser(name, help=f"run the {name} stage alone")
        s.add_argument("--input", help="input dataset: parquet/jsonl/csv file, stage folder or hub id")
        s.add_argument("--out", required=True, help="output folder")
        s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="stage option")
        if name == "select":
            s.add_argument("--pool", help="featurised pool: run quality + select + export on it")
            s.add_argument("--config", help="take quality/select/export options from this pipeline config "
                                            "(a file or a packaged config's name)")
            s.add_argument("--seed", type=int)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `s1data`: dispatch the subcommand; errors print `error: ...` and return 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "stages":
            return cmd_stages()
        if args.command == "configs":
            return cmd_configs()
        if args.command == "select" and args.pool:
            return cmd_select_pool(args)
        return cmd_stage(args.command, args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
