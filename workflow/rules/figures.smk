rule cam:
    input:
        model=get_figure_run_file(".keras"),
        data=get_dataset_files,
    output:
        png=report(
            "results/figures/{dataset}/cam_{model}.png",
            caption="../report/cam.rst",
            category="3. Class activation maps",
            subcategory="{dataset}",
        ),
        svg="results/figures/{dataset}/cam_{model}.svg",
    log:
        "results/logs/figures/{dataset}/cam_{model}.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "lstmfcn cam {input.model} --dataset {wildcards.dataset} --root results/data "
        "--samples 2 --out {output.png} > {log} 2>&1"


rule context:
    input:
        model=get_figure_run_file(".keras", model="alstmfcn"),
        data=get_dataset_files,
    output:
        png=report(
            "results/figures/{dataset}/context_alstmfcn.png",
            caption="../report/context.rst",
            category="4. Attention context",
            subcategory="{dataset}",
        ),
        svg="results/figures/{dataset}/context_alstmfcn.svg",
    log:
        "results/logs/figures/{dataset}/context_alstmfcn.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "lstmfcn context {input.model} --dataset {wildcards.dataset} --root results/data "
        "--classwise --out {output.png} > {log} 2>&1"


rule curves:
    input:
        history="results/models/{dataset}/{model}_c{cells}_s{seed}_history.csv",
        info="results/models/{dataset}/{model}_c{cells}_s{seed}_train.json",
    output:
        png=report(
            "results/figures/{dataset}/curves_{model}_c{cells}_s{seed}.png",
            caption="../report/curves.rst",
            category="6. Training curves",
            subcategory="{dataset}",
        ),
        svg="results/figures/{dataset}/curves_{model}_c{cells}_s{seed}.svg",
    log:
        "results/logs/figures/{dataset}/curves_{model}_c{cells}_s{seed}.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "lstmfcn curves {input.history} --info {input.info} --out {output.png} > {log} 2>&1"


rule scatter:
    input:
        "results/tables/summary.csv",
    output:
        png=report(
            "results/figures/scatter.png",
            caption="../report/scatter.rst",
            category="1. Results table",
        ),
        svg="results/figures/scatter.svg",
    log:
        "results/logs/figures/scatter.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "lstmfcn scatter {input} --out {output.png} > {log} 2>&1"
