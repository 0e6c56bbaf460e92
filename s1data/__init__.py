"""s1data: regenerate s1K (arXiv 2501.19393) from its 59K question pool.

A pipeline is a list of small stages (`s1data.stages`), each reading a dataset and writing one
(`data.parquet`) with `stats.json` (in, kept, dropped per reason) and `dropped.parquet` beside it;
`s1data.pipeline` runs them, checks in = kept + dropped, skips completed stages and resumes
interrupted ones chunk by chunk. `s1data.cli` is the `s1data` command.
"""

__version__ = "0.1.0"
