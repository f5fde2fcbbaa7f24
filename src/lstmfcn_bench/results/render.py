"""The results table as a reader sees it: a standalone HTML page and GitHub Markdown, with the
selection rule, the protocol and the headline in words (no timestamps: a rebuild from the same
metrics gives the same bytes)."""

from __future__ import annotations

import html
import math
import re

import pandas as pd

from ..baselines import BASELINES, is_baseline
from ..data import splits
from ..runs import DISPLAY, MODELS, PUBLISHED_AS
from ..training.config import PAPER_PROTOCOL_TEXT
from .reference import published_methods
from .summary import WITHIN, headline, is_true, papers_protocol

SELECTION_RULE = (
    "Selected: for each seed, the cells whose run reached the lowest training loss at the kept "
    "(minimum-training-loss) checkpoint, ties to fewer cells; test accuracy is never used to "
    "choose. Mean ± sample std (ddof=1) over seeds; cells chosen listed per seed. "
    "Δ = selected mean − published, in accuracy points."
)


#: After a dataset's name: its paper split is the 2018 archive's exchanged (data/splits.py).
SPLIT_MARK = " †"


def split_note(summ: pd.DataFrame) -> str:
    """The note on the datasets marked :data:`SPLIT_MARK`; "" when the table has none."""
    if not any(ds in splits.EXCHANGED_SINCE_2015 for ds in summ.index):
        return ""
    return (
        f"{SPLIT_MARK.strip()} The 2018 archive exchanged these datasets' train and test (the "
        "2015 archive's): LSTM-FCN and ALSTM-FCN, ours and published, train and test the paper's "
        "way round; MiniRocket and the bake-off use the 2018 split, so they test on other series."
    )


RELEASED_TEXT = (
    "From released weights: each number is the test accuracy of a released model (for its "
    "dataset, model and seed, the run the reproduction's table selects by training loss), "
    "evaluated here; nothing was trained."
)


def protocol_text(summ: pd.DataFrame) -> str:
    """Which protocol the table shows, in one sentence, and what each baseline of another
    library is (and where the numbers come from, when they are released models' alone)."""
    baselines = [m for m in _models(summ) if is_baseline(m)]
    said = [
        f"{DISPLAY[m]}: {BASELINES[m].library}'s defaults (the paper's epochs and cells do not "
        f"apply), Δ against the 2023 bake-off's {BASELINES[m].bakeoff} on the archive's split."
        for m in baselines
    ]
    if len(baselines) == len(_models(summ)):
        return " ".join(said)
    if papers_protocol(summ):
        text = (
            f"Protocol: the paper's ({PAPER_PROTOCOL_TEXT}, batch 128, Adam with the plateau "
            "schedule on the training loss)."
        )
    else:
        parts = sorted({p for text in summ["protocol"] for p in str(text).split("; ") if p})
        text = (
            f"Not the paper's protocol ({'; '.join(parts)}): Δ compares another protocol with "
            "the published numbers, so it is not coloured as a reproduction."
        )
    text = " ".join([text, *said])
    if "from_released" in summ.columns and bool(summ["from_released"].all()):
        return f"{RELEASED_TEXT} {text}"
    return text


def headline_text(summ: pd.DataFrame) -> str:
    parts = []
    for model, h in headline(summ).items():
        if h["n_datasets"] == 0:
            parts.append(f"{DISPLAY[model]}: no dataset of the paper")
            continue
        text = (
            f"{DISPLAY[model]}: median |Δ| {h['median_abs_diff_points']:.2f} points, "
            f"mean Δ {signed_points(h['mean_diff_points'])} points, "
            f"{h['within_1_5_points']}/{h['n_datasets']} datasets within 1.5 points "
            f"(mean accuracy {h['mean_selected']:.4f} vs "
            f"{'the bake-off' if is_baseline(model) else 'published'} {h['mean_published']:.4f})"
        )
        if h.get("flagged_runs"):
            text += (
                f"; {h['flagged_runs']} selected run(s) flagged as failed, without them median "
                f"|Δ| {h['median_abs_diff_points_unflagged']:.2f} points over "
                f"{h['n_datasets_unflagged']} datasets"
            )
        if "outside_seeds" in h:
            text += f"; the bake-off outside what our seeds explain on {outside_phrase(h)}"
        if not math.isnan(h.get("median_abs_diff_points_recalibrated", math.nan)):
            text += (
                f"; BN-recalibrated variant median |Δ| "
                f"{h['median_abs_diff_points_recalibrated']:.2f} points"
            )
        parts.append(text)
    return f"{protocol_text(summ)} {seeds_text(summ)} " + "; ".join(parts) + "."


