rule evaluate:
    input:
        model="results/models/{dataset}/{model}_c{cells}_s{seed}.keras",
        info="results/models/{dataset}/{model}_c{cells}_s{seed}_train.json",
        data=get_dataset_files,
    output:
        "results/metrics/{dataset}/{model}_c{cells}_s{seed}.json",
    log:
        "results/logs/evaluate/{dataset}/{model}_c{cells}_s{seed}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}/{model}_c{cells}_s{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    shell:
        "lstmfcn evaluate {input.model} --dataset {wildcards.dataset} --root results/data "
        "--threads {threads} --out {output} > {log} 2>&1"
