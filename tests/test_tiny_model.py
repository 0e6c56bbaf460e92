"""The tiny test model: tokenizer, chat template, extra vocabulary rows and its designed greedy behaviour."""

import os
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from s1eval.testing.tiny_model import TINY_SPECIAL, build_tiny_model, main  # noqa: E402

IM_START, IM_END, EOT = TINY_SPECIAL["im_start"], TINY_SPECIAL["im_end"], TINY_SPECIAL["endoftext"]
STOP_IDS = {IM_START, IM_END, EOT}
QWEN_PROMPT = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
)
AIME = (
    "Let $ABCD$ be a rhombus with $\\angle BAD < 90^\\circ.$ There is a point $P$ on the incircle "
    "such that $\\frac{PA}{PB} = \\sqrt{2}$ and $x^{2} + y_{1} \\geq 0$. Find $m+n$, where the answer is "
    "$\\tfrac{m}{n}$.\n\n  Indented line\twith a tab\r\nand CRLF; unicode: café, naïve, ≤ ≥ ∑ π, 日本語, 🙂"
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def ends_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "ends", variant="ends")


@pytest.fixture(scope="module")
def never_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "never", variant="never")


@pytest.fixture(scope="module")
def tok(ends_path):
    return transformers.AutoTokenizer.from_pretrained(ends_path)


def _model(path):
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    return model


def _greedy(model, tok, text, n, stop_at_eos=True):
    ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
    kwargs = {} if stop_at_eos else {"eos_token_id": None}
    with torch.no_grad():
        out = model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False, pad_token_id=EOT, **kwargs
        )
    return out[0, ids.shape[1]:].tolist()


def _think_prompt(tok, question="Q"):
    chat = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
    return chat + "<|im_start|>think"


def test_autotokenizer_round_trips_any_text(tok):
    texts = [
        AIME,
        "Hello  world\n\n\nthree newlines, two  spaces,   three",
        " leading space and trailing space ",
        "\n",
        "Wait, Final Answer: think answer",
        "".join(chr(c) for c in range(32, 127)),
    ]
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
    # the class that comes back must not be one that normalises whitespace away
    assert tok.decode(tok.encode("a  b\nc", add_special_tokens=False)) == "a  b\nc"


def test_special_tokens_are_single_ids(tok):
    assert tok.encode("<|im_start|>", add_special_tokens=False) == [IM_START]
    assert tok.encode("<|im_end|>", add_special_tokens=False) == [IM_END]
    assert tok.encode("<|endoftext|>", add_special_tokens=False) == [EOT]
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == IM_END
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id == EOT
    ids = tok.encode("x<|im_start|>think\ny<|im_end|>", add_special_tokens=False)
    assert ids.count(IM_START) == 1 and ids.count(IM_END) == 1
    for word in ["think", "answer", "Wait", "Final", " Answer", "?"]:
        assert len(tok.encode(word, add_special_tokens=False)) == 1, word
    assert tok.decode([IM_START, IM_END]) == "<|im_start|><|im_end|>"
    assert tok.decode([IM_START, 19, IM_END], skip_special_tokens=True) == "4"


