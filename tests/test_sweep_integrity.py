"""`s1eval sweep` and `s1eval demo` never mix two runs, never delete a user's files, and check arguments
before the model loads (issue 18, items 1, 3 and 6)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_lm_eval_cli import env
from tests.test_sweep import S1EVAL

TINY_ARGS = ["--tasks", "s1_aime24", "--max-tokens-thinking", "8", "--ignores", "0",
             "--apply_chat_template", "--gen_kwargs", "max_gen_toks=64", "--no-plot"]


def sweep(model: str, out: Path, *extra: str, limit: str = "2") -> subprocess.CompletedProcess:
    cmd = [S1EVAL, "sweep", "--model", "s1hf", "--model_args", f"pretrained={model},max_length=4096",
           *TINY_ARGS, "--limit", limit, "--output", str(out), *extra]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)


def snapshot(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its modification time (ns)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def perturbed_copy(model: str, dest: Path) -> str:
    """The model with one weight tensor scaled: the same config and tokenizer, other weights."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(model, dest)
    weights = load_file(str(dest / "model.safetensors"))
    name = sorted(weights)[-1]
    weights[name] = weights[name] * 1.5
    save_file(weights, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return str(dest)


@pytest.mark.slow
def test_a_sweep_folder_of_another_model_is_refused_and_a_moved_model_resumes(tiny_ends, tmp_path):
    out = tmp_path / "sweep"
    first = sweep(tiny_ends, out)
    assert first.returncode == 0, first.stderr[-3000:]
    # progress: one line per finished setting as it finishes, then the table with its forced column
    assert re.search(r"^\[1/1\] budget8_ignore0: s1_aime24 \d+\.\d% \[.*\] \(n=2\), thinking [\d.]+, forced \d+% "
                     r"\([\d.]+ s\)$", first.stdout, re.M), first.stdout
    assert re.search(r"^setting .* within +forced$", first.stdout, re.M) and "Control" in first.stdout
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["identity"]["model"]["fingerprint"] and "s1_aime24" in manifest["identity"]["tasks"]
    before = snapshot(out)

    other = sweep(perturbed_copy(tiny_ends, tmp_path / "other"), out)
    assert other.returncode == 2
    assert "holds a sweep of another run" in other.stderr and "model {\"fingerprint\"" in other.stderr
    assert "Traceback" not in other.stderr and snapshot(out) == before  # refused before writing anything

    changed = sweep(tiny_ends, out, "--seed", "7")
    assert changed.returncode == 2 and "seed 0 -> 7" in changed.stderr and snapshot(out) == before

    moved = shutil.copytree(tiny_ends, tmp_path / "moved")  # the same files elsewhere: the same model
    again = sweep(str(moved), out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Skipping 1 finished settings" in again.stderr
    assert snapshot(out)["settings/budget8_ignore0/done.json"] == before["settings/budget8_ignore0/done.json"]

    fewer = sweep(tiny_ends, out, limit="1")  # another --limit: the setting is run again, not reused
    assert fewer.returncode == 0, fewer.stderr[-3000:]
    assert "Skipping" not in fewer.stderr
    [row] = json.loads((out / "summary.json").read_text())["rows"]
    assert row["n"] == 1 and row["stats_n"] == 1


def test_a_folder_with_sweep_outputs_but_no_manifest_is_refused(tmp_path):
    from s1eval.analysis.sweep_manifest import SweepFolderError, check_folder

    (tmp_path / "settings" / "budget8_ignore0").mkdir(parents=True)
    with pytest.raises(SweepFolderError, match="no sweep.json"):
        check_folder(tmp_path, {"seed": 0})
    assert check_folder(tmp_path / "new", {"seed": 0}) is None  # a new folder is a new sweep
    (tmp_path / "file").write_text("x")
    with pytest.raises(SweepFolderError, match="is a file"):
        check_folder(tmp_path / "file", {"seed": 0})


def test_identity_differences_name_each_field_and_allow_new_tasks():
    from s1eval.analysis.sweep_manifest import cache_key, differences

    old = {"seed": 0, "gen_kwargs": {"max_gen_toks": 64}, "tasks": {"a": {"version": 1}}}
    assert differences(old, {**old, "tasks": {"a": {"version": 1}, "b": {"version": 3}}}) == []
    assert differences(old, {**old, "tasks": {"a": {"version": 2}}}) == ['task a {"version": 1} -> {"version": 2}']
    assert differences(old, {**old, "gen_kwargs": {}}) == ['gen_kwargs {"max_gen_toks": 64} -> {}']
    # the request cache is keyed without the task list (each request's own hash covers its prompt)
    assert cache_key(old) == cache_key({**old, "tasks": {}}) != cache_key({**old, "seed": 1})


def test_fingerprint_sees_weights_and_template_but_not_where_a_folder_lies(tmp_path, monkeypatch):
    from s1eval import fingerprint

    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "README.md").write_text("notes")
    monkeypatch.setattr(fingerprint, "WHOLE_FILE_LIMIT", 1000)  # make the weight file "large": sampled
    (model / "model.safetensors").write_bytes(bytes(range(256)) * 400)
    base = fingerprint.model_identity(str(model))
    assert fingerprint.model_identity(str(shutil.copytree(model, tmp_path / "moved"))) == base
    (model / "README.md").write_text("other notes")  # not something that decides an output
    assert fingerprint.model_identity(str(model)) == base
    data = bytearray((model / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 1  # one byte in the middle of a sampled file
    (model / "model.safetensors").write_bytes(bytes(data))
    assert fingerprint.model_identity(str(model)) != base
    (model / "chat_template.jinja").write_text("{{ messages }}")
    assert fingerprint.model_identity(str(model)) != base


# ----------------------------------------------------------------------------- arguments checked before loading
def _sweep_main(argv: list[str], monkeypatch) -> int:
    """`s1eval sweep` in process; the model's constructor may run its own argument checks, nothing heavier."""
    from s1eval.analysis import sweep as sweep_mod

    real_build = sweep_mod.build_model

    def checks_only(args):
        import transformers

        def no_weights(*a, **k):
            raise AssertionError("weights were loaded before the arguments were checked")

        monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_weights)
        return real_build(args)

    monkeypatch.setattr(sweep_mod, "build_model", checks_only)
    return sweep_mod.main(argv)


@pytest.mark.parametrize("change, expected", [
    ({"--tasks": "s1_aim24"}, "'s1_aim24' is not a task lm-eval knows; did you mean s1_aime24?"),
    ({"--model_args": "pretrained=/no/such/model"}, "pretrained=/no/such/model does not exist"),
    ({"--model_args": "pretrained={model},max_lenght=4096"}, "max_lenght (did you mean max_length?)"),
    ({"--gen_kwargs": "temprature=0.6"}, "temprature (did you mean temperature?)"),
    ({"--gen_kwargs": "max_tokens_thinking=abc"}, "max_tokens_thinking"),
    ({"--gen_kwargs": "max_gen_toks=abc"}, "max_gen_toks"),
    ({"--batch_size": "auto"}, "s1hf takes an integer batch_size, got 'auto'"),
    ({"--model_args": "pretrained={model},batch_size=8", "--batch_size": "4"}, "got batch_size twice"),
    ({"--model": "s1hff"}, "did you mean s1hf?"),
])
def test_bad_arguments_are_one_line_before_the_model_loads(change, expected, tiny_ends, tmp_path, capsys,
                                                           monkeypatch):
    out = tmp_path / "out"
    args = {"--model": "s1hf", "--model_args": "pretrained={model}", "--tasks": "s1_aime24",
            "--gen_kwargs": "max_gen_toks=64", "--output": str(out), **change}
    argv = [x for k, v in args.items() for x in (k, v.format(model=tiny_ends))] + ["--no-plot"]
    assert _sweep_main(argv, monkeypatch) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and err.startswith("s1eval sweep: ")
    assert not out.exists()  # a failed validation leaves nothing behind


@pytest.mark.parametrize("option, value", [("--ignores", "-1"), ("--max-tokens-thinking", "512,-8"),
                                           ("--ignores", "1,x"), ("--limit", "0"), ("--metadata", "{bad")])
def test_bad_grids_are_usage_errors(option, value, tmp_path, capsys, monkeypatch):
    argv = ["--model", "s1hf", "--tasks", "s1_aime24", "--output", str(tmp_path / "out"), option, value]
    with pytest.raises(SystemExit) as exc:
        _sweep_main(argv, monkeypatch)
    assert exc.value.code == 2 and f"argument {option}: " in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- the demo keeps a user's files
def test_demo_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    from s1eval.demo import main

    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(SystemExit) as exc:
        main(["--output", str(tmp_path)])
    assert exc.value.code == 2 and "holds no s1eval_demo.json" in capsys.readouterr().err
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_demo_replaces_only_what_a_previous_demo_wrote(tmp_path):
    from s1eval.demo import DEMO_MARKER, clear_output

    for name in ("settings/budget0_ignore0", "request_cache/abc"):
        (tmp_path / name).mkdir(parents=True)
    for name in ("sweep.json", "summary.csv", "summary.json", "scaling.png", "notes.txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(ValueError, match=f"holds no {DEMO_MARKER}"):  # a real sweep's folder is not the demo's
        clear_output(tmp_path)
    assert (tmp_path / "settings" / "budget0_ignore0").is_dir()
    (tmp_path / DEMO_MARKER).write_text("{}")
    removed = clear_output(tmp_path)
    assert sorted(removed) == sorted(["settings", "request_cache", "summary.csv", "summary.json", "scaling.png",
                                      "sweep.json", DEMO_MARKER])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_summary_reads_exactly_each_tasks_files(tmp_path):
    """samples_s1_aime24_* must not pick up samples_s1_aime24_maj_* (which sorts after it)."""
    from s1eval.analysis.sweep import Setting
    from s1eval.analysis.sweep_summary import setting_rows

    folder = tmp_path / "m"
    folder.mkdir()
    for task, scores in (("s1_aime24", [1, 1, 0]), ("s1_aime24_maj", [0] * 5)):
        rows = [{"doc_id": i, "exact_match": x} for i, x in enumerate(scores)]
        (folder / f"samples_{task}_2026-12-07T10-00-00.000001.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows))
    [row] = setting_rows(folder, Setting(8, 0, "Wait"), ["s1_aime24"])
    assert row["n"] == 3 and abs(row["accuracy"] - 2 / 3) < 1e-9


def test_resources_and_secrets_are_not_identity():
    from s1eval.analysis.sweep_checks import _decides_output

    assert not any(_decides_output(k, "x") for k in ("gpu_memory_utilization", "api_key", "base_url", "batch_size"))
    assert _decides_output("dtype", "float32") and _decides_output("pretrained", "org/model")
    assert not _decides_output("pretrained", "/some/local/folder")  # identified by its fingerprint instead


def test_hub_models_are_identified_by_id_and_revision_and_files_by_their_digest(tmp_path):
    from s1eval.fingerprint import model_identity

    # the same before and after a download into the cache (a sweep's first run downloads it)
    assert model_identity("org/model") == {"hub_id": "org/model", "revision": "main"}
    gguf = tmp_path / "q4.gguf"
    gguf.write_bytes(b"GGUF" + bytes(100))
    other = tmp_path / "q8.gguf"
    other.write_bytes(b"GGUF" + bytes(99) + b"\1")
    assert model_identity(str(gguf)) != model_identity(str(other))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no model files"):
        model_identity(str(tmp_path / "empty"))


def test_a_groups_identity_covers_its_member_tasks():
    from types import SimpleNamespace

    from s1eval.analysis.sweep_manifest import task_identity

    def manager(prompt: str):
        index = {"grp": SimpleNamespace(cfg={"group": "grp", "task": ["a", "b"]}, yaml_path=None),
                 "a": SimpleNamespace(cfg={"task": "a", "doc_to_text": prompt}, yaml_path=None),
                 "b": SimpleNamespace(cfg={"task": "b", "doc_to_text": "x"}, yaml_path=None)}
        return SimpleNamespace(task_index=index)

    assert task_identity(manager("Q: {{q}}"), "grp") == task_identity(manager("Q: {{q}}"), "grp")
    assert task_identity(manager("Q: {{q}}"), "grp") != task_identity(manager("Question: {{q}}"), "grp")


def test_the_summary_of_a_group_reads_its_member_tasks(tmp_path):
    from s1eval.analysis.sweep import Setting
    from s1eval.analysis.sweep_summary import write_summary

    setting = Setting(8, 0, "Wait")
    folder = tmp_path / "settings" / setting.name / "model"
    folder.mkdir(parents=True)
    for task in ("a", "b"):
        (folder / f"samples_{task}_2026-12-07T10-00-00.000001.jsonl").write_text(
            json.dumps({"doc_id": 0, "exact_match": 1}) + "\n")
    (folder.parent / "done.json").write_text(json.dumps({"tasks": ["grp"], "leaf_tasks": ["a", "b"]}) + "\n")
    rows = write_summary(tmp_path, [setting], plot=False)["rows"]
    assert [(r["task"], r["n"]) for r in rows] == [("a", 1), ("b", 1)]


# ----------------------------------------------------------------------------- s1api: the served weights
def test_an_s1api_sweep_is_identified_by_what_the_server_serves(tiny_ends, tmp_path, capsys, monkeypatch):
    """The served name alone ('tiny') says nothing about the weights behind it: the server's /v1/models root
    is part of the identity, so a server restarted on other weights under the same name is refused."""
    from transformers import AutoTokenizer

    from tests.models.fault_server import FaultServer

    tok = AutoTokenizer.from_pretrained(tiny_ends)
    out = tmp_path / "out"

    def argv(url, model="tiny"):
        return ["--model", "s1api", "--model_args", f"base_url={url},model={model},tokenizer={tiny_ends},timeout=30",
                "--output", str(out), *TINY_ARGS, "--limit", "1"]

    with FaultServer(tok, served={"tiny": "/weights/a"}) as server:
        assert _sweep_main(argv(server.url), monkeypatch) == 0, capsys.readouterr().err[-2000:]
        assert server.count() > 0
        url = server.url
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["identity"]["served_model"] == {"id": "tiny", "root": "/weights/a"}
    before = snapshot(out)
    capsys.readouterr()

    with FaultServer(tok, served={"tiny": "/weights/b"}) as server:
        assert _sweep_main(argv(server.url), monkeypatch) == 2
        err = capsys.readouterr().err
        assert 'served_model {"id": "tiny", "root": "/weights/a"} -> {"id": "tiny", "root": "/weights/b"}' in err
        assert _sweep_main(argv(server.url, model="tinny"), monkeypatch) == 2
        assert "does not serve model 'tinny'; it serves tiny" in capsys.readouterr().err
        assert server.count() == 0  # refused before a request was sent
    assert _sweep_main(argv(url), monkeypatch) == 2  # that server is gone
    err = capsys.readouterr().err
    assert f"GET {url}/models failed" in err and "start the server first" in err and err.count("\n") == 1
    assert snapshot(out) == before
