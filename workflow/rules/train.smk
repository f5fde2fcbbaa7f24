rule train:
    input:
        get_dataset_files,
    output:
        model="results/models/{dataset}/{model}_c{cells}_s{seed}.keras",
        history="results/models/{dataset}/{model}_c{cells}_s{seed}_history.csv",
        info="results/models/{dataset}/{model}_c{cells}_s{seed}_train.json",
    log:
        "results/logs/train/{dataset}/{model}_c{cells}_s{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{model}_c{cells}_s{seed}.tsv"
    params:
        epochs=get_train_setting("epochs"),
        batch_size=get_train_setting("batch_size"),
        patience=get_train_setting("patience"),
        checkpoint_every=get_train_setting("checkpoint_every"),
        shuffle=lambda wildcards: "" if PLAN.train[wildcards.dataset]["shuffle"] else "--no-shuffle",
        tf32="--tf32" if PLAN.tf32 else "",
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]
    resources:
        **get_train_resources(),
    # A preempted or killed job is retried and resumes from its resume state.
    retries: 2
    shell:
        "lstmfcn train {wildcards.dataset} --model {wildcards.model} --cells {wildcards.cells} "
        "--seed {wildcards.seed} --epochs {params.epochs} --batch-size {params.batch_size} "
        "--patience {params.patience} --checkpoint-every {params.checkpoint_every} "
        "{params.shuffle} {params.tf32} --threads {threads} --log-every 10 --root results/data "
        "--out results/models/{wildcards.dataset} > {log} 2>&1"