def outside_phrase(h: dict) -> str:
    """Where a baseline's bake-off value lies outside what our seeds explain, of the datasets
    that can be judged (a headline entry: ``outside_seeds``, ``n_judged``)."""
    outside = h["outside_seeds"]
    return (
        f"{len(outside)} of the {h['n_judged']} datasets that can be judged (two seeds or more "
        "and a bake-off value)" + (f": {', '.join(outside)}" if outside else "")
    )


def seeds_text(summ: pd.DataFrame) -> str:
    """How many datasets and seeds the table averages, in one sentence: the reproduced
    models', then each baseline's (which may cover other datasets, with other seeds)."""
    said = [seeds_phrase(summ["n_seeds"])]
    for m in _models(summ):
        if is_baseline(m) and f"{m}_n_seeds" in summ.columns and len(_models(summ)) > 1:
            said.append(f"{DISPLAY[m]}: {seeds_phrase(summ[f'{m}_n_seeds'])}")
    return "; ".join(said) + "."


def seed_counts(n_seeds: pd.Series) -> str:
    """How many datasets have each number of seeds: "1 seed on 11, 3 seeds on 9"."""
    counts = n_seeds[n_seeds > 0].astype(int).value_counts().sort_index()
    return ", ".join(f"{n} seed{'s' if n > 1 else ''} on {k}" for n, k in counts.items())


def seeds_phrase(n_seeds: pd.Series) -> str:
    """The datasets with a seed, and :func:`seed_counts`: "20 datasets (1 seed on 11, …)"."""
    n = int((n_seeds > 0).sum())
    return f"{n} dataset{'s' if n != 1 else ''} ({seed_counts(n_seeds)})"


def fmt_acc(v: object) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.4f}"


def _fmt_mean_std(mean: object, std: object) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{float(mean):.4f}"
    return f"{float(mean):.4f} ± {float(std):.4f}"


def signed_points(points: object) -> str:
    """A difference in accuracy points with its sign, two decimals; never ``-0.00`` (a
    difference that rounds to zero is ``+0.00``); ``—`` when missing."""
    if points is None or (isinstance(points, float) and math.isnan(points)):
        return "—"
    text = f"{float(points):+.2f}"
    return "+0.00" if text == "-0.00" else text


def _fmt_diff(v: object) -> str:
    return signed_points(None if v is None else float(v) * 100)


