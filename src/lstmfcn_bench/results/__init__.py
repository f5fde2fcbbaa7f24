"""From checkpoints to numbers: test metrics per run (evaluation), the published numbers
(published), the results table with the paper's selection (tables), statistics over datasets
(stats) and compute cost (timing)."""