def test_chat_template_is_qwen25s(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "Q"}], tokenize=False, add_generation_prompt=True)
    assert text == QWEN_PROMPT
    with_system = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}], tokenize=False,
        add_generation_prompt=False,
    )
    assert with_system == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
    tools = [{"type": "function",
              "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}}]
    with_tools = tok.apply_chat_template([{"role": "user", "content": "Q"}], tools=tools, tokenize=False)
    assert with_tools.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
                                 "You are a helpful assistant.\n\n# Tools\n")


def test_model_has_rows_without_text(ends_path, tok):
    config = transformers.AutoConfig.from_pretrained(ends_path)
    assert config.vocab_size > len(tok)
    model = _model(ends_path)
    assert model.get_input_embeddings().weight.shape[0] == config.vocab_size
    assert model.get_output_embeddings().weight.shape[0] == config.vocab_size
    assert model.dtype == torch.float32
    size = sum(f.stat().st_size for f in ends_path.iterdir())
    assert size < 2_000_000


def test_ends_variant_thinks_briefly_then_answers(ends_path, tok):
    model = _model(ends_path)
    text = _think_prompt(tok)
    first = _greedy(model, tok, text, 20)
    assert IM_START in first
    k = first.index(IM_START)
    assert 3 <= k <= 12
    assert tok.decode(first[:k]) == "\nLet me check the sum."

    text += tok.decode(first[:k]) + "Wait"
    second = _greedy(model, tok, text, 20)
    assert IM_START in second
    k = second.index(IM_START)
    assert 3 <= k <= 12
    assert tok.decode(second[:k]) == ", check the sum."

    text += tok.decode(second[:k])
    forced = _greedy(model, tok, text + "<|im_start|>answer\nFinal Answer:", 20)
    assert IM_END in forced
    assert tok.decode(forced[: forced.index(IM_END)]) == " 42"
    natural = _greedy(model, tok, text + "<|im_start|>answer", 20)
    assert IM_END in natural and IM_START not in natural[: natural.index(IM_END)]
    assert tok.decode(natural[: natural.index(IM_END)]) == "\n42"


def test_ends_variant_thinking_length_depends_on_the_question(ends_path, tok):
    model = _model(ends_path)
    plain = _greedy(model, tok, _think_prompt(tok, "Compute 2+2."), 20)
    asked = _greedy(model, tok, _think_prompt(tok, "What is 2+2?"), 20)
    assert plain.index(IM_START) == 7
    assert asked.index(IM_START) == 10
    assert tok.decode(asked[: asked.index(IM_START)]) == "\nLet me check each step of the sum."


def test_never_variant_never_stops_thinking(never_path, tok):
    model = _model(never_path)
    for question in ["Q", "What is 2+2?"]:
        text = _think_prompt(tok, question)
        out = _greedy(model, tok, text, 200, stop_at_eos=False)
        assert len(out) == 200
        assert not STOP_IDS & set(out)
        out = _greedy(model, tok, text + "\nLet me check the sum.Wait", 200, stop_at_eos=False)
        assert len(out) == 200
        assert not STOP_IDS & set(out)


@pytest.mark.parametrize("variant", ["ends", "never"])
def test_no_greedy_id_without_text(variant, ends_path, never_path, tok):
    model = _model(ends_path if variant == "ends" else never_path)
    base = _think_prompt(tok, "What is 2+2?")
    prompts = [base, base + "\nLet me check.Wait", base + "<|im_start|>answer\nFinal Answer:",
               base[: -len("<|im_start|>think")]]
    for text in prompts:
        out = _greedy(model, tok, text, 200, stop_at_eos=False)
        assert len(out) == 200
        assert max(out) < len(tok)


def test_build_is_deterministic(ends_path, tmp_path):
    again = build_tiny_model(tmp_path / "again", variant="ends")
    names = sorted(p.name for p in ends_path.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (ends_path / name).read_bytes() == (again / name).read_bytes(), name


def test_variants_differ_and_bad_variant_is_refused(ends_path, never_path, tmp_path):
    assert (ends_path / "model.safetensors").read_bytes() != (never_path / "model.safetensors").read_bytes()
    with pytest.raises(ValueError):
        build_tiny_model(tmp_path / "x", variant="sometimes")


def test_cli_writes_a_loadable_folder(tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "s1eval.testing.tiny_model", str(out), "--variant", "never"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "generation_config.json"]:
        assert (out / name).is_file(), name
    assert main([str(tmp_path / "direct")]) == 0
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "direct").chat_template


def _bf_prompts(tok, question):
    """Prompts of the budget-forcing phases (as the state machine builds them) and a plain one."""
    think = _think_prompt(tok, question)
    first = "\nLet me check each step of the sum." if "?" in question else "\nLet me check the sum."
    wait = think + first + "Wait"
    second = ", check each step of the sum." if "?" in question else ", check the sum."
    return {"think": think, "wait": wait, "forced": wait + second + "<|im_start|>answer\nFinal Answer:",
            "natural": wait + second + "<|im_start|>answer", "plain": think[: -len("<|im_start|>think")]}


@pytest.mark.parametrize("variant", ["ends", "never"])
def test_larger_build_keeps_the_greedy_behaviour(variant, ends_path, never_path, tok, tmp_path):
    small = _model(ends_path if variant == "ends" else never_path)
    path = build_tiny_model(tmp_path / "big", variant=variant, hidden_size=512, num_layers=8)
    config = transformers.AutoConfig.from_pretrained(path)
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size) == (512, 8, 1408)
    assert config.hidden_size // config.num_attention_heads == 32
    big = _model(path)
    assert sum(p.numel() for p in big.parameters()) > 20 * sum(p.numel() for p in small.parameters())
    # the extra layers really compute: random q/k/v/gate/up, only their outputs are zero
    layer = big.model.layers[3]
    assert layer.self_attn.q_proj.weight.abs().sum() > 0 and layer.mlp.up_proj.weight.abs().sum() > 0
    assert layer.self_attn.o_proj.weight.abs().sum() == 0 and layer.mlp.down_proj.weight.abs().sum() == 0
    # every position of whole budget-forcing sequences: same logits, so the same greedy choice
    for question in ["Q", "What is 2+2?", "Compute 2+2."]:
        prompts = _bf_prompts(tok, question)
        for text in (prompts["forced"] + " 42<|im_end|>", prompts["natural"] + "\n42<|im_end|>",
                     prompts["plain"] + "42"):
            ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
            with torch.no_grad():
                want, got = small(ids).logits, big(ids).logits
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
            assert torch.equal(got.argmax(-1), want.argmax(-1))
    # and greedy generation (with the KV cache) of the three phases gives the same tokens
    prompts = _bf_prompts(tok, "What is 2+2?")
    for phase in ("think", "wait", "forced"):
        want = _greedy(small, tok, prompts[phase], 16, stop_at_eos=variant == "ends")
        assert _greedy(big, tok, prompts[phase], 16, stop_at_eos=variant == "ends") == want, phase
        if variant == "ends":
            stop = IM_END if phase == "forced" else IM_START
            text = {"think": "\nLet me check each step of the sum.", "wait": ", check each step of the sum.",
                    "forced": " 42"}[phase]
            assert tok.decode(want[: want.index(stop)]) == text

