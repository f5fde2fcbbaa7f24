# Helpers shared by the rules: the plan is resolved once here, so input functions are lookups.
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.plan import make_plan

try:
    PLAN = make_plan(config)
except ConfigError as e:
    raise WorkflowError(f"bad config: {e}") from None

RUNS = PLAN.runs


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model="|".join(PLAN.models) or "lstmfcn",
    cells=r"\d+",
    seed=r"\d+",


def run_paths(pattern):
    """`pattern` expanded over every planned run (zip over the run records, not a product)."""
    return [
        pattern.format(dataset=r.dataset, model=r.model, cells=r.cells, seed=r.seed)
        for r in RUNS
    ]


def get_metrics_files():
    return run_paths("results/metrics/{dataset}/{model}_c{cells}_s{seed}.json")


def get_history_files():
    return run_paths("results/models/{dataset}/{model}_c{cells}_s{seed}_history.csv")


def get_final_outputs():
    figures = [f"results/figures/{d}/cam_{m}.png" for d in PLAN.datasets for m in PLAN.models]
    if "alstmfcn" in PLAN.models:
        figures += [f"results/figures/{d}/context_alstmfcn.png" for d in PLAN.datasets]
    figures += run_paths("results/figures/{dataset}/curves_{model}_c{cells}_s{seed}.png")
    return [
        "results/tables/summary.html",
        "results/tables/stats.html",
        "results/tables/timing.html",
        "results/figures/scatter.png",
        *figures,
    ]


def get_figure_run_file(suffix, model=None):
    """CAM and context figures draw the first configured cells and seed of each dataset."""
    cells, seed = PLAN.cells[0], PLAN.seeds[0]

    def files(wildcards):
        m = model or wildcards.model
        return f"results/models/{wildcards.dataset}/{m}_c{cells}_s{seed}{suffix}"

    return files


def get_dataset_files(wildcards):
    folder = f"results/data/{wildcards.dataset}"
    return [f"{folder}/data.npz", f"{folder}/meta.json"]


def get_train_setting(key):
    """A per-dataset training setting as a params function (so a change reruns that dataset only)."""
    return lambda wildcards: PLAN.train[wildcards.dataset][key]


def get_train_resources():
    resources = {"mem_mb": config["mem_mb"], "runtime": config["runtime_min"]}
    if PLAN.gpu:
        resources["gpu"] = 1
    return resources
