"""The command line's side of the recurrent language models (chapters 5-6): the
side-by-side run (run.py), its table, plots and report (report.py), the quick check
(check.py) and the benchmark (bench.py); commands.py is this family's own part of the
command line for `--model simple_rnnlm|rnnlm|better_rnnlm` (comparisons/model_commands.py
runs the commands)."""
