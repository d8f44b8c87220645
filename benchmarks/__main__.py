"""``python -m benchmarks``: run every benchmark and rewrite docs/benchmarks.md."""

from benchmarks import models, see_and_hear

for module in (see_and_hear, models):
    print(module.main())
