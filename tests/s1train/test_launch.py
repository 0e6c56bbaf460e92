"""Scale-out: accelerate configs and launch scripts, checked as far as a CPU machine can check them.

What runs here: the configs load with accelerate's own loader; every launcher's command line goes through
accelerate's launch parser and validation and yields the environment each process would get (FSDP2, full
shard, Qwen2DecoderLayer units, bf16, checkpointing, CPU-RAM-efficient loading); the FSDP plugin built from
that environment wraps the real Qwen2 decoder layer class; the process count gives the global batch of 16.
GPU-only (marked `gpu`, skipped here): launching FSDP and training steps on CUDA devices.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s1train.config import derive_accumulation
from tests.s1train.conftest import RECIPE, ROOT

CONFIGS = ROOT / "s1train" / "configs" / "accelerate"
SCRIPTS = ROOT / "scripts"


def dry_run(script: str, *args: str, **env: str) -> list[list[str]]:
    """The accelerate commands a launcher would run, one per node."""
    out = subprocess.run([str(SCRIPTS / script), *args], env={**os.environ, "DRY_RUN": "1", **env},
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    commands, current = [], []
    for line in out.stdout.splitlines():
        if line == "accelerate" and current:
            commands.append(current)
            current = []
        current.append(line)
    return commands + [current]


def resolve_launch(argv: list[str]):
    """accelerate's own parsing and validation of `accelerate launch ...`, and the per-process environment."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    assert argv[:2] == ["accelerate", "launch"]
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(argv[2:]))
    return args, prepare_multi_gpu_env(args)


def check_fsdp_env(env: dict[str, str], offload: bool = False) -> None:
    expected = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_RESHARD_AFTER_FORWARD": "true",
                "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP", "FSDP_TRANSFORMER_CLS_TO_WRAP": "Qwen2DecoderLayer",
                "FSDP_ACTIVATION_CHECKPOINTING": "true", "FSDP_CPU_RAM_EFFICIENT_LOADING": "true",
                "FSDP_SYNC_MODULE_STATES": "true", "ACCELERATE_MIXED_PRECISION": "bf16",
                "FSDP_OFFLOAD_PARAMS": str(offload).lower()}
    assert {k: env.get(k) for k in expected} == expected


def test_accelerate_configs_load_with_accelerates_loader():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    for name in ("fsdp.yaml", "fsdp_offload.yaml"):
        cfg = load_config_from_file(str(CONFIGS / name))
        assert cfg.distributed_type == DistributedType.FSDP and cfg.mixed_precision == "bf16"
        assert cfg.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "Qwen2DecoderLayer"
        assert cfg.fsdp_config["fsdp_offload_params"] == (name == "fsdp_offload.yaml")
    zero3 = load_config_from_file(str(CONFIGS / "zero3.yaml"))
    assert zero3.distributed_type == DistributedType.DEEPSPEED and zero3.deepspeed_config["zero_stage"] == 3
    assert zero3.mixed_precision == "bf16" and zero3.deepspeed_config["zero3_save_16bit_model"]


def test_single_node_launcher_resolves_to_fsdp_on_8_processes():
    (cmd,) = dry_run("launch_single_node.sh", str(RECIPE), "--seed", "7", NUM_GPUS="8")
    args, env = resolve_launch(cmd)
    assert (args.num_processes, args.num_machines, args.nproc_per_node) == (8, 1, "8")
    assert args.module and args.training_script == "s1train.cli"
    assert args.training_script_args == ["sft", "--config", str(RECIPE), "--seed", "7"]
    check_fsdp_env(env)
    assert derive_accumulation(16, args.num_processes, 1) == 2


def test_multi_node_launcher_resolves_to_2x8_processes():
    for rank in ("0", "1"):
        (cmd,) = dry_run("launch_multi_node.sh", str(RECIPE), NODE_RANK=rank, MASTER_ADDR="node0", MASTER_PORT="29512")
        args, env = resolve_launch(cmd)
        assert (args.num_processes, args.num_machines, args.machine_rank, args.nnodes) == (16, 2, int(rank), "2")
        assert args.nproc_per_node == "8" and args.main_process_ip == "node0" and args.main_process_port == 29512
        check_fsdp_env(env)
    assert derive_accumulation(16, 16, 1) == 1  # the paper: micro-batch 1 x 16 GPUs


