"""A tiny Qwen2-architecture model and tokenizer whose greedy behaviour is set by hand.

``build_tiny_model(out_dir, variant)`` writes a Hugging Face model folder (config, float32
safetensors, tokenizer files with Qwen2.5-Instruct's real chat template, generation_config.json)
that transformers and vLLM (CPU) both load offline.  Nothing is trained except the tokenizer's BPE
merges (on a small built-in corpus, deterministically); the weights are set so that greedy decoding
follows a designed table:

Tokenizer: byte-level BPE, 397 ordinary entries (any text round-trips) followed by
``<|endoftext|>`` (397), ``<|im_start|>`` (398) and ``<|im_end|>`` (399), as in Qwen2.5
(eos ``<|im_end|>``, pad ``<|endoftext|>``).  The model has 448 embedding/lm_head rows: ids 400-447
have no text, and their logits carry a -100 bias so that greedy decoding never picks them.

Greedy decoding, variant "ends" (``P`` = chat-templated prompt)::

    P + "<|im_start|>think"            -> "\\n" "Let" " me" " check" " the" " sum" "." <|im_start|>
    ... + "Wait"                        -> "," " check" " the" " sum" "." <|im_start|>
    ... + "<|im_start|>answer\\nFinal Answer:" -> " " "4" "2" <|im_end|>
    ... + "<|im_start|>answer"          -> "\\n" "4" "2" <|im_end|>
    P (no thinking at all)              -> "4" "2" <|im_end|>

If the context contains a "?" token (e.g. the question ends with "?"), every thinking round is
three tokens longer: " check" is followed by " each" " step" " of" " the" instead of " the".
So "What is 2+2?" thinks 10 tokens before ``<|im_start|>`` and "Compute 2+2." 7.

Variant "never": the same, except that "." is followed by "Let" instead of ``<|im_start|>``, so
thinking cycles "Let me check the sum." forever and never emits ``<|im_start|>``, ``<|im_end|>``
or ``<|endoftext|>``; the answer phase still ends with " 42<|im_end|>".

Construction: one decoder layer.  The MLP is zero and the attention output only writes three
"phase" dimensions of the residual stream, so the last position's hidden state is the embedding
of the last token (one-hot: a dimension of its own for each designed token, one shared "generic"
dimension for every other token, plus a constant dimension used as a bias) plus the phase.
Attention head 0 attends (with a query in the slowest RoPE pair, so position hardly matters) to
the tokens "answer" (score 60) or else "think" (score 30) and writes which one it found; head 2
finds "?" the same way.  lm_head rows then encode a successor table: a designed token's successor
gets logit 10; any other token leads to "Let" while thinking (logit 8) and to "4" otherwise
(logit 9 after "answer", 6 with neither marker).  All margins are several logits, in float32.

The generation config holds only bos/eos/pad ids (Qwen2.5's sampling defaults, e.g. its
repetition penalty, are left out on purpose: backends would apply them differently).

Larger builds, for benchmarks where compute matters: ``build_tiny_model(out, variant,
hidden_size=512, num_layers=8)`` writes a model with the SAME greedy behaviour (same tokenizer,
same logits up to float rounding) that costs real compute per token.  The designed layer stays
layer 0 and the designed dimensions stay the first 128 of the residual stream (the rest are
zero-padded); the head size stays 32 (so ``hidden_size / 32`` heads, half as many KV heads, the
designed heads 0 and 2 unchanged).  Extra layers have random (seeded) q/k/v/gate/up weights and
biases but zero ``o_proj`` and ``down_proj``, so they run full attention and MLP without changing
the residual stream.  RMSNorm over ``hidden_size`` dims of a vector with 128 non-zero dims is
``sqrt(128 / hidden_size)`` times the one over 128 dims, so the designed norms' weights are scaled
by that factor and ``rms_norm_eps`` by ``128 / hidden_size``: normalized values equal the small
model's exactly (up to float rounding).  The default (128, 1 layer) build is unchanged.

Sampled round ends, for scheduling benchmarks: ``build_tiny_model(out, "never", end_logit=-3.5)``
gives ``<|im_start|>`` (the end of a thinking round) a final logit ``end_logit`` relative to the
designed next token at EVERY thinking step (after "think", "\n", each chain token, "Wait" and
","), so that under temperature-1 sampling a round ends at each step with probability about
``sigmoid(end_logit)`` (-3.5: 2.9 %) and round lengths follow a geometric distribution with a
long tail; greedy decoding is unchanged (``end_logit`` must be negative).  It is a bias on the
``<|im_start|>`` row of lm_head: +8 on the "think" phase dimension (written only while thinking)
plus, on the dimension of each thinking token (and the generic one), the designed next token's
logit + ``end_logit / sqrt(128 / 3)`` - 8 (three unit dimensions are non-zero at a thinking
position, so the final RMSNorm scales by ``sqrt(128 / 3)``).  With a "?" in the context four are
(scale ``sqrt(32)``), so the per-step probability is somewhat higher (-3.5: about 4.6 %), and the
step after " check" (whose successor then gets 2 more) practically never ends.  Outside thinking
the ``<|im_start|>`` logit stays ~40 below the designed token.  With the "ends" variant a round
also still ends at "." at the latest.  ``end_logit=None`` (the default) leaves every file byte
for byte as before.

CLI: ``python -m s1eval.testing.tiny_model OUT [--variant ends|never] [--hidden-size 512]
[--layers 8] [--intermediate-size 1408] [--end-logit -3.5]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from s1eval.s1format import FORCED_ANSWER_PREFIX

__all__ = ["build_tiny_model", "main", "TINY_SPECIAL", "VARIANTS", "QWEN25_CHAT_TEMPLATE"]

VARIANTS = ("ends", "never")

# Ordinary BPE entries (256 bytes + merges), then the special tokens, then rows without text.
_N_ORDINARY = 397
TOKENIZER_SIZE = 400
MODEL_VOCAB_SIZE = 448
TINY_SPECIAL = {"endoftext": 397, "im_start": 398, "im_end": 399}
_SPECIAL_STRINGS = {"endoftext": "<|endoftext|>", "im_start": "<|im_start|>", "im_end": "<|im_end|>"}

# Qwen/Qwen2.5-32B-Instruct's chat template (tokenizer_config.json), verbatim.
QWEN25_CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""  # noqa: E501 - Qwen2.5's chat template verbatim (its lines are its own)

# Qwen2's pre-tokenizer regex (the same one transformers' Qwen2Tokenizer rebuilds on load).
_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Training text for the BPE merges.  It must never contain "?" (so "?" is always one token of its
# own, the marker the model looks for) nor "." directly before a letter (so that "." + "Wait"
# stays two tokens).  The first block is repeated so that the words the model's table uses become
# single tokens.
_KEY_BLOCK = (
    "system\nuser\nassistant\n"
    "think\nLet me check the sum. Let me check each step of the sum.\n"
    "Wait, check the sum. Wait, check each step of the sum.\n"
    f"answer\n{FORCED_ANSWER_PREFIX} 42\n"
)
_BACKGROUND = [
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "Find the number of ordered pairs of positive integers such that the sum is 100.",
    "Let $x$ and $y$ be real numbers with $x^2 + y^2 = 1$. Find the maximum of $x + y$.",
    "The answer is an integer between 0 and 999 inclusive. Put it in \\boxed{}.",
    "Compute $\\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}$ and then $\\sqrt{36} = 6$.",
    "A triangle has sides of length 3, 4 and 5; its area is 6 and its perimeter is 12.",
    "The probability that the two numbers are equal is $\\tfrac{m}{n}$, where m and n are coprime.",
    "Therefore the final answer is 42. We check each case and the sum of the digits.",
    "In the first step we think about the problem; in the second step we check the answer.",
    "Problem: Let $N$ be the remainder when the product is divided by 1000.",
]


def _corpus():
    for _ in range(40):
        yield _KEY_BLOCK
    for _ in range(4):
        yield from _BACKGROUND


def _train_tokenizer():
    """Train the byte-level BPE and add the special tokens; returns a ``tokenizers.Tokenizer``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(byte_fallback=False, fuse_unk=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_N_ORDINARY,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    if tok.get_vocab_size() != _N_ORDINARY:
        raise RuntimeError(f"BPE training gave {tok.get_vocab_size()} entries, expected {_N_ORDINARY}")
    tok.add_special_tokens(
        [AddedToken(_SPECIAL_STRINGS[k], special=True, normalized=False) for k in ("endoftext", "im_start", "im_end")]
    )
    for key, tid in TINY_SPECIAL.items():
        if tok.token_to_id(_SPECIAL_STRINGS[key]) != tid:
            raise RuntimeError(f"{_SPECIAL_STRINGS[key]} got id {tok.token_to_id(_SPECIAL_STRINGS[key])}")
    return tok


def _tokenizer_config() -> dict:
    added = {
        str(tid): {
            "content": _SPECIAL_STRINGS[key],
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for key, tid in TINY_SPECIAL.items()
    }
    # The shape of Qwen2.5-Instruct's tokenizer_config.json, cut down to our three special tokens.
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": QWEN25_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def _write_tokenizer(tok, out: Path) -> None:
    tok.save(str(out / "tokenizer.json"))
    # vocab.json + merges.txt as Qwen2.5 ships them (older loaders rebuild the BPE from these).
    tok.model.save(str(out))
    (out / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(), indent=2, ensure_ascii=False) + "\n")
    special_map = {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "eos_token": {"content": "<|im_end|>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False},
        "pad_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False},
    }
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Weights

_HIDDEN = 128
_HEADS = 4
_KV_HEADS = 2
_HEAD_DIM = 32
_INTERMEDIATE = 64
_ROPE_THETA = 1_000_000.0
_RMS_EPS = 1e-06
_INIT_STD = 0.02  # random weights of the extra layers of a larger build

# Residual-stream dimensions.
_CONST = 0  # 1 in every embedding row: a bias for lm_head
_GENERIC = 1  # 1 for every token without a dimension of its own
_FIRST_OWN = 2  # designed tokens get dimensions 2, 3, ...
_QMARK_DIM = 120  # "?" (besides GENERIC): the key that attention head 2 looks for
_P_THINK = 125  # written by attention head 0: "think" is in the context (and "answer" is not)
_P_ANSWER = 126  # written by attention head 0: "answer" is in the context
_P_QUESTION = 127  # written by attention head 2: "?" is in the context

# Logit sizes (before the final RMSNorm, which scales all logits of a position alike).
_L_NEXT = 10.0  # a designed token's successor
_L_DEFAULT = 5.0  # any other token -> "Let" (thinking) or "4" (otherwise)
_L_PHASE = 3.0  # phase bonus for "Let" while thinking / for "4" after "answer"
_L_ANSWER_PREF = 1.0  # "4" over "Let" when neither marker is present
_L_BRANCH = 2.0  # " check" -> " each" instead of " the" when "?" is present
_L_NO_TEXT = -100.0  # ids without text

# Attention scores (after the 1/sqrt(head_dim) scaling) of the marker tokens; others score 0.
_S_ANSWER = 60.0
_S_THINK = 30.0
_S_QMARK = 30.0

# Designed successor table: token text -> next token text (special tokens by their string).
_THINK_CHAIN = {
    "think": "\n",
    "answer": "\n",
    "Let": " me",
    " me": " check",
    " check": " the",  # or " each" when "?" is in the context
    " each": " step",
    " step": " of",
    " of": " the",
    " the": " sum",
    " sum": ".",
    "Wait": ",",
    ",": " check",
    ":": " ",
    " ": "4",
    "4": "2",
    "2": "<|im_end|>",
}
_END_OF_ROUND = {"ends": "<|im_start|>", "never": "Let"}  # successor of "."
# Tokens after which the model is thinking (the last position's token in a thinking round); the
# generic dimension ("\n" after "think") is handled beside them.  end_logit biases <|im_start|> there.
_THINKING_TOKENS = ("think", "Let", " me", " check", " each", " step", " of", " the", " sum", ".", "Wait", ",")
_END_PHASE_BIAS = 8.0  # <|im_start|> weight on the "think" phase dimension when end_logit is set
_THINK_START = "Let"
_ANSWER_START = "4"


def _single_id(tok, text: str) -> int:
    ids = tok.encode(text, add_special_tokens=False).ids
    if len(ids) != 1:
        raise RuntimeError(f"{text!r} is not a single token of the tiny tokenizer: {ids}")
    return ids[0]


def _weights(tok, variant: str, end_logit: float | None = None) -> dict:
    import torch

    table = dict(_THINK_CHAIN)
    table["."] = _END_OF_ROUND[variant]
    ident = {text: _single_id(tok, text) for text in set(table) | set(table.values()) | {"?"}}
    own = {text: _FIRST_OWN + i for i, text in enumerate(sorted(table))}
    assert max(own.values()) < _QMARK_DIM

    H, V = _HIDDEN, MODEL_VOCAB_SIZE
    emb = torch.zeros(V, H)
    emb[:, _CONST] = 1.0
    own_ids = {ident[t] for t in own}
    for tid in range(V):
        if tid not in own_ids:
            emb[tid, _GENERIC] = 1.0
    for text, dim in own.items():
        emb[ident[text], dim] = 1.0
    emb[ident["?"], _QMARK_DIM] = 1.0

    def normed(tid: int) -> float:
        """The value a one-hot entry of row tid takes after RMSNorm with unit weight."""
        return float((H / int((emb[tid] != 0).sum())) ** 0.5)

    # Attention: the query sits in the slowest-rotating RoPE pair (dims 15 and 31 of a head), whose
    # angle is at most ~1e-2 rad at 8192 positions, so scores hardly depend on position.
    slow = _HEAD_DIM // 2 - 1
    q_bias = torch.zeros(_HEADS * _HEAD_DIM)
    k_w = torch.zeros(_KV_HEADS * _HEAD_DIM, H)
    v_w = torch.zeros(_KV_HEADS * _HEAD_DIM, H)
    o_w = torch.zeros(H, _HEADS * _HEAD_DIM)
    q_val = _HEAD_DIM**0.5  # cancels the 1/sqrt(head_dim) scaling: score = key value
    # head 0 (kv head 0): "answer" beats "think"
    q_bias[0 * _HEAD_DIM + slow] = q_val
    k_w[0 * _HEAD_DIM + slow, own["answer"]] = _S_ANSWER / normed(ident["answer"])
    k_w[0 * _HEAD_DIM + slow, own["think"]] = _S_THINK / normed(ident["think"])
    v_w[0 * _HEAD_DIM + 0, own["think"]] = 1.0 / normed(ident["think"])
    v_w[0 * _HEAD_DIM + 1, own["answer"]] = 1.0 / normed(ident["answer"])
    o_w[_P_THINK, 0 * _HEAD_DIM + 0] = 1.0
    o_w[_P_ANSWER, 0 * _HEAD_DIM + 1] = 1.0
    # head 2 (kv head 1): "?"
    q_bias[2 * _HEAD_DIM + slow] = q_val
    k_w[1 * _HEAD_DIM + slow, _QMARK_DIM] = _S_QMARK / normed(ident["?"])
    v_w[1 * _HEAD_DIM + 0, _QMARK_DIM] = 1.0 / normed(ident["?"])
    o_w[_P_QUESTION, 2 * _HEAD_DIM + 0] = 1.0

    head = torch.zeros(V, H)
    for text, nxt in table.items():
        head[ident[nxt], own[text]] += _L_NEXT
    head[ident[" each"], own[" check"]] += _L_NEXT
    head[ident[" each"], _CONST] -= _L_BRANCH
    head[ident[" each"], _P_QUESTION] += 2 * _L_BRANCH
    head[ident[_THINK_START], _GENERIC] += _L_DEFAULT
    head[ident[_THINK_START], _P_THINK] += _L_PHASE
    head[ident[_ANSWER_START], _GENERIC] += _L_DEFAULT
    head[ident[_ANSWER_START], _P_ANSWER] += _L_PHASE
    head[ident[_ANSWER_START], _CONST] += _L_ANSWER_PREF
    head[TOKENIZER_SIZE:, _CONST] = _L_NO_TEXT
    if end_logit is not None:
        _add_end_bias(head, own, ident, end_logit)

    p = "model.layers.0."
    return {
        "model.embed_tokens.weight": emb,
        p + "self_attn.q_proj.weight": torch.zeros(_HEADS * _HEAD_DIM, H),
        p + "self_attn.q_proj.bias": q_bias,
        p + "self_attn.k_proj.weight": k_w,
        p + "self_attn.k_proj.bias": torch.zeros(_KV_HEADS * _HEAD_DIM),
        p + "self_attn.v_proj.weight": v_w,
        p + "self_attn.v_proj.bias": torch.zeros(_KV_HEADS * _HEAD_DIM),
        p + "self_attn.o_proj.weight": o_w,
        p + "mlp.gate_proj.weight": torch.zeros(_INTERMEDIATE, H),
        p + "mlp.up_proj.weight": torch.zeros(_INTERMEDIATE, H),
        p + "mlp.down_proj.weight": torch.zeros(H, _INTERMEDIATE),
        p + "input_layernorm.weight": torch.ones(H),
        p + "post_attention_layernorm.weight": torch.ones(H),
        "model.norm.weight": torch.ones(H),
        "lm_head.weight": head,
    }


def _add_end_bias(head, own: dict, ident: dict, end_logit: float) -> None:
    """Give <|im_start|> the final logit `end_logit` relative to the designed next token at every
    thinking position without "?" (see the module docstring); greedy choices stay as they were."""
    import torch

    end = TINY_SPECIAL["im_start"]
    scale = (_HIDDEN / 3) ** 0.5  # final RMSNorm of CONST + (own or GENERIC) + P_THINK, unit each
    delta = end_logit / scale
    head[end, _P_THINK] += _END_PHASE_BIAS
    dims = [own[t] for t in _THINKING_TOKENS] + [_GENERIC]
    for dim in dims:
        x = torch.zeros(_HIDDEN)
        x[[_CONST, dim, _P_THINK]] = 1.0
        logits = head @ x
        if int(logits.argmax()) == end:  # the designed end of a round ("." in variant "ends")
            continue
        head[end, dim] += float(logits.max()) + delta - float(logits[end])


def _widen(small: dict, hidden: int, layers: int, intermediate: int, seed: int) -> dict:
    """The designed weights zero-padded to ``hidden`` dims, plus ``layers - 1`` layers that compute
    but write nothing (zero o_proj / down_proj); see the module docstring."""
    import torch

    scale = (_HIDDEN / hidden) ** 0.5  # rms over `hidden` dims / rms over the designed 128
    heads, kv_heads = hidden // _HEAD_DIM, hidden // _HEAD_DIM // 2

    def pad(t, *shape, fill=0.0):
        out = torch.full(shape, fill, dtype=t.dtype)
        out[tuple(slice(0, n) for n in t.shape)] = t
        return out

    p = "model.layers.0."
    big = {
        "model.embed_tokens.weight": pad(small["model.embed_tokens.weight"], MODEL_VOCAB_SIZE, hidden),
        "lm_head.weight": pad(small["lm_head.weight"], MODEL_VOCAB_SIZE, hidden),
        "model.norm.weight": torch.full((hidden,), scale),
        p + "input_layernorm.weight": torch.full((hidden,), scale),
        p + "post_attention_layernorm.weight": torch.full((hidden,), scale),
        # heads 0-3 / KV heads 0-1 keep their rows; the group size stays 2, so head h still reads
        # KV head h // 2
        p + "self_attn.q_proj.weight": torch.zeros(heads * _HEAD_DIM, hidden),
        p + "self_attn.q_proj.bias": pad(small[p + "self_attn.q_proj.bias"], heads * _HEAD_DIM),
        p + "self_attn.k_proj.weight": pad(small[p + "self_attn.k_proj.weight"], kv_heads * _HEAD_DIM, hidden),
        p + "self_attn.k_proj.bias": torch.zeros(kv_heads * _HEAD_DIM),
        p + "self_attn.v_proj.weight": pad(small[p + "self_attn.v_proj.weight"], kv_heads * _HEAD_DIM, hidden),
        p + "self_attn.v_proj.bias": torch.zeros(kv_heads * _HEAD_DIM),
        p + "self_attn.o_proj.weight": pad(small[p + "self_attn.o_proj.weight"], hidden, heads * _HEAD_DIM),
        p + "mlp.gate_proj.weight": torch.zeros(intermediate, hidden),
        p + "mlp.up_proj.weight": torch.zeros(intermediate, hidden),
        p + "mlp.down_proj.weight": torch.zeros(hidden, intermediate),
    }
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=gen) * _INIT_STD

    for layer in range(1, layers):
        p = f"model.layers.{layer}."
        big.update({
            p + "input_layernorm.weight": torch.ones(hidden),
            p + "post_attention_layernorm.weight": torch.ones(hidden),
            p + "self_attn.q_proj.weight": rand(heads * _HEAD_DIM, hidden),
            p + "self_attn.q_proj.bias": rand(heads * _HEAD_DIM),
            p + "self_attn.k_proj.weight": rand(kv_heads * _HEAD_DIM, hidden),
            p + "self_attn.k_proj.bias": rand(kv_heads * _HEAD_DIM),
            p + "self_attn.v_proj.weight": rand(kv_heads * _HEAD_DIM, hidden),
            p + "self_attn.v_proj.bias": rand(kv_heads * _HEAD_DIM),
            p + "self_attn.o_proj.weight": torch.zeros(hidden, heads * _HEAD_DIM),  # writes nothing
            p + "mlp.gate_proj.weight": rand(intermediate, hidden),
            p + "mlp.up_proj.weight": rand(intermediate, hidden),
            p + "mlp.down_proj.weight": torch.zeros(hidden, intermediate),  # writes nothing
        })
    return big


def _config_dict(hidden: int = _HIDDEN, layers: int = 1, intermediate: int = _INTERMEDIATE) -> dict:
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "attention_dropout": 0.0,
        "bos_token_id": TINY_SPECIAL["endoftext"],
        "eos_token_id": TINY_SPECIAL["im_end"],
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": intermediate,
        "max_position_embeddings": 8192,
        "max_window_layers": layers,
        "num_attention_heads": hidden // _HEAD_DIM,
        "num_hidden_layers": layers,
        "num_key_value_heads": hidden // _HEAD_DIM // 2,
        "rms_norm_eps": _RMS_EPS * (_HIDDEN / hidden),
        "rope_theta": _ROPE_THETA,
        "rope_scaling": None,
        "sliding_window": None,
        "use_sliding_window": False,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": MODEL_VOCAB_SIZE,
    }


