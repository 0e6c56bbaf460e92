"""Test-time scaling analysis: the paper's metrics, paired statistics, sweep summaries and plots.

- `metrics`: Control, Scaling and Performance (paper section 3.2) and the per-sample share within budget;
- `statistics`: Wilson and bootstrap intervals, the paired bootstrap of an accuracy difference, exact McNemar;
- `outputs`: reading lm-eval output folders (results JSON, samples, s1stats sidecars) into per-question scores;
- `summary`: one row per sweep setting (accuracy with a 95% CI, mean thinking tokens, share within budget),
  written as CSV and JSON, and the metrics over those rows;
- `plot`: accuracy against mean thinking tokens on a log2 axis (the paper's Figures 1 and 4).

Majority voting (maj@k, cov@k, unbiased pass@k) lives in `s1eval.grading.voting`; `summary.voting_curve`
only averages what the `*_maj` tasks already logged per question.
"""
