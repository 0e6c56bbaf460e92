"""``python -m s1eval.mini build --out DIR``: the whole mini-s1 chain, through the real commands.

The paper's recipe in miniature, each step the project's own command in a subprocess (so a broken contract
between s1data, s1train and s1eval breaks this chain, and CI runs a shortened one):

1. ``init/``: the mini tokenizer + ``recipes/mini/base_config.json`` (a Qwen2 config, no weights; ``--base-config``
   picks another, e.g. ``recipes/mini/base_config_small.json``, the 15-minute setup of MODEL_CARD.md).
2. ``pool.jsonl``: the pretraining pool (``python -m s1eval.mini pool``): plain traces and answer-only rows.
3. ``base/``: ``s1train sft --config recipes/mini/pretrain.yaml --init_from_config true`` (``--pretrain-config``
   picks another recipe, e.g. ``recipes/mini/pretrain_fast.yaml``, the 15-minute one): "pretraining" the
   freshly initialised model on the pool: the stand-in for a pretrained base (a from-scratch model does not
   learn the task from 1,000 rows; issue 8). Then, for each further phase i = 2, 3, ... (``--phases``),
   ``pool{i}.jsonl`` (fresh rows) and ``base{i}/``: ``s1train sft --config recipes/mini/pretrain2.yaml``
   continues from the previous phase's model (``--pool2 0`` or ``--phases 1``: phase 1 only); the last
   ``--wait-phases`` pools carry the teacher's slips and re-checks after "Wait," (the base must know "Wait", as
   a pretrained LLM does).
4. ``candidates.jsonl`` + ``replies.jsonl``: train-split teacher candidates in the s1K columns (domain = map
   family) and the reference solver's traces as recorded replies (``python -m s1eval.mini teacher``).
5. ``s1data/``: ``s1data run configs/mini/s1k.yaml``: decontaminate, traces (recorded client), quality,
   difficulty (trace length), select (Algorithm 1 over the four map families), export (s1K schema).
6. ``s1/``: ``s1train sft --config recipes/mini/s1.yaml`` on the export: the model budget forcing runs on.

With ``--ablation random`` the same SFT also runs on 1,000 random candidates (configs/mini/random_1k.yaml) into
``s1_random/``. A step whose output exists is skipped (delete it to redo it); ``build.json`` records the
commands and their wall times. ``--ship DIR`` copies the final model's files (weights, config, tokenizer) there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from s1eval.atomic import write_text_atomic
from s1eval.mini.traces import TraceConfig

log = logging.getLogger(__name__)
TEACHER = TraceConfig()  # the teacher's slip and re-check rates

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes" / "mini"
CONFIGS = ROOT / "configs" / "mini"
#: Files a shipped model consists of (what `from_pretrained` needs, nothing from training).
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
               "vocab.json", "merges.txt", "special_tokens_map.json", "chat_template.jinja")


@dataclass
class BuildOptions:
    """Sizes and overrides of one chain (defaults: the shipped model's)."""

    out: Path
    pool: int = 24000
    candidates: int = 5000
    seed: int = 0  # model initialisation, training order, candidates and selection
    pool_seed: int = 1  # the pool's draw (the shipped model's pool was drawn with 1)
    # Answer-only rows teach answering without thinking (budget 0); at 20% the empty thinking won the greedy
    # argmax after "think" and the model stopped thinking altogether (model card, v1 run 3).
    answer_only: float = 0.05
    pool2: int = 24000  # rows of each further pretraining phase (0: none)
    phases: int = 5  # pretraining phases in all: phase 1 (pretrain.yaml), then phases 2.. (pretrain2.yaml)
    wait_phases: int = 1  # the last phases' pools have the teacher's Wait lines (slips, re-checks)
    pretrain_args: list[str] = field(default_factory=list)  # extra `s1train sft` options for step 3
    s1_args: list[str] = field(default_factory=list)  # ... and for step 6 (and the ablation)
    data_args: list[str] = field(default_factory=list)  # extra `s1data run --set` overrides for step 5
    ablation: str | None = None  # "random": also train on a random 1,000
    ship: Path | None = None
    threads: int = 2
    base_config: Path | None = None  # the architecture phase 1 initialises (None: recipes/mini/base_config.json)
    pretrain_config: Path | None = None  # phase 1's s1train recipe (None: recipes/mini/pretrain.yaml)

    def __post_init__(self) -> None:
        if self.pool2 < 0:
            raise ValueError(f"--pool2 must be >= 0 (0: no further pretraining phase), got {self.pool2}")
        if self.phases < 1:
            raise ValueError(f"--phases must be >= 1 (1: phase 1 only), got {self.phases}")
        if not 0 <= self.wait_phases < self.phases:
            raise ValueError(f"--wait-phases must be in [0, --phases - 1 = {self.phases - 1}] (phase 1 stays plain), "
                             f"got {self.wait_phases}")
        for name in ("pool", "candidates"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.ablation not in (None, "random"):
            raise ValueError(f"--ablation {self.ablation!r}: the only ablation is 'random'")
        self.base_config = _existing_file(self.base_config, RECIPES / "base_config.json", "--base-config",
                                          "a Qwen2 config.json", RECIPES / "base_config.json")
        self.pretrain_config = _existing_file(self.pretrain_config, RECIPES / "pretrain.yaml", "--pretrain-config",
                                              "an s1train recipe", RECIPES / "pretrain_fast.yaml")
        for path in (RECIPES / "pretrain2.yaml", RECIPES / "s1.yaml", CONFIGS / "s1k.yaml"):
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: the chain runs from a source checkout (recipes/mini, "
                                        "configs/mini), not from an installed wheel")


def _existing_file(given: Path | None, default: Path, flag: str, kind: str, example: Path) -> Path:
    """`given` (or `default` when None) as a Path, refused with the flag's name if it is not a file."""
    path = Path(given or default)
    if not path.is_file():
        raise FileNotFoundError(f"{flag} {path}: no such file ({kind}, e.g. {example})")
    return path


class Chain:
    """Runs the steps in order, skipping finished ones, and records each command and its wall time."""

    def __init__(self, opts: BuildOptions) -> None:
        self.o = opts
        self.out = Path(opts.out).resolve()
        self.record: dict = {"options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
                             "steps": []}
        # a rerun skips finished steps: keep what the run that made them recorded (command, wall time)
        old = self.out / "build.json"
        self.previous = {s["step"]: s for s in json.loads(old.read_text())["steps"]} if old.exists() else {}

    def env(self) -> dict[str, str]:
        # at most `threads` threads (the machine is shared) and never the hub (everything is local)
        n = str(self.o.threads)
        path = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
        return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": path}

    def run(self, name: str, cmd: list[str], done: Path) -> None:
        if done.exists():
            log.info("%s: %s exists, skipped", name, done)
            self.record["steps"].append({**self.previous.get(name, {"step": name}), "skipped": True})
            return
        log.info("%s: %s", name, " ".join(cmd))
        t0 = time.time()
        logs = self.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # streamed to the file (not captured) so a 20-minute training can be followed with tail -f
        with open(logs / f"{name}.log", "w", encoding="utf-8") as fh:
            code = subprocess.run(cmd, env=self.env(), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT).returncode
        if code:
            tail = (logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"step {name} failed (exit {code}): {' '.join(cmd)}\n{tail}\n"
                               f"(full log: {logs / name}.log)")
        self.record["steps"].append({"step": name, "cmd": cmd, "wall_s": round(time.time() - t0, 1)})
        self.save()

    def save(self) -> None:
        write_text_atomic(self.out / "build.json", json.dumps(self.record, indent=2) + "\n")


def _py(*args: str) -> list[str]:
    return [sys.executable, *args]


def write_init(out: Path, base_config: Path) -> Path:
    """The tokenizer and the architecture: what `--init_from_config` starts from. An existing ``init/`` is kept
    (a rerun resumes) only if it holds the same architecture."""
    from s1eval.mini.tokenizer import build_tokenizer

    init = out / "init"
    wanted = json.loads(base_config.read_text())
    if init.exists():
        if json.loads((init / "config.json").read_text()) != wanted:
            raise ValueError(f"{init} was made from another architecture than --base-config {base_config}; a rerun "
                             f"only resumes the same chain: use another --out, or delete {out} to start over")
        return init
    tmp = out / "init.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    build_tokenizer(tmp)
    shutil.copyfile(base_config, tmp / "config.json")
    tmp.rename(init)
    return init


def write_candidates(out: Path, n: int, seed: int) -> None:
    """Teacher candidates without their traces (s1data's `traces` stage asks for them) and the recordings."""
    from s1data.record import make_record
    from s1eval.mini.traces import recorded_replies, teacher_rows

    rows = teacher_rows(n, seed)
    cands = []
    for r in rows:
        rec = make_record(r["question"], r["solution"], r["cot_type"], r["source_type"], r["metadata"])
        rec["domain"] = json.loads(r["metadata"])["domain"]  # the map family: the task's domains
        cands.append(rec)
    for name, items in (("replies.jsonl", recorded_replies(rows)), ("candidates.jsonl", cands)):
        write_text_atomic(out / name, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))


def export_dir(s1data_out: Path) -> Path:
    """The one `*_export/hf_dataset` folder of an s1data run; RuntimeError unless there is exactly one."""
    hits = sorted(s1data_out.glob("*_export/hf_dataset"))
    if len(hits) != 1:
        raise RuntimeError(f"expected one export folder under {s1data_out}, found {hits}")
    return hits[0]


def _sft(chain: Chain, name: str, recipe: Path, model: Path, data: Path, extra: list[str], *first: str) -> Path:
    target = chain.out / name
    chain.run(name, _py("-m", "s1train.cli", "sft", "--config", str(recipe), *first, "--model_name_or_path",
                        str(model), "--dataset_name", str(data), "--output_dir", str(target), *extra),
              target / "model.safetensors")
    return target


def _select(chain: Chain, name: str, config: Path, sets: list[str]) -> Path:
    target = chain.out / name
    cmd = _py("-m", "s1data.cli", "run", str(config), "--out", str(target))
    for s in sets:
        cmd += ["--set", s]
    chain.run(name, cmd, target / "done")
    (target / "done").touch()
    return export_dir(target)


def build(opts: BuildOptions) -> Path:
    """Run the chain; returns the final model folder."""
    chain = Chain(opts)
    out = chain.out
    out.mkdir(parents=True, exist_ok=True)
    init = write_init(out, opts.base_config)
    chain.run("pool", _py("-m", "s1eval.mini", "pool", str(out / "pool.jsonl"), "--n", str(opts.pool), "--seed",
                          str(opts.pool_seed), "--answer-only-share", str(opts.answer_only)), out / "pool.jsonl")
    base = _sft(chain, "base", opts.pretrain_config, init, out / "pool.jsonl", opts.pretrain_args,
                "--init_from_config", "true", "--seed", str(opts.seed))
    for phase in range(2, opts.phases + 1) if opts.pool2 else ():
        pool = out / f"pool{phase}.jsonl"  # fresh rows: the pool's seed is the phase number
        # The last `wait_phases` phases see the teacher's slips and re-checks: a pretrained LLM knows "Wait"; a
        # base that never saw it learned nothing of it in the s1 step at lr 2e-4 (forced Waits became garbage)
        waits = [] if phase <= opts.phases - opts.wait_phases else [
            "--slip-rate", str(TEACHER.slip_rate), "--recheck-rate", str(TEACHER.recheck_rate),
            "--final-recheck-rate", str(TEACHER.final_recheck_rate)]
        chain.run(f"pool{phase}", _py("-m", "s1eval.mini", "pool", str(pool), "--n", str(opts.pool2), "--seed",
                                      str(phase), "--answer-only-share", str(opts.answer_only), *waits), pool)
        base = _sft(chain, f"base{phase}", RECIPES / "pretrain2.yaml", base, pool, opts.pretrain_args,
                    "--seed", str(opts.seed))
    if not (out / "candidates.jsonl").exists():
        write_candidates(out, opts.candidates, opts.seed)
    tok = f"{init}"
    export = _select(chain, "s1data", CONFIGS / "s1k.yaml", [
        f"input={out / 'candidates.jsonl'}", f"traces.client={{kind: recorded, path: {out / 'replies.jsonl'}}}",
        f"difficulty.tokenizer={tok}", f"export.tokenizer={tok}", f"seed={opts.seed}", *opts.data_args])
    final = _sft(chain, "s1", RECIPES / "s1.yaml", base, export, opts.s1_args)
    if opts.ablation == "random":
        featurised = sorted((out / "s1data").glob("*_difficulty/data.parquet"))[0]
        rand = _select(chain, "s1data_random", CONFIGS / "random_1k.yaml", [
            f"input={featurised}", f"export.tokenizer={tok}", f"seed={opts.seed}", *opts.data_args])
        _sft(chain, "s1_random", RECIPES / "s1.yaml", base, rand, opts.s1_args)
    if opts.ship:
        ship(final, Path(opts.ship))
    chain.save()
    return final


def ship(model_dir: Path, dest: Path) -> None:
    """Copy the model's files (not optimizer states or logs) to `dest`, replacing what was there except its
    MODEL_CARD.md."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in MODEL_FILES:
        if (model_dir / name).exists():
            shutil.copyfile(model_dir / name, tmp / name)
    if not (tmp / "model.safetensors").exists():
        raise FileNotFoundError(f"{model_dir} has no model.safetensors; build the model first")
    if (dest / "MODEL_CARD.md").exists():  # written by hand with the measured numbers: kept
        shutil.copyfile(dest / "MODEL_CARD.md", tmp / "MODEL_CARD.md")
    run = json.loads((model_dir / "s1train_run.json").read_text())
    run.pop("log_history", None)
    write_text_atomic(tmp / "s1train_run.json", json.dumps(run, indent=2, default=str) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    log.info("shipped %s -> %s", model_dir, dest)
