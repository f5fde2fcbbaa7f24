# Helpers shared by the rules: the plan is resolved once here, so input functions are lookups.
# Run names and paths come from lstmfcn_bench.runs, the config's keys and ranges from the schema
# (lstmfcn_bench/resources/config.schema.json, checked by lstmfcn_bench.workflow_config).
import shlex
import sys

from lstmfcn_bench import runs
from lstmfcn_bench.baselines import BASELINES, is_baseline
from lstmfcn_bench.data.dataset import DATA_FILE, META_FILE
from lstmfcn_bench.errors import ConfigError
from lstmfcn_bench.plan import make_plan
from lstmfcn_bench.training.engines import backend_assignment, trains_groups

try:
    PLAN = make_plan(config)
except ConfigError as e:
    raise WorkflowError(f"bad config: {e}") from None

# The report's captions are Jinja templates that see only the config: this tells them what the
# runs are (the paper's protocol or not), after the config was checked.
config["protocol_line"] = PLAN.protocol_line()


# Said by the main process only (a cluster job parses this file again), and at parse time
# rather than onstart, which a dry run (-n) skips: what a source leaves out matters most there.
if workflow.is_main_process and PLAN.source_note():
    print(PLAN.source_note(), file=sys.stderr)


ENGINE = PLAN.config["engine"]
# One job per run, or one per group of seeds (lstmfcn_bench.training.engines).
TRAINS_GROUPS = trains_groups(ENGINE)


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model="|".join(PLAN.models) or runs.MODELS[0],
    cells=r"\d+",
    seed=r"\d+",


def run_file(kind):
    """The wildcard pattern of one file of a run (lstmfcn_bench.runs.RUN_FILES)."""
    return runs.pattern(kind)


def every_run(kind):
    """File `kind` of every planned run."""
    return [str(r.path(kind)) for r in PLAN.runs]


def group_outputs(kind):
    """File `kind` of every seed of one training group (the jax engine's job)."""
    return expand(run_file(kind), seed=PLAN.seeds, allow_missing=True)


def every_train_benchmark():
    """The training jobs' benchmark files: one per run, or one per group with engine jax."""
    if PLAN.released_from is not None:  # released: true trains nothing
        return []
    if not TRAINS_GROUPS:
        return every_run("train_benchmark")
    pattern = runs.group_pattern("train_benchmark", PLAN.seeds)
    groups = dict.fromkeys((r.dataset, r.model, r.cells) for r in PLAN.runs if not is_baseline(r.model))
    # A baseline trains one run per job on any engine.
    alone = [str(r.path("train_benchmark")) for r in PLAN.runs if is_baseline(r.model)]
    return [*(pattern.format(dataset=d, model=m, cells=c) for d, m, c in groups), *alone]


def get_final_outputs():
    figures = PLAN.figure_runs()
    return [
        rules.aggregate.output.html,
        rules.aggregate.output.stats_html,
        rules.aggregate.output.timing,
        rules.scatter.output.png,
        *(rules.cam.output.png.format(dataset=d, model=m) for d, m in figures),
        *(
            rules.context.output.png.format(dataset=d, model=m)
            for d, m in figures
            if m in runs.ATTENTION_MODELS
        ),
        # A released run's curves would come from its thinned history: not drawn.
        *(
            str(r.path("curves"))
            for r in PLAN.runs
            if PLAN.released_from is None and not is_baseline(r.model)
        ),
    ]


def stem_run(wildcards):
    """The run a job's {dataset} and {stem} wildcards name."""
    return runs.run_of(f"{wildcards.dataset}/{wildcards.stem}")


def get_evaluated_file(kind):
    """What evaluate reads of a run: its trained file, or a released run's (Plan.evaluated_file);
    a baseline has no history."""

    def files(wildcards):
        run = stem_run(wildcards)
        if kind == "history" and is_baseline(run.model):
            return []
        return str(PLAN.evaluated_file(run, kind))

    return files


def get_figure_model(wildcards):
    """The model that CAM and context figures draw (lstmfcn_bench.plan.Plan.figure_runs)."""
    run = PLAN.figure_runs()[(wildcards.dataset, wildcards.model)]
    return str(PLAN.evaluated_file(run, "model"))


def get_figure_check(wildcards):
    """A released model is drawn only once its evaluation has checked that it holds the weights
    its record names: its metrics file; a trained run's model needs no such check."""
    if PLAN.released_from is None:
        return []
    return str(PLAN.figure_runs()[(wildcards.dataset, wildcards.model)].path("metrics"))


DATA_ROOT = f"{runs.RESULTS}/data"


def dataset_file(name):
    return f"{DATA_ROOT}/{{dataset}}/{name}"


def data_root(files):
    """The prepared-data folder (`--root`) of a rule's dataset files."""
    first = files if isinstance(files, str) else files[0]
    return os.path.dirname(os.path.dirname(first))


def get_dataset_files(wildcards):
    return [dataset_file(DATA_FILE).format(dataset=wildcards.dataset),
            dataset_file(META_FILE).format(dataset=wildcards.dataset)]


def source_option():
    """`--source SOURCE`, quoted for the shell, or nothing for the default sources."""
    source = PLAN.config["source"]
    return f"--source {shlex.quote(source)}" if source else ""


def get_train_setting(key):
    """A per-dataset training setting as a params function (so a change reruns that dataset only)."""
    return lambda wildcards: PLAN.train[wildcards.dataset][key]


def get_priority(wildcards):
    """Cheapest datasets first (lstmfcn_bench.plan.Plan.priority): fetch, train, evaluate."""
    seed = stem_run(wildcards).seed if "stem" in wildcards.keys() else getattr(wildcards, "seed", None)
    return PLAN.priority(wildcards.dataset, None if seed is None else int(seed))


def get_train_resources():
    resources = {"mem_mb": PLAN.config["mem_mb"], "runtime": PLAN.config["runtime_min"]}
    if PLAN.gpu:
        resources["gpu"] = 1
    return resources
