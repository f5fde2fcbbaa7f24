# lstmfcn fetch -> lstmfcn_bench.data.dataset.prepare (download, verify, parse, preprocess)
rule fetch_dataset:
    output:
        data=dataset_file(DATA_FILE),
        meta=dataset_file(META_FILE),
    log:
        "results/logs/fetch/{dataset}.log",
    params:
        source=source_option(),
        cache=PLAN.config["cache"],
        normalise=PLAN.config["normalise"],
        missing=PLAN.config["missing"],
        root=lambda wildcards, output: data_root(output.data),
    priority: get_priority
    conda:
        "../../envs/lstmfcn.yaml"
    shell:
        "lstmfcn fetch {wildcards.dataset} {params.source} --root {params.root:q} "
        "--cache {params.cache:q} --normalise {params.normalise} --missing {params.missing} "
        "> {log:q} 2>&1"
