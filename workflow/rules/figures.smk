# lstmfcn cam|context|curves|scatter -> lstmfcn_bench.figures.{cam,context,curves,scatter}
rule cam:
    input:
        model=get_figure_model,
        checked=get_figure_check,
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
    params:
        root=lambda wildcards, input: data_root(input.data),
    conda:
        "../../envs/lstmfcn.yaml"
    shell:
        "lstmfcn cam {input.model:q} --dataset {wildcards.dataset} --root {params.root:q} "
        "--samples 2 --out {output.png:q} > {log:q} 2>&1"


rule context:
    input:
        model=get_figure_model,
        checked=get_figure_check,
        data=get_dataset_files,
    output:
        png=report(
            "results/figures/{dataset}/context_{model}.png",
            caption="../report/context.rst",
            category="4. Attention context",
            subcategory="{dataset}",
        ),
        svg="results/figures/{dataset}/context_{model}.svg",
    log:
        "results/logs/figures/{dataset}/context_{model}.log",
    params:
        root=lambda wildcards, input: data_root(input.data),
    conda:
        "../../envs/lstmfcn.yaml"
    shell:
        "lstmfcn context {input.model:q} --dataset {wildcards.dataset} --root {params.root:q} "
        "--classwise --out {output.png:q} > {log:q} 2>&1"


rule curves:
    input:
        history=run_file("history"),
        info=run_file("info"),
    output:
        png=report(
            run_file("curves"),
            caption="../report/curves.rst",
            category="6. Training curves",
            subcategory="{dataset}",
        ),
        svg=run_file("curves_svg"),
    log:
        run_file("curves_log"),
    conda:
        "../../envs/lstmfcn.yaml"
    shell:
        "lstmfcn curves {input.history:q} --info {input.info:q} --out {output.png:q} > {log:q} 2>&1"


rule scatter:
    input:
        rules.aggregate.output.summary,
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
        "../../envs/lstmfcn.yaml"
    shell:
        "lstmfcn scatter {input:q} --out {output.png:q} > {log:q} 2>&1"
