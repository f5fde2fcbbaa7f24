# lstmfcn evaluate -> lstmfcn_bench.results.evaluation (test metrics of one kept checkpoint)
rule evaluate:
    input:
        model=run_file("model"),
        info=run_file("info"),
        history=run_file("history"),  # read beside the model: its first epoch's loss
        data=get_dataset_files,
    output:
        run_file("metrics"),
    log:
        run_file("evaluate_log"),
    benchmark:
        run_file("evaluate_benchmark")
    params:
        root=lambda wildcards, input: data_root(input.data),
    conda:
        "../../envs/lstmfcn.yaml"
    priority: get_priority
    threads: 1
    shell:
        "lstmfcn evaluate {input.model:q} --info {input.info:q} --dataset {wildcards.dataset} "
        "--root {params.root:q} --threads {threads} --out {output:q} > {log:q} 2>&1"
