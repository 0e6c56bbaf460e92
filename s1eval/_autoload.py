"""Register s1eval's models, task folder and sidecar writer with lm-eval, without being asked.

lm-eval 0.4.13 discovers neither models nor task folders from installed packages, so the wheel ships
`s1eval_autoload.pth`, whose single line imports this module at interpreter start-up. This module
imports only `sys` and `os` and installs one `sys.meta_path` finder; it never imports lm_eval (or
torch). The finder watches four modules and, right after each finishes importing, patches it:

* `lm_eval.models`: register `s1hf`, `s1vllm` and `s1api` as lazy "module:Class" strings. It has to
  wait for this module, because `lm_eval.api.registry.get_model` imports `lm_eval.models` (and with
  it every built-in model) only while the registry is empty: registering first would hide them all.
* `lm_eval.tasks.manager`: every `TaskManager` also indexes `task_dir()`, after lm-eval's own tasks
  and before the caller's `include_path`, so a user's local task still overrides ours. And what its
  `load` and `load_task_or_group` build goes through `s1eval.grading.hooks.check_tasks`, the checks
  of a task that grades with s1eval's hooks which need the whole task config (lm-eval hands no hook
  the task): its metadata's grading settings are those its documents carry, and a sampling task's
  take_first_k filter and metric_list match its repeats; a failed check refuses the task before any
  generation. Only once that module is imported: a task that names its hooks has imported it.
* `lm_eval.loggers.evaluation_tracker`: before `save_results_aggregated` writes the results JSON,
  `s1eval.sidecar.take_stats_key` notes which s1 model's statistics this run's are (the key its
  `get_model_info` put in the results: each model instance keeps its own, s1eval.budget.stats).
  Before `save_results_samples` writes lm-eval's samples file,
  `s1eval.redact.redact_samples` hashes the texts a task's docs ask to hide (GPQA's questions; if
  that fails, the task's samples are not written at all and an error says why); after it,
  `s1eval.sidecar.on_samples_saved` writes the budget-forcing statistics beside it. A sidecar
  failure is logged as a warning and never breaks lm-eval's run.
* `lm_eval.api.model`: `CachingLM` (`--use_cache`) tells an s1 model which responses it served from
  the cache, so their stored budget statistics reach the sidecar and the totals (s1eval.models.cached_stats).

Everything is idempotent (a .pth may be read twice, this module may be reloaded): the finder is
installed once, wrapped functions carry a marker, and aliases already present are left alone.
`S1EVAL_NO_AUTOLOAD=1` turns all of it off (read once, at start-up).

The hook steps aside where lm-eval discovers plugins itself, detected by feature, not by version:
models when `lm_eval.api.registry.load_plugins` exists (upstream PR #4013, which reads the
`lm_eval.models` entry points that pyproject.toml declares), tasks when lm-eval's task modules
expose a plugin loader or `TaskManager.__init__` mentions plugins or entry points (PR #4015, open
at the time of writing). The sidecar patch and the task checks stay, since no plugin mechanism covers them.
"""

import os
import sys

# Aliases and targets; pyproject.toml declares the same pairs as `lm_eval.models` entry points
# (tests/test_autoload.py checks that the two lists agree).
MODELS = {
    "s1hf": "s1eval.models.hf:S1HFLM",
    "s1vllm": "s1eval.models.vllm:S1VLLM",
    "s1api": "s1eval.models.api:S1API",
}

ENV_DISABLE = "S1EVAL_NO_AUTOLOAD"
ENABLED = os.environ.get(ENV_DISABLE, "") in ("", "0")

# Set on our wrappers and on the finder, so that a second pass (a .pth read twice, a reloaded
# module) recognises what the first pass did instead of stacking another layer on top.
_MARK = "__s1eval_autoload__"

_LOGGER_NAME = "s1eval._autoload"


def _log():
    # logging is imported lazily: at start-up it would cost more than everything else here, and
    # by the time a hook runs lm_eval has imported it anyway.
    import logging

    return logging.getLogger(_LOGGER_NAME)