def test_larger_build_is_deterministic_and_the_default_is_unchanged(ends_path, tmp_path):
    one = build_tiny_model(tmp_path / "one", hidden_size=256, num_layers=2, intermediate_size=96)
    assert main([str(tmp_path / "two"), "--hidden-size", "256", "--layers", "2", "--intermediate-size", "96"]) == 0
    for name in sorted(p.name for p in one.iterdir()):
        assert (one / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert (one / "model.safetensors").read_bytes() != (ends_path / "model.safetensors").read_bytes()
    # explicit default sizes give the default build, byte for byte
    same = build_tiny_model(tmp_path / "same", hidden_size=128, num_layers=1, intermediate_size=64)
    for name in sorted(p.name for p in ends_path.iterdir()):
        assert (same / name).read_bytes() == (ends_path / name).read_bytes(), name
    for bad in [dict(hidden_size=200), dict(hidden_size=64), dict(num_layers=0)]:
        with pytest.raises(ValueError):
            build_tiny_model(tmp_path / "bad", **bad)


# ---------------------------------------------------------------- end_logit: sampled round ends

def _sigmoid(x):
    return 1.0 / (1.0 + torch.exp(torch.tensor(-x)).item())


@pytest.fixture(scope="module")
def sampled_end_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "sampled", variant="never", end_logit=-3.5)


def test_end_logit_none_is_the_default_build_byte_for_byte(ends_path, tmp_path):
    same = build_tiny_model(tmp_path / "same", variant="ends", end_logit=None)
    for name in sorted(p.name for p in ends_path.iterdir()):
        assert (same / name).read_bytes() == (ends_path / name).read_bytes(), name


