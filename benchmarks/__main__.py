"""``python -m benchmarks``: run every benchmark and rewrite docs/benchmarks.md."""

from benchmarks import models, see_and_hear, workbench

for module in (see_and_hear, models, workbench):
    print(module.main())
