"""From checkpoints to numbers: test metrics per run (evaluation); metrics files and committed
records read and checked (records); the paper's published numbers (reference); the table's
selection and summary (summary), its HTML and Markdown (render) and the README block
(readme_block); statistics over datasets (stats) and compute cost (timing); publishing records
(publish), staged all-or-nothing (staging), with released weights (weights)."""
