"""GPQA Diamond loader for `s1_gpqa_diamond`: never shipped, loaded from the gated hub dataset or a local CSV.

The GPQA authors ask that the questions never appear in plain text online, so nothing here (or in `results/`)
stores them. Sources, through lm-eval's ``--metadata``:
- default: hub dataset ``Idavidrein/gpqa``, config ``gpqa_diamond`` (gated: accept the terms on its hub page and
  log in with ``huggingface-cli login`` or set ``HF_TOKEN``);
- ``{"gpqa_data": "/path/gpqa_diamond.csv"}``: the official CSV (from the password-protected zip linked in
  https://github.com/idavidrein/gpqa) or any file with its columns.

Choice order: the correct and three incorrect answers are permuted per question by a generator seeded with
sha256(seed, question) (``gpqa_seed``, default 0). The s1 fork shuffled with one global random stream, which
depends on iteration order and cannot be reproduced; a per-question permutation is stable under subsetting
(``--limit``) and reordering. Docs keep the choice texts, so responses that restate a choice are graded by text.

Logged samples: each doc lists its question, choices and prompt in ``log_redact`` (`s1eval.redact`), so lm-eval's
``--log_samples`` file holds their hashes, not the text, unless the task metadata sets ``log_plaintext: true``
(``--metadata '{"log_plaintext": true}'``). When the autoload hook is off (``S1EVAL_NO_AUTOLOAD=1``) the loader
installs the redacting samples writer itself, so turning the hook off never turns the redaction off.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from s1eval.data import load_source
from s1eval.redact import REDACT_FIELD, ensure_samples_redacted

HUB_ID = "Idavidrein/gpqa"
HUB_CONFIG = "gpqa_diamond"
COLUMNS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
LETTERS = "ABCD"
# The doc fields that hold GPQA's text; the logged samples show their hashes unless log_plaintext is true.
PRIVATE_FIELDS = ("question", "choices", "prompt")

ACCESS_HELP = (
    "GPQA Diamond could not be loaded from the hub dataset 'Idavidrein/gpqa' (config 'gpqa_diamond'). It is gated: "
    "accept its terms at https://huggingface.co/datasets/Idavidrein/gpqa, then `huggingface-cli login` "
    "(or set HF_TOKEN) "
    "and make sure HF_HUB_OFFLINE is not set. Or use a local copy of the official CSV: "
    "--metadata '{\"gpqa_data\": \"/path/to/gpqa_diamond.csv\"}'. Original error: "
)


def permutation(question: str, seed: int = 0) -> list[int]:
    """Order of [correct, incorrect 1, incorrect 2, incorrect 3] in the prompt, from hash(seed, question)."""
    digest = hashlib.sha256(f"{seed}\x00{question}".encode()).digest()
    order = [0, 1, 2, 3]
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def make_prompt(question: str, choices: list[str]) -> str:
    """`{Question}\\n\\nA) {c1}\\nB) {c2}\\nC) {c3}\\nD) {c4}` as in the s1 paper."""
    return question + "\n\n" + "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))


def build_doc(row: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """A task doc from one official-format row: prompt, shuffled choices, gold letter and index."""
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise KeyError(f"GPQA row lacks columns {missing}; the official CSV has {list(COLUMNS)}")
    question = str(row["Question"]).strip()
    answers = [str(row[c]).strip() for c in COLUMNS[1:]]
    order = permutation(question, seed)
    choices = [answers[i] for i in order]
    gold = order.index(0)
    return {
        "question": question,
        "choices": choices,
        "answer_index": gold,
        "answer": LETTERS[gold],
        "prompt": make_prompt(question, choices),
        "record_id": str(row.get("Record ID", "")),
        "domain": str(row.get("High-level domain", "")),
    }


def gpqa_rows(**kwargs: Any) -> list[dict[str, Any]]:
    """Official-format rows from `gpqa_data` (local file or hub id) or the gated hub dataset."""
    source = kwargs.get("gpqa_data")
    if source:
        return load_source(str(source), kwargs.get("gpqa_config"), kwargs.get("gpqa_split", "train"))
    try:
        return load_source(HUB_ID, kwargs.get("gpqa_config", HUB_CONFIG), kwargs.get("gpqa_split", "train"))
    except Exception as err:  # gated, offline, no token: all mean the same thing to the user
        raise RuntimeError(ACCESS_HELP + f"{type(err).__name__}: {err}") from err


def log_plaintext(kwargs: dict[str, Any]) -> bool:
    """The ``log_plaintext`` metadata flag (default false); anything but a boolean is refused."""
    value = kwargs.get("log_plaintext", False)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ValueError(f"log_plaintext must be true or false, got {value!r}; e.g. --metadata "
                         "'{\"log_plaintext\": true}' to log GPQA's questions and choices in plain text")
    return value


def gpqa_diamond(**kwargs: Any) -> Any:
    """`custom_dataset` hook: a DatasetDict with a `test` split of shuffled-choice docs."""
    import datasets

    seed = int(kwargs.get("gpqa_seed", 0))
    hidden = [] if log_plaintext(kwargs) else list(PRIVATE_FIELDS)
    if hidden:
        ensure_samples_redacted()
    docs = [{**build_doc(r, seed), REDACT_FIELD: hidden} for r in gpqa_rows(**kwargs)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
