"""Backend-free budget forcing: configuration, the per-request state machine, the scheduler and
statistics. Imports no torch or vllm; backends plug in through `s1eval.budget.engine.Engine`.
"""

from s1eval.budget.config import BudgetConfig, BudgetConfigError, parse_gen_kwargs
from s1eval.budget.engine import BatchedEngine, Continuation, Engine, Step
from s1eval.budget.machine import RequestMachine, RequestResult, RequestSpec
from s1eval.budget.planning import ContextError, fit_generation
from s1eval.budget.sampling import Sampling, parse_sampling
from s1eval.budget.scheduler import run_requests
from s1eval.budget.stats import RequestStats, StatsCollector, stats_from_text

__all__ = [
    "BatchedEngine", "BudgetConfig", "BudgetConfigError", "ContextError",
    "Continuation", "Engine", "RequestMachine", "RequestResult", "RequestSpec", "RequestStats", "Sampling",
    "StatsCollector", "Step", "fit_generation", "parse_gen_kwargs", "parse_sampling", "run_requests",
    "stats_from_text",
]