def _diff_class(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "na"
    if abs(float(v)) <= WITHIN + 1e-12:
        return "within"
    return "better" if float(v) > 0 else "worse"


def _cells_of(summ: pd.DataFrame, model: str) -> list[int]:
    prefix, suffix = f"{model}_c", "_mean"
    found = []
    for c in summ.columns:
        if c.startswith(prefix) and c.endswith(suffix):
            mid = c[len(prefix) : -len(suffix)]
            if mid.isdigit():
                found.append(int(mid))
    return sorted(found)


Cell = tuple[str, str]  # text, css class


def _models(summ: pd.DataFrame) -> list[str]:
    return [m for m in MODELS if f"{m}_selected_mean" in summ.columns]


def _ours_cells(summ: pd.DataFrame, r: pd.Series, m: str) -> list[Cell]:
    """A model's selected mean ± std, published value, Δ and flagged count for one dataset."""
    d = r[f"{m}_diff"]
    flagged = r.get(f"{m}_flagged")
    if is_baseline(m):  # never flagged as failed; flagged where seeds cannot explain Δ
        flag = "outside seeds" if is_true(r.get(f"{m}_outside_seeds")) else "—"
    else:
        flag = f"{int(flagged)}" if flagged else "—"
    return [
        (_fmt_mean_std(r[f"{m}_selected_mean"], r[f"{m}_selected_std"]), "num sel"),
        (fmt_acc(r.get(PUBLISHED_AS[m])), "num"),
        (_fmt_diff(d), f"num diff {_diff_class(d) if papers_protocol(summ) else 'na'}"),
        (flag, "num"),
    ]


def _main_rows(summ: pd.DataFrame) -> tuple[list[str], list[list[Cell]]]:
    """The compact table: per dataset its seeds and, per model, ours, published, Δ, flagged."""
    header = ["Dataset", "seeds"]
    for m in _models(summ):
        name = DISPLAY[m]
        published = "bake-off" if is_baseline(m) else "published"  # its reference's source
        header += [f"{name} ours", f"{name} {published}", f"{name} Δ", f"{name} flagged"]
    rows = []
    for ds, r in summ.iterrows():
        seeds = int(r["n_seeds"])
        mark = SPLIT_MARK if ds in splits.EXCHANGED_SINCE_2015 else ""
        cells: list[Cell] = [(f"{ds}{mark}", "name"), (str(seeds) if seeds else "—", "num")]
        for m in _models(summ):
            cells += _ours_cells(summ, r, m)
        rows.append(cells)
    return header, rows


def _detail_rows(summ: pd.DataFrame) -> tuple[list[str], list[list[Cell]]]:
    """The detail table: per model every cells count, the cells chosen per seed and the
    BN-recalibrated variant; then the paper's 2017 baselines."""
    models = [m for m in _models(summ) if not is_baseline(m)]  # no cells, no BatchNorm
    header = ["Dataset"]
    for m in models:
        name = DISPLAY[m]
        header += [f"{name} c{c}" for c in _cells_of(summ, m)]
        header += [f"{name} cells chosen", f"{name} BN-recalibrated"]
    baselines = [c for c in published_methods() if c not in set(PUBLISHED_AS.values())]
    header += baselines
    rows = []
    for ds, r in summ.iterrows():
        cells: list[Cell] = [(str(ds), "name")]
        for m in models:
            for c in _cells_of(summ, m):
                cells.append((_fmt_mean_std(r[f"{m}_c{c}_mean"], r[f"{m}_c{c}_std"]), "num"))
            sc = r[f"{m}_selected_cells"]
            cells.append((str(sc) if isinstance(sc, str) else "—", "cells"))
            cells.append((fmt_acc(r.get(f"{m}_recalibrated_mean")), "num"))
        cells += [(fmt_acc(r.get(b)), "num") for b in baselines]
        rows.append(cells)
    return header, rows


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em;
       max-width: 76em; }
