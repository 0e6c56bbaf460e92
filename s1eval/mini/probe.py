"""Probe a mini model's own thinking: does it compute the map, and how far along the trajectory does it get?

``python -m s1eval.mini probe MODEL [--n 64] [--split dev]``: greedy thinking (no budget, no forcing) on `n`
problems of a split, each checked line by line with `s1eval.mini.traces.check_trace`: the share of lines with a
wrong map value (sigma(x)) or a wrong sum, the share of complete traces, and how often the last value written
is the answer. Used on a pretrained base before the s1 step (is the table learned yet?) and to explain a
sweep's numbers; it is a diagnostic, not the benchmark (that is `s1eval sweep` on tasks/s1_mini).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from s1eval.mini.problems import K_MAX, K_MIN, Problem, sample_problems
from s1eval.mini.traces import TraceCheck, check_trace, line
from s1eval.s1format import S1

#: The s1 delimiters the mini model was trained with: thinking opens with "<|im_start|>think\n" and ends at the
#: next "<|im_start|>" (the answer delimiter).
THINK = S1.thinking_start + "\n"
THINKING_END = S1.until_thinking
#: Character spans within a step line ``nn:xx->ss+rr=yy`` and what each asks of the model (the fixed ":", "->",
#: "+", "=" and the newline ask nothing).
LINE_PARTS = {"count down n": (0, 2), "copy x": (3, 5), "map sigma(x)": (7, 9), "next r": (10, 12),
              "sum mod P": (13, 15)}
_SAMPLE_LINE = line(3, 31, 23, 11, 34) + "\n"


def line_layout(tok: Any) -> tuple[int, dict[str, list[int]]]:
    """Tokens per step line and, for each part of `LINE_PARTS`, the offsets of its tokens within the line, as
    `tok` splits a line (the mini tokenizer: one token per digit and symbol, 15 per line)."""
    enc = tok(_SAMPLE_LINE, add_special_tokens=False, return_offsets_mapping=True)
    spans = enc["offset_mapping"]
    parts = {name: [i for i, (s, e) in enumerate(spans) if s < hi and e > lo] for name, (lo, hi) in LINE_PARTS.items()}
    for name, offsets in parts.items():
        lo, hi = LINE_PARTS[name]
        if not offsets or any(spans[i][0] < lo or spans[i][1] > hi for i in offsets):
            raise RuntimeError(f"the tokenizer splits {_SAMPLE_LINE!r} across the {name!r} part ({spans}); the probe "
                               "needs numbers tokenized apart from the symbols around them")
    return len(spans), parts


@functools.lru_cache(maxsize=2)
def _load(model_dir: str):
    """Tokenizer (left padding, for batched generation) and float32 model; cached, so `probe_summary`'s two
    measurements load the model once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    return tok, AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def _prompt(tok: Any, problem: Problem) -> str:
    """The chat-templated question with the thinking opened, as the s1 step trained it."""
    return tok.apply_chat_template([{"role": "user", "content": problem.question}], tokenize=False,
                                   add_generation_prompt=True) + THINK


@dataclass
class ProbeReport:
    problems: int
    lines: int
    bad_lookup: int
    bad_sum: int
    unparsed: int
    complete: int
    started_right: int  # traces whose first line read k, x0 and r from the question
    final_right: int
    ended: int  # traces the model closed itself (the answer delimiter or EOS) within the token limit

    def rates(self) -> dict[str, float]:
        lines = max(self.lines, 1)
        return {"wrong_map_per_line": self.bad_lookup / lines, "wrong_sum_per_line": self.bad_sum / lines,
                "started_right": self.started_right / self.problems,
                "complete_traces": self.complete / self.problems,
                "final_value_right": self.final_right / self.problems,
                "ended_on_its_own": self.ended / self.problems}

    def format(self) -> str:
        r = self.rates()
        return (f"{self.problems} problems, {self.lines} step lines ({self.unparsed} other lines): wrong map value "
                f"{r['wrong_map_per_line']:.1%} of lines, wrong sum {r['wrong_sum_per_line']:.1%}; first line read "
                f"the question (k, x0, r) {r['started_right']:.1%}; complete traces "
                f"{r['complete_traces']:.1%}; last value = answer {r['final_value_right']:.1%}; thinking ended "
                f"on its own {r['ended_on_its_own']:.1%}")