def build_tiny_model(out_dir, variant: str = "ends", hidden_size: int = _HIDDEN, num_layers: int = 1,
                     intermediate_size: int | None = None, seed: int = 0, end_logit: float | None = None) -> Path:
    """Write the tiny model (variant "ends" or "never") to ``out_dir`` and return its path.

    ``hidden_size`` (a multiple of 64, at least 128), ``num_layers`` and ``intermediate_size``
    (default 64 at hidden size 128, else ``hidden_size * 11 // 4``, e.g. 1408 for 512) build a
    larger model with the same greedy behaviour; ``seed`` sets its extra layers' random weights.
    ``end_logit`` (negative, e.g. -3.5; default None: unchanged) makes ``<|im_start|>`` a sampled
    alternative at every thinking step, ending a round with probability ~``sigmoid(end_logit)``
    per step at temperature 1 (module docstring); greedy decoding is unchanged.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    if hidden_size < _HIDDEN or hidden_size % (2 * _HEAD_DIM):
        raise ValueError(f"hidden_size must be a multiple of {2 * _HEAD_DIM} and >= {_HIDDEN}, not {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, not {num_layers}")
    if intermediate_size is None:
        intermediate_size = _INTERMEDIATE if hidden_size == _HIDDEN else hidden_size * 11 // 4
    if intermediate_size < 1:
        raise ValueError(f"intermediate_size must be >= 1, not {intermediate_size}")
    if end_logit is not None and not (float(end_logit) < 0.0 and float(end_logit) > -30.0):
        raise ValueError("end_logit must be negative (and > -30) so that greedy decoding is unchanged, "
                         f"not {end_logit}")
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = _train_tokenizer()
    _write_tokenizer(tok, out)
    weights = _weights(tok, variant, None if end_logit is None else float(end_logit))
    larger = (hidden_size, num_layers, intermediate_size) != (_HIDDEN, 1, _INTERMEDIATE)
    if larger:
        weights = _widen(weights, hidden_size, num_layers, intermediate_size, seed)
    tensors = {k: v.contiguous().float() for k, v in weights.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = _config_dict(hidden_size, num_layers, intermediate_size)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    gen = {
        "bos_token_id": TINY_SPECIAL["endoftext"],
        "eos_token_id": [TINY_SPECIAL["im_end"], TINY_SPECIAL["endoftext"]],
        "pad_token_id": TINY_SPECIAL["endoftext"],
    }
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    size = (f" (larger build: hidden_size {hidden_size}, {num_layers} layers, intermediate_size "
            f"{intermediate_size}, seed {seed}; same greedy behaviour)" if larger else "")
    if end_logit is not None:
        size += (f" (end_logit {float(end_logit)}: <|im_start|> is sampled at every thinking step with "
                 "probability ~sigmoid(end_logit) at temperature 1)")
    (out / "README.md").write_text(
        f"Tiny Qwen2-architecture test model, variant {variant!r}, built by s1eval.testing.tiny_model{size}.\n"
    )
    return out


def main(argv=None) -> int:
    """Entry point of `python -m s1eval.testing.tiny_model OUT ...`: builds the model, prints its folder; returns 0."""
    parser = argparse.ArgumentParser(prog="python -m s1eval.testing.tiny_model", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the model to")
    parser.add_argument("--variant", choices=VARIANTS, default="ends",
                        help="'ends' thinks briefly; 'never' never stops thinking")
    parser.add_argument("--hidden-size", type=int, default=_HIDDEN,
                        help=f"residual width, a multiple of 64 (default {_HIDDEN}); "
                             "larger builds keep the greedy behaviour")
    parser.add_argument("--layers", type=int, default=1,
                        help="decoder layers (default 1); extra layers compute but write nothing")
    parser.add_argument("--intermediate-size", type=int, default=None,
                        help=f"MLP width (default {_INTERMEDIATE} at hidden size {_HIDDEN}, "
                             "else hidden_size * 11 // 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the extra layers' random weights")
    parser.add_argument("--end-logit", type=float, default=None,
                        help="negative, e.g. -3.5: <|im_start|> is sampled at every thinking step with probability "
                             "~sigmoid(END_LOGIT) at temperature 1 (greedy behaviour unchanged)")
    args = parser.parse_args(argv)
    path = build_tiny_model(args.out, args.variant, hidden_size=args.hidden_size, num_layers=args.layers,
                            intermediate_size=args.intermediate_size, seed=args.seed, end_logit=args.end_logit)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
