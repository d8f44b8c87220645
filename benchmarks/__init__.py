"""Speed and quality measurements; each module's ``main()`` rewrites its own section of docs/benchmarks.md."""
