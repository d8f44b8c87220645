"""Judging the models: the scorecard (takes against real music), the benchmarks' library code and model cards.

These sit above sampling and training: they draw takes, train benchmark models and read checkpoints to write the
figures in the docs.
"""
