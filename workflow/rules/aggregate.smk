rule aggregate:
    input:
        get_metrics_files(),
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
        timing=report(
            "results/tables/timing.html",
            caption="../report/timing.rst",
            category="5. Compute",
        ),
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "lstmfcn aggregate {input} --out results/tables --benchmarks results/benchmarks > {log} 2>&1"