def task_dir():
    """The folder of s1eval's lm-eval task YAMLs (returns a `pathlib.Path`).

    An installed wheel carries it as `s1eval/tasks` (pyproject's force-include); an editable or
    source checkout has it at the repository root, next to the package. Also the target of the
    `lm_eval.tasks` entry point, for an lm-eval that discovers task folders itself.
    """
    from pathlib import Path

    import s1eval

    package = Path(s1eval.__file__).resolve().parent
    shipped = package / "tasks"
    return shipped if shipped.is_dir() else package.parent / "tasks"


# ----------------------------------------------------------------------------- step-aside checks


def lm_eval_discovers_models() -> bool:
    """True when lm-eval loads model entry points itself (`lm_eval.api.registry.load_plugins`)."""
    registry = sys.modules.get("lm_eval.api.registry")
    if registry is None:
        import lm_eval.api.registry as registry
    return callable(getattr(registry, "load_plugins", None))


def lm_eval_discovers_tasks() -> bool:
    """True when lm-eval's task loading has a plugin mechanism of its own.

    Upstream's task-plugin PR (#4015) is not merged, so its API is not settled; we look for what
    any such version must have: a callable named like "*plugin*" in the task modules, or a
    `TaskManager.__init__` that takes a plugin argument or reads entry points.
    """
    for name in ("lm_eval.tasks", "lm_eval.tasks.manager", "lm_eval.tasks._index"):
        module = sys.modules.get(name)
        if module is not None and any(
            "plugin" in attr.lower() and callable(value) for attr, value in vars(module).items()
        ):
            return True
    manager = sys.modules.get("lm_eval.tasks.manager")
    init = getattr(getattr(manager, "TaskManager", None), "__init__", None)
    while hasattr(init, "__wrapped__"):  # look past our own wrapper
        init = init.__wrapped__
    code = getattr(init, "__code__", None)
    if code is None:
        return False
    names = code.co_names + code.co_varnames
    return "entry_points" in names or any("plugin" in n.lower() for n in names)


# ----------------------------------------------------------------------------- the three patches


def register_models(registry=None) -> list:
    """Register MODELS lazily in lm-eval's model registry; return the aliases added.

    Aliases already present are skipped: re-registering a string over a materialised class would
    raise, and lm-eval's own discovery may have registered them already.
    """
    if registry is None:
        if lm_eval_discovers_models():
            _log().debug("lm-eval loads the lm_eval.models entry points itself; not registering")
            return []
        from lm_eval.api.registry import model_registry as registry
    added = []
    for alias, target in MODELS.items():
        if alias not in registry:
            registry.register(alias, target=target)
            added.append(alias)
    return added


def _our_task_paths(requested, include_defaults):
    """The include_path to pass instead of `requested`, or None to leave the call untouched."""
    # include_defaults=False asks for exactly the caller's folders: our tasks count as installed
    # defaults, like lm-eval's own.
    if not include_defaults or lm_eval_discovers_tasks():
        return None
    folder = task_dir()
    if not folder.is_dir():
        return None
    if not requested:
        given = []
    elif isinstance(requested, (list, tuple)):
        given = list(requested)
    else:
        given = [requested]
    if any(_same_dir(path, folder) for path in given):
        return None
    # lm-eval indexes its defaults first and lets later folders override earlier ones, so ours
    # go before the caller's.
    return [folder, *given]


def _same_dir(path, folder) -> bool:
    from pathlib import Path

    try:
        return Path(path).resolve() == folder.resolve()
    except (OSError, TypeError, ValueError):
        return False


