"""The start-up hook (`s1eval_autoload.pth` + `s1eval._autoload`) that plugs s1eval into lm-eval.

Almost every check runs in a fresh subprocess of this interpreter, so that the installed .pth is
really what runs at start-up (a hook installed in the pytest process would prove nothing). They
need the project installed into this interpreter (`pip install -e .` or a wheel); without it they
skip and say so. Indexing lm-eval's ~15k built-in tasks takes 10-30 s, so the task tests spy on
`TaskIndex.build` to see which folders it was given, and only one test builds the real index.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import s1eval._autoload as autoload

REPO = Path(__file__).resolve().parents[1]
PTH_NAME = "s1eval_autoload.pth"
MARK = autoload._MARK  # carried by our finder and by every wrapper we install
RESULT = "S1EVAL-TEST-RESULT:"


def _installed_pth() -> Path:
    return Path(sysconfig.get_paths()["purelib"]) / PTH_NAME


@pytest.fixture(scope="module")
def installed():
    """Skip unless this interpreter has the project installed with its .pth."""
    pth = _installed_pth()
    if not pth.is_file():
        pytest.skip(f"{pth} is missing: install the project into this interpreter (pip install -e .)")
    pytest.importorskip("lm_eval")
    return pth


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != autoload.ENV_DISABLE}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.update(extra)
    return env


def run_py(parts, cwd: Path, timeout: float = 300, **env: str):
    """Run the code `parts` (each dedented) in a fresh interpreter; return its RESULT as JSON."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,  # a neutral folder: imports resolve through site-packages, as for a user
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    assert lines, f"no result printed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len(RESULT) :])


# Prepended to subprocess code: print a JSON result; spy on the folders TaskManager indexes.
PRELUDE = f"""
import json, sys
def report(value):
    print({RESULT!r} + json.dumps(value), flush=True)
"""
SPY = """
import lm_eval.tasks.manager as manager
BUILDS = []
def _spy_build(paths, **kwargs):
    BUILDS.append([str(p) for p in paths])
    return {}
manager.TaskIndex.build = staticmethod(_spy_build)
DEFAULTS = str(manager.__file__).rsplit("/", 1)[0]
"""


# ----------------------------------------------------------------------------- static checks


def test_pth_is_one_cheap_guarded_import():
    lines = [ln for ln in (REPO / PTH_NAME).read_text().splitlines() if ln.strip()]
    code = [ln for ln in lines if not ln.startswith("#")]
    assert len(code) == 1 and code[0].startswith("import "), code
    assert "s1eval._autoload" in code[0] and autoload.ENV_DISABLE in code[0]
    assert "lm_eval" not in code[0].replace("s1eval._autoload", "")


def test_autoload_imports_only_sys_and_os_at_module_level():
    tree = ast.parse((REPO / "s1eval" / "_autoload.py").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    assert names == {"os", "sys"}


def test_models_match_pyproject_entry_points():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["lm_eval.models"] == autoload.MODELS
    assert project["entry-points"]["lm_eval.tasks"] == {"s1eval": "s1eval._autoload:task_dir"}


def test_task_dir_prefers_the_shipped_folder(tmp_path, monkeypatch):
    import s1eval

    package = tmp_path / "site" / "s1eval"
    package.mkdir(parents=True)
    monkeypatch.setattr(s1eval, "__file__", str(package / "__init__.py"))
    assert autoload.task_dir() == (tmp_path / "site" / "tasks").resolve()  # checkout layout
    (package / "tasks").mkdir()
    assert autoload.task_dir() == (package / "tasks").resolve()  # installed-wheel layout


def test_installed_pth_matches_the_repository(installed):
    assert installed.read_text() == (REPO / PTH_NAME).read_text(), "stale install: pip install -e ."


# ----------------------------------------------------------------------------- start-up


@pytest.mark.slow
def test_startup_installs_the_finder_but_imports_no_lm_eval_or_torch(installed, tmp_path):
    result = run_py(
        [PRELUDE, f"""
        report([
            "lm_eval" in sys.modules,
            "torch" in sys.modules,
            "s1eval._autoload" in sys.modules,
            sum(getattr(f, {MARK!r}, False) for f in sys.meta_path),
        ])
        """],
        tmp_path,
    )
    assert result == [False, False, True, 1]


def _hook_import_us(env: dict) -> int:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True
    )
    for line in proc.stderr.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == "s1eval._autoload":
            return int(parts[1])  # cumulative: includes the `s1eval` package it imports
    raise AssertionError(f"s1eval._autoload not imported at start-up:\n{proc.stderr[-2000:]}")


