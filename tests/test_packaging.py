"""What a wheel install needs: packaged configs and recipes found by name from any folder (a typo gets the list),
the wheel's contents (tasks, configs, recipes, the embedded mini model and the s1_mini data), matplotlib with
every engine extra and a one-line start-up check when it is missing, and README install lines that can work."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from s1eval.resources import ResourceNotFound, packaged_names, resolve

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- name resolution


@pytest.fixture
def shipped(tmp_path):
    root = tmp_path / "pkg" / "configs"
    (root / "mini").mkdir(parents=True)
    for name in ("s1k.yaml", "s1k_1.1.yaml", "mini/s1k.yaml"):
        (root / name).write_text("seed: 0\n")
    (root / "mini" / "base.json").write_text("{}")  # not a YAML: not a name
    return root


def test_a_packaged_name_resolves_in_every_spelling(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert packaged_names(shipped) == ["mini/s1k", "s1k", "s1k_1.1"]
    for value in ("s1k", "s1k.yaml", "configs/s1k.yaml", "./configs/s1k.yaml"):
        assert resolve(value, shipped, kind="config", prefix="configs") == shipped / "s1k.yaml"
    assert resolve("mini/s1k", shipped, kind="config") == shipped / "mini" / "s1k.yaml"


def test_an_existing_path_wins_over_a_packaged_name(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s1k").write_text("mine")  # a file named like a packaged config is that file
    assert resolve("s1k", shipped, kind="config") == Path("s1k")
    own = tmp_path / "elsewhere.yaml"
    own.write_text("seed: 1\n")
    assert resolve(str(own), shipped, kind="config") == own


def test_a_folder_named_like_a_packaged_config_does_not_shadow_it(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s1k").mkdir()  # e.g. an output folder named after the config
    assert resolve("s1k", shipped, kind="config", prefix="configs") == shipped / "s1k.yaml"
    (tmp_path / "runs").mkdir()
    with pytest.raises(ResourceNotFound, match=r"config 'runs' is a folder, not a config file, and no packaged "
                                               r"config has that name; pass the path of a config YAML file"):
        resolve("runs", shipped, kind="config", prefix="configs")
    with pytest.raises(ResourceNotFound, match="is a folder, not a config file"):
        resolve(str(tmp_path / "runs"), shipped, kind="config")


def test_a_typo_lists_the_packaged_names_nearest_first(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ResourceNotFound) as err:
        resolve("s1k_11", shipped, kind="config", prefix="configs")
    text = str(err.value)
    assert "\n" not in text and "did you mean s1k_1.1" in text
    assert text.endswith("packaged configs: mini/s1k, s1k, s1k_1.1")
    assert isinstance(err.value, FileNotFoundError)  # s1data's CLI reports OSError as one line, exit 2
    with pytest.raises(ResourceNotFound, match="no packaged configs are installed"):
        resolve("s1k", tmp_path / "none", kind="config")


def test_s1data_names_a_packaged_config_from_any_folder(tmp_path, monkeypatch, capsys):
    from s1data.cli import main, pool_stage_options, resolve_config

    monkeypatch.chdir(tmp_path)  # outside the checkout: configs/s1k.yaml is not a path here
    assert resolve_config("s1k").read_text() == (REPO / "configs" / "s1k.yaml").read_text()
    assert resolve_config("configs/ablations/random_1k.yaml").name == "random_1k.yaml"
    assert pool_stage_options("s1k", None)["select"]["n"] == 1000  # select --pool --config s1k
    assert main(["run", "s1k_11"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: config 's1k_11'") and "did you mean s1k_1.1" in err and "\n" not in err
    assert main(["configs"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"s1k", "s1k_1.1", "ablations/random_1k", "mini/s1k"} <= set(listed)


def test_s1train_names_a_packaged_recipe(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    from s1train.config import ConfigError, resolve_config_arg

    monkeypatch.chdir(tmp_path)
    argv = resolve_config_arg(["--config", "s1_32b", "--learning_rate", "2e-5"])
    assert Path(argv[1]).read_text() == (REPO / "recipes" / "s1_32b.yaml").read_text() and argv[2:] == [
        "--learning_rate", "2e-5"]
    assert Path(resolve_config_arg(["--config=mini/s1"])[1]).name == "s1.yaml"
    assert Path(resolve_config_arg(["--config", "recipes/s1.1_32b.yaml"])[1]).name == "s1.1_32b.yaml"
    with pytest.raises(ConfigError, match=r"did you mean s1_32b.*packaged recipes: .*mini/s1, .*s1_32b"):
        resolve_config_arg(["--config", "s1_23b"])
    with pytest.raises(ConfigError, match="--config needs a recipe"):
        resolve_config_arg(["--config"])


# ----------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling is not installed (the dev extra has it): the wheel cannot be built offline")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("s1_harness-*.whl")
    return path


def _tracked(folder: str) -> list[str]:
    return sorted(p.relative_to(REPO / folder).as_posix() for p in (REPO / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.slow
def test_the_wheel_carries_tasks_configs_recipes_and_the_mini_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, shipped_as in (("tasks", "s1eval/tasks"), ("configs", "s1data/configs"),
                               ("recipes", "s1train/recipes"), ("s1eval/data/mini/model", "s1eval/data/mini/model")):
        files = _tracked(folder)
        assert files, folder
        missing = [f for f in files if f"{shipped_as}/{f}" not in names]
        assert not missing, f"{folder} files missing from the wheel as {shipped_as}: {missing}"
    for needed in ("s1eval/tasks/s1_mini/s1_mini.yaml", "s1eval/data/mini/test.jsonl",
                   "s1eval/data/mini/model/model.safetensors", "s1eval/data/mini/model/tokenizer.json",
                   "s1data/configs/s1k.yaml", "s1train/recipes/s1_32b.yaml", "s1eval_autoload.pth",
                   "s1eval/paper.yaml", "s1eval/resources.py"):
        assert needed in names, needed
    top = {n.split("/")[0] for n in names}
    assert not top & {"tasks", "configs", "recipes", "results", "tests"}, top


@pytest.mark.slow
def test_the_unpacked_wheel_finds_its_packaged_configs_from_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("from s1data.cli import resolve_config; from s1eval._autoload import task_dir; "
            "from s1eval.resources import packaged_dir; import s1train; "
            "print(resolve_config('s1k')); print(packaged_dir(s1train.__file__, 'recipes') / 's1_32b.yaml'); "
            "print(task_dir())")
    env = {**os.environ, "PYTHONPATH": str(site), "S1EVAL_NO_AUTOLOAD": "1"}
    run = tmp_path / "elsewhere"
    run.mkdir()
    proc = subprocess.run([sys.executable, "-c", code], cwd=run, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config, recipe, tasks = (Path(line) for line in proc.stdout.split())
    assert config == site / "s1data" / "configs" / "s1k.yaml" and config.is_file()
    assert recipe == site / "s1train" / "recipes" / "s1_32b.yaml" and recipe.is_file()
    assert tasks == site / "s1eval" / "tasks"


# ----------------------------------------------------------------------------- matplotlib and the install docs


def test_every_engine_extra_can_run_a_sweep():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # every s1_* task grades with math-verify: without it `s1eval demo` died in a grading worker (EOFError)
    assert any(req.startswith("math-verify") for req in project["dependencies"])
    extras = project["optional-dependencies"]
    for extra in ("hf", "vllm", "vllm-cpu", "api"):  # each can run `s1eval sweep` / `s1eval demo`, which plot
        assert any(req.startswith("matplotlib") for req in extras[extra]), extra


def test_a_missing_matplotlib_fails_in_one_line_naming_the_install(monkeypatch):
    from s1eval.scaling.plot import MissingPlotDependency, require_matplotlib

    require_matplotlib()  # installed here (the dev extra)
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(MissingPlotDependency) as err:
        require_matplotlib()
    text = str(err.value)
    assert "\n" not in text and "matplotlib" in text and "pip install" in text and "--no-plot" in text


def test_readme_installs_from_a_source_that_exists():
    # the package is not on the package index: every install of s1-harness is from a checkout (-e .),
    # a built wheel or a git URL, never the bare name
    lines = [ln for ln in (REPO / "README.md").read_text().splitlines() if re.search(r"pip install .*s1.harness", ln)]
    bare = [ln for ln in lines if re.search(r"""pip install +["']?s1-harness\[[^\]]*\](?!\s*@)["']?(\s|$)""", ln)]
    assert not bare, bare
    assert any('-e ".[hf]"' in ln or "-e '.[hf]'" in ln for ln in (REPO / "README.md").read_text().splitlines())