p.caption { max-width: 76em; font-size: 0.9em; }
div.wide { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.8em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.35em; }
th { background: #f0f0f0; position: sticky; top: 0; cursor: pointer; vertical-align: bottom; }
th[data-sort="asc"]::after { content: " ▲"; }
th[data-sort="desc"]::after { content: " ▼"; }
td.num, td.cells { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sel { font-weight: 600; }
td.within { background: #e3f2e1; }
td.better { background: #c8e6c9; color: #1b5e20; }
td.worse { background: #ffcdd2; color: #b71c1c; }
tr:nth-child(even) td.name { background: #fafafa; }
span.legend { padding: 0 0.4em; }
"""

#: Click a header to sort its table by that column (numbers as numbers, text such as "—"
#: after them either way); again to reverse. Plain DOM, no library, so the page stays one file.
SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th, i) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
    var key = function (r) {
      var text = r.cells[i].textContent.trim(), n = parseFloat(text.replace("\u2212", "-"));
      return isNaN(n) ? text : n;
    };
    var asc = th.dataset.sort !== "asc";
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), c;
      if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }
      c = x < y ? -1 : x > y ? 1 : 0;
      return asc ? c : -c;
    });
    th.closest("tr").querySelectorAll("th").forEach(function (h) { delete h.dataset.sort; });
    th.dataset.sort = asc ? "asc" : "desc";
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _html_table(header: list[str], rows: list[list[Cell]], css_class: str) -> list[str]:
    e = html.escape
    out = [
        f'<table class="{css_class} sortable">',
        "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for cells in rows:
        out.append(
            "<tr>"
            + "".join(
                f'<td class="{c}">{breakable_name(text) if c == "name" else e(text)}</td>'
                for text, c in cells
            )
            + "</tr>"
        )
    return out + ["</tbody>", "</table>"]


def breakable_name(name: str) -> str:
    """A dataset's name as HTML that may wrap between its words (DistalPhalanx|OutlineTW), so
    that a table of many columns still fits the window; its text is unchanged."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "<wbr>", html.escape(name))


def render_html(summ: pd.DataFrame) -> str:
    """A standalone HTML page: the compact table (fits 1280 px), then the detail table (every
    cells count, the cells chosen, the BN-recalibrated variant, the 2017 baselines), both
    sortable by any column; no timestamps."""
    e = html.escape
    caption = (
        f"<b>Test accuracy per dataset.</b> {e(SELECTION_RULE)} "
        f"Δ colour: <span class='legend' style='background:#e3f2e1'>|Δ| ≤ 1.5</span>"
        f"<span class='legend' style='background:#c8e6c9'>above published</span>"
        f"<span class='legend' style='background:#ffcdd2'>below published</span>. "
        f"Published: the authors' leak-free rerun. Click a column's header to sort by it. "
        f"{e(split_note(summ))}"
        f"<br><b>Headline:</b> {e(headline_text(summ))}"
    )
    detail_caption = (
        "<b>Details.</b> Every cells count (mean ± std over seeds), the cells chosen per seed, "
        "the BN-recalibrated variant (not the paper's protocol) and the 2017 baselines of the "
        "paper's table (FCN is the column headed CNN there)."
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>LSTM-FCN / ALSTM-FCN results</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f'<p class="caption">{caption}</p>',
        *_html_table(*_main_rows(summ), "summary"),
        f'<p class="caption">{detail_caption}</p>',
        '<div class="wide">',
        *_html_table(*_detail_rows(summ), "detail"),
        "</div>",
        f"<script>{SORT_JS}</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)


def flagged_runs(long: pd.DataFrame) -> list[str]:
    """One Markdown line per run that evaluation flagged as failed, selected or not."""
    out = []
    for _, r in long[long["flags"] != ""].iterrows():
        recal = r["recalibrated_accuracy"]
        out.append(
            f"- {r['dataset']} {DISPLAY.get(r['model'], r['model'])} c{r['cells']} seed "
            f"{r['seed']}: {r['flags']} (test {r['accuracy']:.4f}; training split "
            f"{fmt_acc(r['train_accuracy'])} in training mode, "
            f"{fmt_acc(r['train_accuracy_inference'])} in inference mode; BN-recalibrated "
            f"test {fmt_acc(recal)})"
        )
    return out


def render_markdown(summ: pd.DataFrame, long: pd.DataFrame | None = None) -> str:
    """The results table as GitHub-flavoured Markdown, with the rule and headline above it
    and, given the runs (``long``), the list of runs flagged as failed below it. The compact
    table only: the detail table is in ``summary.html`` and ``summary.csv``."""
    header, rows = _main_rows(summ)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(header) - 1)
    out = [
        "# Test accuracy per dataset",
        "",
        SELECTION_RULE,
        "",
        *([split_note(summ), ""] if split_note(summ) else []),
        f"**Headline:** {headline_text(summ)}",
        "",
        line(header),
        "| " + " | ".join(align) + " |",
    ]
    out += [line([t for t, _ in cells]) for cells in rows]
    if long is not None:
        flagged = flagged_runs(long)
        out += ["", f"**Runs flagged as failed:** {len(flagged) or 'none'}", "", *flagged]
    return "\n".join(out) + "\n"
