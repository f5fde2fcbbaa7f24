# lstmfcn-bench: UCR data -> LSTM-FCN / ALSTM-FCN training -> test metrics -> results table,
# statistics, figures and report. All logic lives in the lstmfcn_bench package; rules call it
# (each rule file names the module its stage lives in). The config is checked against the
# package's schema by lstmfcn_bench.workflow_config and planned by lstmfcn_bench.plan
# (workflow/rules/common.smk).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
