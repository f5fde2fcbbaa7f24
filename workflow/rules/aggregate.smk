# lstmfcn aggregate -> lstmfcn_bench.aggregate (results.tables, .stats, .today, .timing, figures.cd_diagram)
rule aggregate:
    input:
        metrics=every_run("metrics"),
        benchmarks=every_train_benchmark(),
    output:
        long="results/tables/accuracy.csv",
        summary="results/tables/summary.csv",
        html=report(
            "results/tables/summary.html",
            caption="../report/summary.rst",
            category="1. Results table",
        ),
        markdown="results/tables/summary.md",
        stats="results/tables/stats.csv",
        stats_html=report(
            "results/tables/stats.html",
            caption="../report/stats.rst",
            category="2. Statistics",
        ),
        cd=report(
            "results/tables/cd_diagram.png",
            caption="../report/cd_diagram.rst",
            category="2. Statistics",
        ),
        cd_svg="results/tables/cd_diagram.svg",
        today_csv="results/tables/today.csv",
        today_html=report(
            "results/tables/today.html",
            caption="../report/today.rst",
            category="2. Statistics",
        ),
        today_cd="results/tables/today_cd.png",
        today_cd_svg="results/tables/today_cd.svg",
        timing_csv="results/tables/timing.csv",
        timing=report(
            "results/tables/timing.html",
            caption="../report/timing.rst",
            category="5. Compute",
        ),
    log:
        "results/logs/aggregate.log",
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
    conda:
        "../../envs/lstmfcn.yaml"
    shell:
        "lstmfcn aggregate {input.metrics:q} --out {params.out:q} "
        "--benchmarks {input.benchmarks:q} > {log:q} 2>&1"
