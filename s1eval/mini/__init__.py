"""mini-s1: a synthetic reasoning task on which a ~1M-parameter model can show test-time scaling on a CPU.

The task
--------
"Let x = 31. In 03 steps, for r from 11 down to 09, replace x by x^3 + r mod 41. What is x at the end?"

A problem is (map, x0, a, b): k = a - b + 1 steps of ``x <- sigma(x) + r (mod 41)`` for r = a, a-1, ..., b.
The maps ("families", the domains s1data's selection balances) are ``sigma(x) = c * x^e`` with
(c, e) in {(1,3), (1,7), (2,3), (3,7)}; all are permutations of Z_41 (gcd(e, 40) = 1).
r is in 0..39, k in 2..16 (uniform in the test set), x0 in 0..40; answers 0..40, chance 1/41 = 2.44%.
Numbers are written with two digits everywhere (``07``), graded as integers (``07`` == ``7``).

The teacher's thinking has one line per step, ``{n}:{x}->{sigma(x)}+{r}={x'}`` with n the steps left
(``03:31->25+11=36``), 15 tokens of the mini tokenizer; the attempt is ``Final Answer: NN``, the very text
budget forcing appends when the budget runs out, so a natural end and a forced end are answered alike. Some
steps are written wrong first (a wrong sigma(x) or a wrong sum) and followed by ``Wait, `` and the step redone;
others are right and followed by ``Wait, `` and the same step again (a re-check); the last step is re-checked
more often, and again after a re-check, because that is where forced "Wait"s land, one after another. So "Wait"
means "do the last step again", never "change the answer" (`traces`).

Why this design (the prototype's lessons, issue 8)
---------------------------------------------------
- No per-step operand look-ups: every operand of a step is in the line itself or the line before it, at fixed
  token offsets (fixed-width numbers): x is the previous line's last number, r is the previous r minus one.
  What the model must memorise is sigma, a table of 41 entries per map (164 in all), and addition mod 41.
  Version 1 (modulus 89, six maps, k up to 24: a 534-entry table) was not learned within the CPU budget
  (the model card's runs 1-6); the smaller table is what makes the task learnable in minutes.
- No short cycles: mod 10 let the prototype read answers off a short period. Here the step term r strictly
  decreases, so the state (x, r) never repeats, and every map is a permutation (no collapse onto a few values:
  for fixed (map, a, b) the answer is a bijection of x0, so the answer is uniform over 0..40 whatever the
  map, a, b and k are). The maps are non-linear, so k steps compose into nothing simpler (an affine map would
  compose into an affine map, which a network could learn to apply in one go).
- Two free ends (a and b) make the problem space large: 4 x 41 x 480 = 78,720 problems (k 2..16), so the pool
  is mostly fresh and the held-out set is never covered densely by training answers.
- Ending the thinking is a local decision: the question states k and each line counts the steps left down to
  01. Without the count (version 2) the model had to compare r with the question's b; after 3,000 pretraining
  steps it looked up 96% of map digits and got 99% of sums right but ended its thinking after the last line 6%
  of the time, so it ran past the answer (model card).
- One step alone could be done "in the head" (it is exactly what a trace line teaches), so k >= 2.
- Held out by construction: the split is a hash of the trajectory start (map, x0, a) (1/16 test, 1/16 dev,
  14/16 train). A trajectory is fixed by its start, so no held-out trace is a prefix of a training trace;
  training problems may start *inside* a held-out trajectory (a sub-problem), which only helps a model that
  has computed up to there. The generators draw train starts only (tests/mini/test_task.py checks it).

Measured (`python -m s1eval.mini measure`; tests/mini/test_problems.py)
------------------------------------------------------------------------
On 1,000 dev problems: all 41 answers occur, entropy 5.324 bits (uniform: 5.358), largest answer share 3.3%.
Trivial predictors (chance 2.44%): "answer = x0 / a / b / k / x0 + a / x0 + b / sigma(x0) / one step of the
map" and "the majority train answer per value of each of the 25 combinations of up to three of (map, x0, a,
b, k)", learned on 50,000 train problems, all score 0.0%-3.4% (one predictor's standard error is 0.5 points;
the best, "answer = k", scores 2.6% on 20,000 dev problems). A majority per (map, a, b) scores exactly 0: the
train answers of a cell belong to other start values, and x0 -> answer is a bijection. With k = 1 allowed,
"one step of the map" would be learnable without a trace: hence k >= 2.
Teacher traces (defaults, k 2..16): mean 144 thinking tokens, max 311; 22% of traces have a slip, 32% a
re-check, 46% at least one "Wait". Pool traces (plain): mean 137 tokens.

Modules: `problems` (maps, problems, splits), `traces` (the reference solver: teacher traces, s1K rows, the
pretraining pool, recorded replies for s1data's `traces` stage, a trace checker for model outputs),
`tokenizer` (the mini tokenizer), `data` (the shipped test set and the lm-eval loader of tasks/s1_mini),
`measure`, `probe` (a model's own thinking checked line by line), `build` (the whole chain that makes the
embedded model: ``make mini-s1``). CLI:
``python -m s1eval.mini {make-test,measure,probe,tokenizer,teacher,pool,build}``.
"""
