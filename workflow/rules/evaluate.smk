# lstmfcn evaluate -> lstmfcn_bench.results.evaluation (test metrics of one kept checkpoint)
rule evaluate:
    wildcard_constraints:
        stem=runs.STEM_WILDCARD,
    input:
        model=get_evaluated_file("model"),
        info=get_evaluated_file("info"),
        history=get_evaluated_file("history"),  # its first epoch's loss, for the collapse flags
        data=get_dataset_files,
    output:
        runs.stem_pattern("metrics"),
    log:
        runs.stem_pattern("evaluate_log"),
    benchmark:
        runs.stem_pattern("evaluate_benchmark")
    params:
        root=lambda wildcards, input: data_root(input.data),
    conda:
        "../../envs/lstmfcn.yaml"
    priority: get_priority
    threads: 1
    shell:
        "lstmfcn evaluate {input.model:q} --info {input.info:q} --dataset {wildcards.dataset} "
        "--root {params.root:q} --threads {threads} --out {output:q} > {log:q} 2>&1"
