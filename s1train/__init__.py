"""s1train: supervised fine-tuning of s1-32B / s1.1-32B with trl, from a CPU smoke run to 16-GPU FSDP.

- `s1train sft --config recipes/s1_32b.yaml`: the recipe (config.py), the data in the paper's format with the
  loss on the assistant turn only (data.py), the trl script (sft.py).
- `s1train plan --model ... --gpus N --block-size L`: memory per GPU before launching (plan.py, shapes.py),
  checked against measured peaks (memprobe.py).
- configs/accelerate/: FSDP2 and DeepSpeed ZeRO-3 configs; scripts/ at the repository root launches them.
See docs/training.md.
"""
