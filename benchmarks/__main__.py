"""``python -m benchmarks``: run every benchmark and rewrite docs/benchmarks.md."""

from benchmarks import see_and_hear

for module in (see_and_hear,):
    print(module.main())