def probe(model_dir: str, n: int = 64, seed: int = 0, split: str = "dev", batch_size: int = 32,
          k_range: tuple[int, int] = (K_MIN, K_MAX)) -> tuple[ProbeReport, list[tuple[Problem, str, TraceCheck]]]:
    """Greedy thinking of the model in `model_dir` on `n` distinct problems of `split`, checked."""
    import torch

    tok, model = _load(model_dir)
    problems = sample_problems(n, seed, split, k_range, unique=True)
    stop_ids = [tok.convert_tokens_to_ids(THINKING_END), tok.eos_token_id]
    max_new = line_layout(tok)[0] * (k_range[1] + 4)  # the longest trace and a few Wait lines
    results: list[tuple[Problem, str, TraceCheck]] = []
    ended = 0
    for i in range(0, n, batch_size):
        chunk = problems[i:i + batch_size]
        prompts = [_prompt(tok, p) for p in chunk]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, eos_token_id=stop_ids,
                                 pad_token_id=tok.pad_token_id)
        for p, row in zip(chunk, out[:, enc["input_ids"].shape[1]:].tolist()):
            cut = next((j for j, t in enumerate(row) if t in stop_ids), None)
            ended += cut is not None
            text = tok.decode(row[:cut], skip_special_tokens=False)
            results.append((p, text, check_trace(p, text)))
    checks = [c for _, _, c in results]
    report = ProbeReport(
        problems=len(results), lines=sum(c.lines for c in checks), bad_lookup=sum(c.bad_lookup for c in checks),
        bad_sum=sum(c.bad_sum for c in checks), unparsed=sum(c.unparsed for c in checks),
        complete=sum(c.complete for c in checks), started_right=sum(c.started_right for c in checks), ended=ended,
        final_right=sum(c.final == p.answer for (p, _, c) in results))
    return report, results


def forced_accuracy(model_dir: str, n: int = 64, seed: int = 0, split: str = "dev",
                    k_range: tuple[int, int] = (K_MIN, K_MAX)) -> dict[str, float]:
    """Teacher-forced next-token accuracy on plain reference traces, by part of the trace line (copying x,
    looking up sigma(x), the next r, the sum mod P) and ending the thinking after the last line: which skill is
    learned."""
    import torch

    from s1eval.mini.traces import PLAIN, write_trace

    tok, model = _load(model_dir)
    per_line, parts = line_layout(tok)
    rng = random.Random(seed)
    hits: dict[str, list[int]] = {name: [0, 0] for name in (*LINE_PARTS, "stop after the last line")}
    end_id = tok.convert_tokens_to_ids(THINKING_END)
    for p in sample_problems(n, seed, split, k_range, unique=True):
        prompt = _prompt(tok, p)
        trace = write_trace(p, rng, PLAIN).text + "\n"
        head = tok(prompt, add_special_tokens=False)["input_ids"]
        ids = tok(prompt + trace, add_special_tokens=False)["input_ids"]
        if ids[:len(head)] != head or len(ids) - len(head) != per_line * p.k:
            raise RuntimeError(f"unexpected tokenization of a trace line under {model_dir}'s tokenizer")
        with torch.no_grad():
            pred = model(torch.tensor([ids])).logits[0].argmax(-1).tolist()
        for step in range(p.k):
            at = len(head) + per_line * step
            for name, offsets in parts.items():
                for o in offsets:
                    hits[name][0] += pred[at + o - 1] == ids[at + o]
                    hits[name][1] += 1
        # after the last line (r has reached b) the thinking ends: the answer delimiter must come next
        hits["stop after the last line"][0] += pred[-1] == end_id
        hits["stop after the last line"][1] += 1
    return {name: h / max(t, 1) for name, (h, t) in hits.items()}


def probe_summary(model_dir: str, **kwargs: Any) -> str:
    """A model's probe as text: teacher-forced token accuracy, greedy trace checks, the first incomplete trace."""
    report, results = probe(model_dir, **kwargs)
    worst = next(((p, t) for p, t, c in results if not c.complete), None)
    forced = forced_accuracy(model_dir, n=kwargs.get("n", 64), seed=kwargs.get("seed", 0),
                             split=kwargs.get("split", "dev"))
    lines = ["teacher-forced token accuracy: " + ", ".join(f"{k} {v:.1%}" for k, v in forced.items()),
             report.format()]
    if worst:
        lines.append(f"first incomplete trace ({worst[0].question}; answer {worst[0].answer:02d}):\n{worst[1][:400]}")
    return "\n".join(lines)
