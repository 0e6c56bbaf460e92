"""Training text in the exact format of S1_FACTS.md, through the tiny model's copy of Qwen2.5's template."""

from __future__ import annotations

from transformers import AutoTokenizer

from s1data.stages.export import Export, ExportOptions, training_text

SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def test_text_format(tiny_tok):
    tok = AutoTokenizer.from_pretrained(tiny_tok)
    text = training_text(tok, "What is 1+1?", "  I add.\n", "The sum is $\\boxed{2}$. ")
    assert text == (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n"
                    "<|im_start|>assistant\n<|im_start|>think\nI add.\n<|im_start|>answer\n"
                    "Answer: The sum is $\\boxed{2}$.<|im_end|>\n")
    assert "Answer: Answer:" not in training_text(tok, "q", "t", "Answer: 2")
    assert training_text(tok, "q", "t", "Final Answer: 2").endswith("<|im_start|>answer\nFinal Answer: 2<|im_end|>\n")


def test_export_columns(tiny_tok, tmp_path):
    row = {"question": "q?", "solution": "2", "cot_type": "math", "source_type": "s", "metadata": "{}",
           "question_hash": "h", "thinking_trajectory": "t", "attempt": "2", "teacher_correct": True}
    out = Export(ExportOptions(format="s1k_1.1", teacher_prefix="deepseek", tokenizer=tiny_tok,
                               save_to=str(tmp_path / "ds"))).process([row])
    r = out.kept[0]
    for col in ("solution", "question", "cot_type", "source_type", "metadata", "cot", "thinking_trajectories",
                "attempt", "gemini_thinking_trajectory", "gemini_attempt", "deepseek_thinking_trajectory",
                "deepseek_attempt", "gemini_grade", "deepseek_grade", "text"):
        assert col in r
    assert r["thinking_trajectories"] == ["t"] and r["deepseek_grade"] == "Yes" and r["gemini_attempt"] is None
    import datasets

    assert datasets.load_from_disk(str(tmp_path / "ds"))[0]["text"] == r["text"]
