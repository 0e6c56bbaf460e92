"""What a sweep folder was written by, so that a rerun never mixes two runs' answers.

`s1eval sweep` resumes: finished settings are skipped and finished requests come from lm-eval's request
cache. Both are valid only when everything that decides a response is the same, so the folder's first
write is `sweep.json`, the sweep's identity:

* the backend and its model_args, the model's fingerprint (s1eval.fingerprint: weights, tokenizer, chat
  template, generation config) and, when named apart, the tokenizer's; for s1api, what the server lists
  for the model name (`GET /v1/models`: vLLM's `root`, where it loaded the weights from), since a name
  says nothing about the weights behind it;
* the extra gen_kwargs, the ignore string, the seed, the chat-template / system-instruction / few-shot
  options and the task metadata;
* each task's version and a hash of its whole configuration (prompt, generation kwargs, filters);
* the budget-semantics and grader versions (settings graded by two graders are not comparable).

A rerun whose identity differs is refused before the model loads, naming each difference; adding a task
or a setting to the grid is not a difference. The request cache lives under a key of the identity
(without the task list, since a request's own hash covers its prompt and kwargs), and each setting's
done marker records the identity and the limit: a setting finished with another `--limit` or task list is
run again. The batch size and the device are not part of the identity (as for lm-eval's own cache).

This module also owns the list of what a sweep writes, so that only that is ever removed (`s1eval demo`
starts afresh without touching a user's files).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from s1eval.atomic import write_text_atomic

MANIFEST = "sweep.json"
MANIFEST_VERSION = 1
# Everything `s1eval sweep` writes into its output folder (request_cache_rank0.db: before identity keys).
OWN_ENTRIES = (MANIFEST, "settings", "request_cache", "request_cache_rank0.db", "summary.csv", "summary.json",
               "scaling.png")


class SweepFolderError(ValueError):
    """The output folder holds something a sweep must not reuse or overwrite."""


def digest(value: Any) -> str:
    """SHA-256 hex of the value's JSON with sorted keys (str() for what JSON cannot encode)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def task_identity(task_manager: Any, name: str, _seen: frozenset = frozenset()) -> dict[str, Any]:
    """A task's version and a hash of its configuration (its folder's absolute path left out); a group's
    also covers each of its member tasks (a member's prompt change is a change of the group)."""
    entry = task_manager.task_index[name]
    cfg = json.dumps(entry.cfg or {}, sort_keys=True, default=str)
    if entry.yaml_path is not None:
        cfg = cfg.replace(str(Path(entry.yaml_path).parent), "<task_dir>")
    members = (entry.cfg or {}).get("task") if "group" in (entry.cfg or {}) else None
    for member in members if isinstance(members, list) else []:
        if isinstance(member, str) and member in task_manager.task_index and member not in _seen:
            cfg += json.dumps(task_identity(task_manager, member, _seen | {name}), sort_keys=True)
        else:  # an inline task definition or an unknown name: its text is all there is
            cfg += json.dumps(member, sort_keys=True, default=str)
    return {"version": ((entry.cfg or {}).get("metadata") or {}).get("version"),
            "config_sha": hashlib.sha256(cfg.encode()).hexdigest()[:16]}


def cache_key(identity: dict[str, Any]) -> str:
    """The request cache's key: the identity without the task list."""
    return digest({k: v for k, v in identity.items() if k != "tasks"})[:16]


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two identities (tasks compared where both have them)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if key == "tasks":
            a, b = a or {}, b or {}
            out += [f"task {t} {_short(a[t])} -> {_short(b[t])}" for t in sorted(set(a) & set(b)) if a[t] != b[t]]
        elif a != b:
            out.append(f"{key} {_short(a)} -> {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def check_folder(out: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The folder's recorded identity if it matches `identity` (None: a new sweep); raises if it cannot be reused."""
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise SweepFolderError(f"--output {out} is a file; pass a folder (new or a sweep's own)")
    if not manifest.exists():
        ours = [name for name in OWN_ENTRIES if (out / name).exists()]
        if ours:
            raise SweepFolderError(
                f"--output {out} holds {', '.join(ours)} but no {MANIFEST}: a sweep written without an identity "
                "record (an older s1eval) or something else, so it cannot be told whether its settings are this "
                "run's. Pass a new --output (or delete that folder yourself).")
        return None
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["identity"]
    except (ValueError, KeyError, TypeError) as err:
        raise SweepFolderError(f"{manifest} is unreadable ({err}); pass a new --output") from None
    diff = differences(recorded, identity)
    if diff:
        raise SweepFolderError(
            f"--output {out} holds a sweep of another run; reusing its settings or cached requests would mix "
            f"two runs' answers. Differences: {'; '.join(diff)}. Pass a new --output, or rerun with the recorded "
            f"arguments (in {manifest}).")
    return recorded


def write_manifest(out: Path, identity: dict[str, Any], command: list[str]) -> None:
    """Record the sweep's identity (the union of tasks seen so far) and the command that wrote it."""
    manifest = out / MANIFEST
    if manifest.exists():
        old = json.loads(manifest.read_text(encoding="utf-8"))["identity"]
        identity = {**identity, "tasks": {**old.get("tasks", {}), **identity.get("tasks", {})}}
    write_text_atomic(manifest, json.dumps({"version": MANIFEST_VERSION, "identity": identity,
                                            "command": command}, indent=2, default=str) + "\n")


def remove_own_outputs(out: Path) -> list[str]:
    """Delete the entries a sweep writes (OWN_ENTRIES) from `out`; other files stay. Returns the names removed.

    The caller decides that `out` is its own (s1eval demo: its marker file); symlinks are unlinked, never followed.
    """
    import shutil
    removed = []
    for name in (*OWN_ENTRIES[1:], MANIFEST):  # the manifest last: an interrupted removal stays recognisable
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed
