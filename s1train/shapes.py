"""Model shapes for `s1train plan`: the Qwen2 architecture numbers and exact parameter counts.

Known models ship in ``models.json`` beside this file (Qwen2.5-0.5B to 72B, Instruct and base alike, and the
s1 models, which are fine-tuned Qwen2.5-32B-Instruct), so planning works offline. Any other Qwen2-architecture
model can be planned from its folder or its ``config.json``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).with_name("models.json")
_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
           "vocab_size", "tie_word_embeddings")


@dataclass(frozen=True)
class ModelShape:
    """One decoder-only Qwen2 model: q/k/v projections with bias, o_proj without, SwiGLU MLP, two RMSNorms."""

    name: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def q_size(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_key_value_heads * self.head_dim

    @property
    def params_layer_linear(self) -> int:
        h = self.hidden_size
        attn = h * self.q_size + 2 * h * self.kv_size + self.q_size * h
        return attn + 3 * h * self.intermediate_size

    @property
    def params_layer(self) -> int:
        return self.params_layer_linear + self.q_size + 2 * self.kv_size + 2 * self.hidden_size  # biases, norms

    @property
    def params_embed(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def params_head(self) -> int:
        """lm_head parameters of their own (0 when tied to the embedding)."""
        return 0 if self.tie_word_embeddings else self.params_embed

    @property
    def params_total(self) -> int:
        return self.num_hidden_layers * self.params_layer + self.params_embed + self.params_head + self.hidden_size


@lru_cache(maxsize=1)
def _known() -> dict:
    return json.loads(_DATA.read_text())


def known_models() -> list[str]:
    """The names of the models whose shapes ship with the package, sorted."""
    return sorted(_known()["models"])


def _from_config(path: Path) -> ModelShape:
    cfg = json.loads(path.read_text())
    missing = [f for f in _FIELDS[:-1] if f not in cfg]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; `s1train plan` needs a Qwen2-architecture config.json")
    cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
    return ModelShape(name=str(path.parent if path.name == "config.json" else path),
                      **{f: cfg.get(f, False) if f == "tie_word_embeddings" else cfg[f] for f in _FIELDS})


def _normalize(name: str) -> str:
    key = name.strip().lower().split("/")[-1]
    return key[: -len("-instruct")] if key.endswith("-instruct") else key


def load_shape(name: str) -> ModelShape:
    """A known model by name (``Qwen/Qwen2.5-32B-Instruct``, ``Qwen2.5-32B``, ``simplescaling/s1-32B``, ...), or a
    model folder / config.json path."""
    path = Path(name)
    if path.is_dir() and (path / "config.json").exists():
        return _from_config(path / "config.json")
    if path.is_file():
        return _from_config(path)
    data = _known()
    name = data["aliases"].get(name, name)
    by_key = {_normalize(k): k for k in data["models"]}
    key = by_key.get(_normalize(name))
    if key is None:
        near = difflib.get_close_matches(_normalize(name), list(by_key), n=3)
        hint = f" Did you mean {', '.join(by_key[n] for n in near)}?" if near else ""
        raise ValueError(f"unknown model {name!r}: known are {', '.join(known_models())} (and their base versions), "
                         f"or pass a model folder / config.json path.{hint}")
    spec = data["models"][key]
    return ModelShape(name=key, **{f: spec[f] for f in _FIELDS})