def patch_task_manager(cls) -> bool:
    """Make `cls` (lm-eval's TaskManager) index task_dir() too; False if already done or unsafe."""
    original = cls.__init__
    if getattr(original, _MARK, False):
        return False
    import functools
    import inspect

    signature = inspect.signature(original)
    if "include_path" not in signature.parameters:
        _log().warning("s1eval: TaskManager takes no include_path; s1eval tasks not added")
        return False

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)  # let lm-eval report the bad call itself
        bound.apply_defaults()
        requested = bound.arguments["include_path"]
        paths = _our_task_paths(requested, bound.arguments.get("include_defaults", True))
        if paths is None:
            return original(*bound.args, **bound.kwargs)
        bound.arguments["include_path"] = paths
        original(*bound.args, **bound.kwargs)
        # Keep lm-eval's record of what the caller asked for; the index already has our folder.
        self.include_path = requested
        return None

    setattr(__init__, _MARK, True)
    cls.__init__ = __init__
    return True


def _check_loaded(loaded) -> None:
    hooks = sys.modules.get("s1eval.grading.hooks")
    if hooks is None:  # no task that grades with s1eval's hooks was built: its YAML would have imported them
        return
    try:
        hooks.check_tasks(loaded)
    except ValueError:
        raise  # a refused task: the caller must see it, before any generation
    except Exception as exc:  # a broken check must not cost a run that it would have passed
        _log().warning("s1eval: task checks did not run: %r", exc, exc_info=True)


def patch_task_checks(cls) -> bool:
    """Run s1eval.grading.hooks.check_tasks on what `cls` (TaskManager) `load`s; False if already done."""
    import functools

    patched = False
    for attr in ("load", "load_task_or_group"):
        original = getattr(cls, attr, None)
        if original is None or getattr(original, _MARK, False):
            continue

        def wrap(original):
            @functools.wraps(original)
            def method(self, *args, **kwargs):
                loaded = original(self, *args, **kwargs)
                _check_loaded(loaded)
                return loaded

            setattr(method, _MARK, True)
            return method

        setattr(cls, attr, wrap(original))
        patched = True
    return patched


def _notify_sidecar(tracker, task_name, samples) -> None:
    try:
        from s1eval.sidecar import on_samples_saved

        on_samples_saved(tracker, task_name, samples)
    except Exception as exc:  # the samples are saved already; a missing sidecar must not cost the run
        _log().warning("s1eval: sidecar for task %r not written: %r", task_name, exc, exc_info=True)


def _redacted(task_name, samples):
    """The samples with the texts their docs ask to hide hashed, or None when that failed."""
    try:
        from s1eval.redact import redact_samples

        return redact_samples(samples, task_name)
    except Exception as exc:  # writing the text a doc asked to hide would be worse than writing nothing
        _log().error("s1eval: samples of task %r not written: hashing their docs failed: %r", task_name, exc,
                     exc_info=True)
        return None


def patch_tracker(cls) -> bool:
    """Make lm-eval's EvaluationTracker note the s1 statistics key of the results it saves, and its
    `save_results_samples` redact first and write our sidecar after."""
    original = cls.save_results_samples
    if getattr(original, _MARK, False):
        return False
    import functools

    save_aggregated = cls.save_results_aggregated

    @functools.wraps(save_aggregated)
    def save_results_aggregated(self, results, *args, **kwargs):
        try:
            from s1eval.sidecar import take_stats_key

            take_stats_key(self, results)
        except Exception as exc:  # the results must be saved even if the statistics cannot be matched
            _log().warning("s1eval: budget statistics key not read: %r", exc, exc_info=True)
        return save_aggregated(self, results, *args, **kwargs)

    @functools.wraps(original)
    def save_results_samples(self, task_name, samples, *args, **kwargs):
        samples = _redacted(task_name, samples)
        if samples is None:
            return None
        result = original(self, task_name, samples, *args, **kwargs)
        _notify_sidecar(self, task_name, samples)
        return result

    setattr(save_results_samples, _MARK, True)
    cls.save_results_samples = save_results_samples
    cls.save_results_aggregated = save_results_aggregated
    return True