def _startup_modules(env: dict) -> set[str]:
    code = "import sys, json; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(json.loads(proc.stdout))


@pytest.mark.slow
def test_startup_cost_is_negligible(installed, tmp_path):
    # No wall-clock assertion (the machine is shared and noisy): what the hook may do at start-up is
    # pinned deterministically instead. It adds exactly two tiny modules and nothing they import.
    env_on = _env(PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"))
    env_on.pop("PYTHONDONTWRITEBYTECODE", None)
    env_off = dict(env_on, **{autoload.ENV_DISABLE: "1"})
    added = _startup_modules(env_on) - _startup_modules(env_off)
    assert added == {"s1eval", "s1eval._autoload"}, f"the .pth hook imported {sorted(added)} at start-up"
    # For the record (printed with -rA, not asserted): its import time from -X importtime.
    print(f"s1eval._autoload import time: {min(_hook_import_us(env_on) for _ in range(3))} us")


@pytest.mark.slow
def test_env_var_turns_everything_off(installed, tmp_path):
    result = run_py(
        [PRELUDE, f"""
        before = "s1eval._autoload" in sys.modules
        import s1eval._autoload as autoload
        import lm_eval.models
        from lm_eval.api.registry import model_registry
        from lm_eval.tasks import TaskManager
        from lm_eval.loggers.evaluation_tracker import EvaluationTracker
        report({{
            "imported_at_startup": before,
            "enabled": autoload.ENABLED,
            "finders": sum(getattr(f, {MARK!r}, False) for f in sys.meta_path),
            "models": [m for m in autoload.MODELS if m in model_registry],
            "has_hf": "hf" in model_registry,
            "tm_patched": getattr(TaskManager.__init__, {MARK!r}, False),
            "tracker_patched": getattr(EvaluationTracker.save_results_samples, {MARK!r}, False),
        }})
        """],
        tmp_path,
        **{autoload.ENV_DISABLE: "1"},
    )
    assert result == {
        "imported_at_startup": False,
        "enabled": False,
        "finders": 0,
        "models": [],
        "has_hf": True,
        "tm_patched": False,
        "tracker_patched": False,
    }


# ----------------------------------------------------------------------------- models


@pytest.mark.slow
def test_models_registered_after_builtins(installed, tmp_path):
    result = run_py(
        [PRELUDE, """
        import importlib.util
        import lm_eval.api.registry as registry
        # Nothing may be registered before lm_eval.models: get_model would then skip the built-ins.
        empty_before = len(registry.model_registry) == 0
        dummy = registry.get_model("dummy").__name__
        from lm_eval.models import MODEL_MAPPING
        items = dict(registry.model_registry.items())
        builtins_intact = all(items.get(k) == v for k, v in MODEL_MAPPING.items() if k != "dummy")
        hf = None
        if importlib.util.find_spec("accelerate") is not None:  # the hf backend needs it
            hf = registry.get_model("hf").__name__
        report({
            "empty_before": empty_before,
            "dummy": dummy,
            "builtins_intact": builtins_intact,
            "hf_target": items["hf"],
            "hf": hf,
            "ours": {k: v for k, v in items.items() if k.startswith("s1")},
        })
        """],
        tmp_path,
    )
    assert result["empty_before"] and result["builtins_intact"]
    assert result["dummy"] == "DummyLM"
    assert result["hf_target"] == "lm_eval.models.huggingface:HFLM"
    assert result["hf"] in (None, "HFLM")
    assert result["ours"] == autoload.MODELS  # lazy strings: the backends are not imported


# ----------------------------------------------------------------------------- idempotency


@pytest.mark.slow
def test_reading_twice_and_triggering_twice_changes_nothing(installed, tmp_path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    result = run_py(
        [PRELUDE, f"""
        import importlib, os, site, sysconfig
        from pathlib import Path
        purelib = sysconfig.get_paths()["purelib"]
        site.addpackage(purelib, {PTH_NAME!r}, set())  # the .pth read a second time
        import s1eval._autoload as autoload
        autoload = importlib.reload(autoload)  # the module executed a second time
        finders = sum(getattr(f, {MARK!r}, False) for f in sys.meta_path)

        import lm_eval.models
        from lm_eval.api.model import CachingLM
        from lm_eval.api.registry import model_registry
        from lm_eval.loggers.evaluation_tracker import EvaluationTracker
        """, SPY, f"""
        TaskManager = manager.TaskManager
        again = [autoload.register_models(), autoload.patch_task_manager(TaskManager),
                 autoload.patch_tracker(EvaluationTracker), autoload.patch_caching_lm(CachingLM)]
        autoload = importlib.reload(autoload)  # and once more after every hook has fired
        autoload.install()

        def depth(fn):
            n = 0
            while hasattr(fn, "__wrapped__"):
                fn, n = fn.__wrapped__, n + 1
            return n

        autoload.task_dir = lambda: Path({str(folder)!r})
        TaskManager()
        TaskManager()
        report({{
            "finders_after_reload": finders,
            "finders_at_end": sum(getattr(f, {MARK!r}, False) for f in sys.meta_path),
            "again": again,
            "tm_depth": depth(TaskManager.__init__),
            "tracker_depth": depth(EvaluationTracker.save_results_samples),
            "cache_depth": depth(CachingLM.__getattr__),
            "ours": {{k: v for k, v in model_registry.items() if k.startswith("s1")}},
            "builds": BUILDS,
            "defaults": DEFAULTS,
        }})
        """],
        tmp_path,
    )
    assert result["finders_after_reload"] == 1
    assert result["finders_at_end"] == 0  # every watched module imported: the finder left meta_path
    assert result["again"] == [[], False, False, False]
    assert result["tm_depth"] == 1 and result["tracker_depth"] == 1 and result["cache_depth"] == 1
    assert result["ours"] == autoload.MODELS
    assert result["builds"] == [[result["defaults"], str(folder)]] * 2


# ----------------------------------------------------------------------------- tasks


@pytest.mark.slow
def test_task_manager_adds_our_folder_between_defaults_and_include_path(installed, tmp_path):
    ours, user = tmp_path / "ours", tmp_path / "user"
    ours.mkdir()
    user.mkdir()
    result = run_py(
        [PRELUDE, SPY, f"""
        from pathlib import Path
        import s1eval._autoload as autoload
        autoload.task_dir = lambda: Path({str(ours)!r})
        kept = []
        for kwargs in ({{}}, {{"include_path": {str(user)!r}}}, {{"include_path": [{str(ours)!r}]}},
                       {{"include_path": {str(user)!r}, "include_defaults": False}}):
            kept.append(manager.TaskManager(**kwargs).include_path)
        autoload.task_dir = lambda: Path({str(tmp_path / "missing")!r})
        manager.TaskManager()
        report({{"builds": BUILDS, "kept": kept, "defaults": DEFAULTS}})
        """],
        tmp_path,
    )
    d, o, u = result["defaults"], str(ours), str(user)
    assert result["builds"] == [[d, o], [d, o, u], [d, o], [u], [d]]
    # The caller's include_path is what TaskManager remembers, not ours added to it.
    assert result["kept"] == [None, u, [o], u]


@pytest.mark.slow
def test_cli_task_listing_finds_our_tasks(installed, tmp_path):
    """The real `lm-eval ls tasks` path builds the real index: built-ins, a placeholder, our tasks."""
    placeholder = tmp_path / "tasks"
    (placeholder / "placeholder").mkdir(parents=True)
    (placeholder / "placeholder" / "s1_placeholder.yaml").write_text(
        "task: s1_placeholder\ndataset_path: json\noutput_type: generate_until\n"
        "doc_to_text: '{{question}}'\ndoc_to_target: '{{answer}}'\n"
    )
    real = autoload.task_dir()
    expected = {"gsm8k", "s1_placeholder"}
    if any(real.glob("**/s1_aime24.yaml")):
        shutil.copytree(real, placeholder / "real")  # lm-eval's index does not follow symlinks
        expected.add("s1_aime24")
    result = run_py(
        [PRELUDE, f"""
        import contextlib, io, re
        from pathlib import Path
        import s1eval._autoload as autoload
        autoload.task_dir = lambda: Path({str(placeholder)!r})
        from lm_eval.__main__ import cli_evaluate
        sys.argv = ["lm-eval", "ls", "tasks"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cli_evaluate()
        names = set(re.findall(r"[A-Za-z0-9_.-]+", out.getvalue()))
        report(sorted(n for n in names if n in {sorted(expected)!r}))
        """],
        tmp_path,
        timeout=600,
    )
    assert set(result) == expected


@pytest.mark.slow
def test_installed_task_dir_is_the_checkout_or_the_wheel_folder(installed, tmp_path):
    result = run_py(
        [PRELUDE, """
        import s1eval, s1eval._autoload as autoload
        report([str(autoload.task_dir()), s1eval.__file__])
        """],
        tmp_path,
    )
    folder, package = Path(result[0]), Path(result[1]).resolve().parent
    assert folder in (package / "tasks", package.parent / "tasks")
    if package == (REPO / "s1eval").resolve():  # an editable install of this checkout
        assert folder == (REPO / "tasks").resolve()


# ----------------------------------------------------------------------------- step aside


@pytest.mark.slow
def test_steps_aside_when_lm_eval_loads_model_plugins(installed, tmp_path):
    result = run_py(
        [PRELUDE, f"""
        import lm_eval.api.registry as registry
        # What upstream PR #4013 added: entry-point discovery for the model registry.
        registry.load_plugins = lambda group, reg: []
        import lm_eval.models
        import s1eval._autoload as autoload
        from lm_eval.loggers.evaluation_tracker import EvaluationTracker
        report({{
            "ours": [m for m in autoload.MODELS if m in registry.model_registry],
            "has_hf": "hf" in registry.model_registry,
            "again": autoload.register_models(),
            "tracker_patched": getattr(EvaluationTracker.save_results_samples, {MARK!r}, False),
        }})
        """],
        tmp_path,
    )
    # The sidecar patch stays: no plugin mechanism covers it.
    assert result == {"ours": [], "has_hf": True, "again": [], "tracker_patched": True}


@pytest.mark.slow
def test_steps_aside_when_lm_eval_loads_task_plugins(installed, tmp_path):
    ours = tmp_path / "ours"
    ours.mkdir()
    result = run_py(
        [PRELUDE, SPY, f"""
        from pathlib import Path
        import s1eval._autoload as autoload
        autoload.task_dir = lambda: Path({str(ours)!r})
        before = autoload.lm_eval_discovers_tasks()
        manager.load_task_plugins = lambda *args, **kwargs: []  # a task-plugin loader appears
        manager.TaskManager()
        report({{"before": before, "after": autoload.lm_eval_discovers_tasks(), "builds": BUILDS,
                 "defaults": DEFAULTS}})
        """],
        tmp_path,
    )
    assert result["before"] is False and result["after"] is True
    assert result["builds"] == [[result["defaults"]]]


# ----------------------------------------------------------------------------- sidecar


@pytest.mark.slow
def test_sidecar_runs_after_samples_are_saved_and_never_breaks_the_run(installed, tmp_path):
    out = tmp_path / "out"
    result = run_py(
        [PRELUDE, f"""
        import logging, types
        from pathlib import Path
        calls, warnings = [], []

        class Collect(logging.Handler):
            def emit(self, record):
                warnings.append(record.getMessage())

        logging.getLogger("s1eval._autoload").addHandler(Collect(logging.WARNING))
        sidecar = types.ModuleType("s1eval.sidecar")
        sidecar.on_samples_saved = lambda tracker, task, samples: calls.append(
            [task, len(list(Path({str(out)!r}).glob(f"samples_{{task}}_*.jsonl")))])
        sys.modules["s1eval.sidecar"] = sidecar

        from lm_eval.loggers.evaluation_tracker import EvaluationTracker
        tracker = EvaluationTracker(output_path={str(out / "results.json")!r})
        tracker.date_id = "2025-01-01T00-00-00"  # set by save_results_aggregated in a real run
        sample = {{"doc_id": 0, "arguments": [["q", {{}}]], "resps": [["a"]],
                   "filtered_resps": ["a"], "target": "a"}}
        tracker.save_results_samples("task_a", [dict(sample)])

        def boom(tracker, task, samples):
            raise RuntimeError("boom")
        sidecar.on_samples_saved = boom
        tracker.save_results_samples("task_b", [dict(sample)])
        sys.modules["s1eval.sidecar"] = None  # the module cannot be imported at all
        tracker.save_results_samples("task_c", [dict(sample)])
        report({{"calls": calls, "warnings": warnings}})
        """],
        tmp_path,
    )
    assert result["calls"] == [["task_a", 1]]  # called once the samples file exists
    assert len(result["warnings"]) == 2
    assert "task_b" in result["warnings"][0] and "boom" in result["warnings"][0]
    assert "task_c" in result["warnings"][1]


def test_task_manager_signature_is_what_the_patch_expects():
    # A guard for lm-eval upgrades inside the pinned series: the patch binds these arguments.
    manager = pytest.importorskip("lm_eval.tasks.manager")
    import inspect

    init = inspect.unwrap(manager.TaskManager.__init__)
    assert {"include_path", "include_defaults"} <= set(inspect.signature(init).parameters)
