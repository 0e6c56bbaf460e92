"""The analysis commands, over lm-eval's outputs and the statistics sidecars.

- `sweep` (with `sweep_checks`, `sweep_manifest`, `sweep_summary`): one model over a grid of budgets, ignores
  and controls, checked before the model loads, resumable only for the same run;
- `compare`: a paired per-question comparison of two runs, and the regression gate;
- `report`: runs beside the paper's numbers;
- `stats`: thinking and answer tokens recomputed from any samples file.

They sit above the library (budget forcing, backends, grading, `s1eval.scaling`'s statistics and plots); nothing
in the library imports them.
"""
