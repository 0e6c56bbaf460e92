"""Test-time scaling analysis: the paper's metrics, paired statistics, run outputs and plots.

- `metrics`: Control, Scaling and Performance (paper section 3.2), the per-sample share within budget, and
  `sweep_metrics` over a sweep's summary rows;
- `statistics`: Wilson and bootstrap intervals (`accuracy_ci`), the paired bootstrap of an accuracy difference,
  exact McNemar;
- `outputs`: reading lm-eval output folders (results JSON, samples) into per-question scores and versions,
  for `s1eval compare` and `s1eval report`;
- `plot`: accuracy against mean thinking tokens on a log2 axis (the paper's Figures 1 and 4).

The sweep's summary CSV/JSON is written by `s1eval.analysis.sweep_summary`, which calls `accuracy_ci`, `sweep_metrics`
and `plot_scaling` from here. Majority voting (maj@k, cov@k, unbiased pass@k over k = 1, 2, 4, ...) lives in
`s1eval.grading.voting` and is reported by the `*_maj` tasks.
"""