def test_slurm_script_runs_one_launcher_per_node(tmp_path):
    # stand-ins for srun and scontrol: srun runs the task once per node, as Slurm would with SLURM_NODEID set
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text("#!/usr/bin/env bash\nprintf 'gpu-a\\ngpu-b\\n'\n")
    (bin_dir / "srun").write_text("#!/usr/bin/env bash\nwhile [[ $1 == --* ]]; do shift; done\n"
                                  "for n in 0 1; do SLURM_NODEID=$n \"$@\"; done\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    commands = dry_run("slurm_s1.sbatch", str(RECIPE), "--seed", "3", PATH=f"{bin_dir}:{os.environ['PATH']}",
                       SLURM_NNODES="2", SLURM_JOB_NODELIST="gpu-[a-b]")
    assert len(commands) == 2
    for rank, cmd in enumerate(commands):
        args, env = resolve_launch(cmd)
        assert (args.num_processes, args.machine_rank, args.main_process_ip) == (16, rank, "gpu-a")
        assert args.training_script_args[-2:] == ["--seed", "3"]
        check_fsdp_env(env)


def test_offload_config_is_what_fits_8_gpus(monkeypatch):
    (cmd,) = dry_run("launch_single_node.sh", str(RECIPE), NUM_GPUS="8",
                     ACCELERATE_CONFIG=str(CONFIGS / "fsdp_offload.yaml"))
    _, env = resolve_launch(cmd)
    check_fsdp_env(env, offload=True)


def test_fsdp_plugin_from_the_launch_environment_wraps_the_real_decoder_layer(monkeypatch, tiny_ends):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.dataclasses import get_module_class_from_name
    from transformers import AutoModelForCausalLM

    (cmd,) = dry_run("launch_multi_node.sh", str(RECIPE), NODE_RANK="0", MASTER_ADDR="node0")
    _, env = resolve_launch(cmd)
    for key, value in env.items():
        if key.startswith(("FSDP_", "ACCELERATE_")):
            monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.activation_checkpointing and plugin.cpu_ram_efficient_loading
    model = AutoModelForCausalLM.from_pretrained(tiny_ends)
    (name,) = plugin.transformer_cls_names_to_wrap
    layer_cls = get_module_class_from_name(model, name)
    assert layer_cls is type(model.model.layers[0]) and set(model._no_split_modules) == {name}


def test_launchers_fail_clearly_without_their_settings():
    out = subprocess.run([str(SCRIPTS / "launch_multi_node.sh"), str(RECIPE)], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k not in ("NODE_RANK", "MASTER_ADDR")})
    assert out.returncode != 0 and "NODE_RANK" in out.stderr
    out = subprocess.run([str(SCRIPTS / "launch_single_node.sh"), str(RECIPE)], capture_output=True, text=True,
                         env={**os.environ, "PATH": "/usr/bin:/bin"})  # no nvidia-smi, no NUM_GPUS
    assert out.returncode == 2 and "set NUM_GPUS" in out.stderr


@pytest.mark.gpu
def test_gpu_fsdp_launch_trains_the_tiny_model(tiny_ends, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA GPUs: accelerate applies FSDP on accelerators only")
    from tests.s1train.conftest import s1k_rows, write_jsonl

    gpus = torch.cuda.device_count()
    data = write_jsonl(tmp_path / "rows.jsonl", s1k_rows(8))
    cmd = [str(SCRIPTS / "launch_single_node.sh"), str(RECIPE), "--model_name_or_path", tiny_ends, "--dataset_name",
           str(data), "--output_dir", str(tmp_path / "out"), "--block_size", "512", "--max_steps", "2",
           "--global_batch_size", str(gpus)]
    out = subprocess.run(cmd, env={**os.environ, "NUM_GPUS": str(gpus), "PATH": f"{Path(sys.executable).parent}:"
                                   f"{os.environ['PATH']}"}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "FSDP activation checkpointing is on" in out.stderr
    assert (tmp_path / "out" / "model.safetensors").exists()