def patch_caching_lm(cls) -> bool:
    """Tell an s1 model which responses lm-eval's request cache (`CachingLM`) served in its place.

    A served response never reaches the model, so without this its budget statistics would be lost
    (s1eval.models.cached_stats). A request counts as served by the cache under lm-eval 0.4.13's own rule
    (not sampled, and its hash in the cache before the call); the model checks each stored entry's text.
    """
    original = cls.__getattr__
    if getattr(original, _MARK, False):
        return False
    import functools

    @functools.wraps(original)
    def __getattr__(self, attr):
        method = original(self, attr)
        record = getattr(self.lm, "s1_served_from_cache", None)
        if attr != "generate_until" or record is None:
            return method

        def generate_until(requests, *args, **kwargs):
            from lm_eval.api.model import hash_args

            hits = [not req.args[1].get("do_sample", False) and hash_args(attr, req.args) in self.dbdict
                    for req in requests]
            results = method(requests, *args, **kwargs)
            try:
                record([(req, text) for req, text, hit in zip(requests, results, hits) if hit], self.dbdict)
            except Exception as exc:  # the responses are there; lost statistics are logged, not fatal
                _log().warning("s1eval: statistics of cached responses not recorded: %r", exc, exc_info=True)
            return results

        return generate_until

    setattr(__getattr__, _MARK, True)
    cls.__getattr__ = __getattr__
    return True


HOOKS = {
    "lm_eval.models": lambda module: register_models(),
    "lm_eval.api.model": lambda module: patch_caching_lm(module.CachingLM),
    "lm_eval.tasks.manager": lambda module: [patch_task_checks(module.TaskManager),
                                             patch_task_manager(module.TaskManager)],
    "lm_eval.loggers.evaluation_tracker": lambda module: patch_tracker(module.EvaluationTracker),
}


# ----------------------------------------------------------------------------- the import hook


def _run_hook(name, hook, module) -> None:
    try:
        hook(module)
    except Exception as exc:  # a broken hook must never break importing lm_eval
        _log().warning("s1eval: autoload hook for %s failed: %r", name, exc, exc_info=True)


class _HookedLoader:
    """Runs the real loader, puts it back in place, then runs the post-import hook."""

    def __init__(self, loader, name, finder):
        self._loader, self._name, self._finder = loader, name, finder

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        # From here on nobody should see this wrapper (isinstance checks, resource readers).
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._finder.fire(self._name, module)

    def __getattr__(self, attr):  # get_source, get_resource_reader, is_package, ...
        return getattr(self._loader, attr)


class _PostImportFinder:
    """A sys.meta_path entry that finds nothing itself: it wraps the loader of watched modules."""

    def __init__(self):
        self.hooks = {}
        setattr(self, _MARK, True)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.hooks:  # the common case, on every import: one dict lookup
            return None
        for finder in list(sys.meta_path):
            if getattr(finder, _MARK, False) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None  # not a loader we can wrap; let the normal machinery handle it
        spec.loader = _HookedLoader(spec.loader, fullname, self)
        return spec

    def fire(self, name, module) -> None:
        # Popped only after a successful import, so a failed import that is retried is hooked too.
        hook = self.hooks.pop(name, None)
        if not self.hooks and self in sys.meta_path:
            sys.meta_path.remove(self)  # nothing left to watch: stop costing a lookup per import
        if hook is not None:
            _run_hook(name, hook, module)


def install(force=False):
    """Install the finder (once); run the hooks of watched modules that are already imported.

    `force=True` installs even under S1EVAL_NO_AUTOLOAD: the explicit `s1eval lm-eval` command
    and the demo register on purpose, whatever the environment says about the implicit hook.
    """
    if not (ENABLED or force):
        return None
    for finder in sys.meta_path:
        if getattr(finder, _MARK, False):
            return finder  # a .pth read twice or a reloaded module: the first install stands
    finder = _PostImportFinder()
    for name, hook in HOOKS.items():
        module = sys.modules.get(name)
        if module is None:
            finder.hooks[name] = hook
        else:
            # Imported before us (this module imported by hand, or `python -S`): patch now.
            _run_hook(name, hook, module)
    if finder.hooks:
        sys.meta_path.insert(0, finder)
    return finder


install()
