# lstmfcn train -> lstmfcn_bench.training (the paper's protocol, resumable). An engine that
# trains groups (engine: jax; lstmfcn_bench.training.engines decides) trains all seeds of a
# dataset x model x cells in one job (training/jax_engine.py).
if not TRAINS_GROUPS:

  rule train:
      input:
          data=get_dataset_files,
      output:
          model=run_file("model"),
          history=run_file("history"),
          info=run_file("info"),
      log:
          run_file("train_log"),
      benchmark:
          run_file("train_benchmark")
      params:
          epochs=get_train_setting("epochs"),
          batch_size=get_train_setting("batch_size"),
          patience=get_train_setting("patience"),
          checkpoint_every=get_train_setting("checkpoint_every"),
          shuffle=lambda wildcards: PLAN.train_flags(wildcards.dataset),
          tf32="--tf32" if PLAN.tf32 else "",
          root=lambda wildcards, input: data_root(input.data),
          out=lambda wildcards, output: os.path.dirname(output.model),
      conda:
          "../../envs/lstmfcn.yaml"
      priority: get_priority
      threads: PLAN.config["threads"]
      resources:
          **get_train_resources(),
      # A preempted or killed job is retried and resumes from its resume state.
      retries: 2
      shell:
          "lstmfcn train {wildcards.dataset} --model {wildcards.model} --cells {wildcards.cells} "
          "--seed {wildcards.seed} --epochs {params.epochs} --batch-size {params.batch_size} "
          "--patience {params.patience} --checkpoint-every {params.checkpoint_every} "
          "{params.shuffle} {params.tf32} --threads {threads} --log-every 10 --root {params.root:q} "
          "--out {params.out:q} > {log:q} 2>&1"

else:

  rule train_group:
      input:
          data=get_dataset_files,
      output:
          models=group_outputs("model"),
          histories=group_outputs("history"),
          infos=group_outputs("info"),
      log:
          runs.group_pattern("train_log", PLAN.seeds),
      benchmark:
          runs.group_pattern("train_benchmark", PLAN.seeds)
      params:
          epochs=get_train_setting("epochs"),
          batch_size=get_train_setting("batch_size"),
          patience=get_train_setting("patience"),
          checkpoint_every=get_train_setting("checkpoint_every"),
          shuffle=lambda wildcards: PLAN.train_flags(wildcards.dataset),
          tf32="--tf32" if PLAN.tf32 else "",
          seeds=" ".join(str(s) for s in PLAN.seeds),
          root=lambda wildcards, input: data_root(input.data),
          out=lambda wildcards, output: os.path.dirname(output.models[0]),
      conda:
          "../../envs/lstmfcn.yaml"
      priority: get_priority
      threads: PLAN.config["threads"]
      resources:
          **get_train_resources(),
      retries: 2
      # The engine's backend (KERAS_BACKEND=jax) comes first; the command reads as it always
      # has, so finished groups are not rerun for a changed command.
      shell:
          backend_assignment(ENGINE) + "lstmfcn train {wildcards.dataset} --engine jax "
          "--model {wildcards.model} --cells {wildcards.cells} --seed {params.seeds} "
          "--epochs {params.epochs} --batch-size {params.batch_size} "
          "--patience {params.patience} --checkpoint-every {params.checkpoint_every} "
          "{params.shuffle} {params.tf32} --threads {threads} --log-every 10 "
          "--root {params.root:q} --out {params.out:q} > {log:q} 2>&1"


# lstmfcn train --model <baseline> -> lstmfcn_bench.training.baseline (a model of another
# library, lstmfcn_bench/baselines.py): one fit per run, CPU only, on any engine.
rule train_baseline:
    wildcard_constraints:
        model="|".join(BASELINES),
    input:
        data=get_dataset_files,
    output:
        model=runs.pattern("baseline_model", baseline=True),
        info=runs.pattern("info", baseline=True),
    log:
        runs.pattern("train_log", baseline=True),
    benchmark:
        runs.pattern("train_benchmark", baseline=True)
    params:
        root=lambda wildcards, input: data_root(input.data),
        out=lambda wildcards, output: os.path.dirname(output.model),
    conda:
        "../../envs/lstmfcn.yaml"
    priority: get_priority
    threads: PLAN.config["threads"]
    resources:
        mem_mb=PLAN.config["mem_mb"],
        runtime=PLAN.config["runtime_min"],
    shell:
        "lstmfcn train {wildcards.dataset} --model {wildcards.model} --seed {wildcards.seed} "
        "--threads {threads} --root {params.root:q} --out {params.out:q} > {log:q} 2>&1"
