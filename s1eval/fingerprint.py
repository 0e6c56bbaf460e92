"""Fingerprints of model folders: which weights, tokenizer and chat template produced a result.

A resumed sweep or a cached request may be reused only when the model that produced it is the same
(s1eval.analysis.sweep_manifest). A model named by a local folder is fingerprinted by its files: every small file
(config, tokenizer, chat template, generation config: anything up to 32 MiB) is hashed whole, and each
large weight file by its size and 16 evenly spaced 64 KiB samples, which any fine-tuning step changes
throughout, so a 64 GB checkpoint costs 1 MiB of reads per file instead of a full pass; a model that is one
file (GGUF) by that file. A hub id is identified by id and revision, which is what a hub id pins (its local
snapshot is not fingerprinted: a sweep's first run may download it, and the identity must not change then).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

WHOLE_FILE_LIMIT = 32 * 2**20
SAMPLES, SAMPLE_BYTES = 16, 64 * 2**10
# Files that never decide a model's output (a checkout's README, training logs, git metadata).
_IGNORED_PARTS = {".git", ".cache", "__pycache__"}
_IGNORED_SUFFIXES = {".md", ".log", ".png", ".lock"}


def looks_like_path(name: str) -> bool:
    """Whether `name` is meant as a local path rather than a hub id (`org/name`)."""
    return (name.startswith(("/", "./", "../", "~", ".\\")) or name in (".", "..") or name.count("/") > 1
            or os.path.exists(os.path.expanduser(name)))


def check_model_location(key: str, value: str) -> None:
    """Raise ValueError when `value` (model arg `key`) is a local path that does not exist, or a hub id that
    cannot be had: not in the local cache while HF_HUB_OFFLINE is set. Cheap: call it before loading anything."""
    if looks_like_path(value):
        if not os.path.exists(os.path.expanduser(value)):
            raise ValueError(f"{key}={value} does not exist (a local path); check the path, or name a hub model "
                             "as org/name")
        return
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") and _cached_snapshot(value, None) is None:
        raise ValueError(f"{key}={value} is neither a local folder nor in the local Hugging Face cache, and "
                         "HF_HUB_OFFLINE is set; download it first or pass a local folder")


def file_digest(path: Path) -> str:
    """sha256 of a small file, or of a large file's size and evenly spaced samples."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= WHOLE_FILE_LIMIT:
            for block in iter(lambda: f.read(2**20), b""):
                h.update(block)
            return h.hexdigest()
        h.update(f"sampled:{size}".encode())
        for i in range(SAMPLES):
            f.seek(i * (size - SAMPLE_BYTES) // (SAMPLES - 1))
            h.update(f.read(SAMPLE_BYTES))
    return h.hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """One sha256 over the relative names and digests of the files that can decide a model's output (a single
    file, such as a GGUF checkpoint, by its own digest). A folder without such files is an error: its
    fingerprint would equal every other empty one."""
    folder = Path(folder)
    if folder.is_file():
        return hashlib.sha256(f"file\0{file_digest(folder)}".encode()).hexdigest()
    h = hashlib.sha256()
    files = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if _IGNORED_PARTS & set(rel.parts) or path.suffix in _IGNORED_SUFFIXES:
            continue
        h.update(f"{rel.as_posix()}\0{file_digest(path)}\n".encode())
        files += 1
    if not files:
        raise ValueError(f"{folder} holds no model files to identify it by; pass the folder with the weights")
    return h.hexdigest()


def model_identity(name: str, revision: str | None = None) -> dict[str, Any]:
    """What identifies the model `name`: a local folder or file by its fingerprint, a hub id by id and revision.

    A hub id is not fingerprinted through the local cache: the first run of a sweep may download it, and the
    identity recorded before that download must equal the one computed after it.
    """
    if looks_like_path(name):  # where the folder lies does not decide anything: a moved checkpoint is the same
        return {"fingerprint": folder_fingerprint(Path(os.path.expanduser(name)).resolve())[:16]}
    return {"hub_id": name, "revision": revision or "main"}


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The snapshot folder of `repo_id` at `revision` in the local Hugging Face cache, if it is there."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception:  # not cached (or no huggingface_hub)
        return None
