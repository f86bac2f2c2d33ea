"""cmp's benchmarks: one script per question, each run for the stdlib and
for cmp side by side (python -m benchmarks)."""