def test_end_logit_only_changes_the_end_row_and_keeps_greedy_behaviour(never_path, sampled_end_path, tok):
    from safetensors.torch import load_file

    want, got = load_file(never_path / "model.safetensors"), load_file(sampled_end_path / "model.safetensors")
    assert want.keys() == got.keys()
    for name in want:
        if name != "lm_head.weight":
            assert torch.equal(want[name], got[name]), name
    changed = (want["lm_head.weight"] != got["lm_head.weight"]).any(dim=1).nonzero().flatten().tolist()
    assert changed == [IM_START]
    small, biased = _model(never_path), _model(sampled_end_path)
    prompts = _bf_prompts(tok, "What is 2+2?")
    for phase in ("think", "wait", "forced", "plain"):
        assert _greedy(biased, tok, prompts[phase], 40, stop_at_eos=False) == \
               _greedy(small, tok, prompts[phase], 40, stop_at_eos=False), phase


@pytest.mark.parametrize("end_logit", [-3.5, -2.0])
def test_end_logit_sets_the_end_probability_of_every_thinking_step(end_logit, tmp_path, tok):
    model = _model(build_tiny_model(tmp_path / "m", variant="never", end_logit=end_logit))
    chat = tok.apply_chat_template([{"role": "user", "content": "Compute 2+2."}], tokenize=False,
                                   add_generation_prompt=True)
    thinking = chat + "<|im_start|>think\nLet me check the sum.Let me check the sum.Wait, check the sum.Let me"
    ids = tok(thinking, return_tensors="pt", add_special_tokens=False).input_ids
    start = len(tok(chat + "<|im_start|>", add_special_tokens=False).input_ids)  # the "think" position
    with torch.no_grad():
        probs = model(ids).logits[0].softmax(-1)
    p_end = probs[start:, IM_START]
    assert len(p_end) == ids.shape[1] - start >= 20
    torch.testing.assert_close(p_end, torch.full_like(p_end, _sigmoid(end_logit)), atol=1e-4, rtol=1e-3)
    # the rest of the mass is on the designed next token: sampling follows the greedy chain or ends
    top = probs[start:].max(-1).values
    torch.testing.assert_close(top + p_end, torch.ones_like(top), atol=1e-5, rtol=0)
    # outside thinking (answer phase, no thinking at all) the end is never sampled
    for text in (thinking + ".<|im_start|>answer\n42", thinking + ".\n<|im_start|>answer\nFinal Answer: 42",
                 chat + "42"):
        ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
        with torch.no_grad():
            probs = model(ids).logits[0].softmax(-1)
        marker = text.rfind("answer") if "answer" in text else len(chat) - 1
        first = len(tok(text[:marker], add_special_tokens=False).input_ids)
        assert probs[first:, IM_START].max() < 1e-12, text[-30:]


def test_sampled_round_lengths_are_geometric(sampled_end_path, tok):
    model = _model(sampled_end_path)
    ids = tok(_think_prompt(tok, "Compute 2+2."), return_tensors="pt", add_special_tokens=False).input_ids
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(ids.repeat(48, 1), attention_mask=torch.ones_like(ids).repeat(48, 1), do_sample=True,
                             temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=200, eos_token_id=IM_START,
                             pad_token_id=EOT)
    new = out[:, ids.shape[1]:].tolist()
    lengths = [row.index(IM_START) + 1 if IM_START in row else 201 for row in new]
    # geometric with p = sigmoid(-3.5) = 2.9 %: mean ~34, a long tail
    assert 20 <= sum(lengths) / len(lengths) <= 50
    assert min(lengths) < 10 and max(lengths) > 80
    assert not {IM_END, EOT} & {t for row, n in zip(new, lengths) for t in row[:n]}  # after the end: padding


def test_bad_end_logit_is_refused(tmp_path):
    for bad in (0.0, 1.0, -50.0):
        with pytest.raises(ValueError):
            build_tiny_model(tmp_path / "bad", variant="never", end_logit=bad)


def test_cli_end_logit(tmp_path, sampled_end_path):
    assert main([str(tmp_path / "cli"), "--variant", "never", "--end-logit", "-3.5"]) == 0
    for name in sorted(p.name for p in sampled_end_path.iterdir()):
        assert (tmp_path / "cli" / name).read_bytes() == (sampled_end_path / name).read_bytes(), name
