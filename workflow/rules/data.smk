rule fetch_dataset:
    output:
        data="results/data/{dataset}/data.npz",
        meta="results/data/{dataset}/meta.json",
    log:
        "results/logs/fetch/{dataset}.log",
    params:
        source=f"--source {config['source']}" if config["source"] else "",
        cache=config["cache"],
        normalise=config["normalise"],
        missing=config["missing"],
    conda:
        "../../envs/data.yaml"
    shell:
        "lstmfcn fetch {wildcards.dataset} {params.source} --root results/data "
        "--cache {params.cache} --normalise {params.normalise} --missing {params.missing} "
        "> {log} 2>&1"
