"""Take the documentation's pictures at 1280x800 in Debian's headless Chromium (apt-get install
chromium): the committed table (docs/img/table.png), the comparison with today's methods
(docs/img/today.png) and, given a results folder, what `lstmfcn status` prints there
(docs/img/status.png), drawn as a terminal would.

    python scripts/screenshots.py                      # table.png and today.png
    python scripts/screenshots.py results --config preset=ucr85 'seeds=[0]'   # and status.png
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
SIZE = (1280, 800)
TERMINAL = (
    "body{margin:0;background:#1e1e1e}"
    "pre{margin:0;padding:16px;color:#e6e6e6;font:15px/1.35 'DejaVu Sans Mono',monospace}"
)


def shoot(url: str, out: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots: needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={SIZE[0]},{SIZE[1]}",
             f"--screenshot={out}", url],
            check=True, capture_output=True,
        )  # fmt: skip
    print(f"{out.relative_to(REPO)}: {url}")


def status_page(args: list[str], out: Path) -> None:
    """``lstmfcn status ARGS`` as a terminal shows it, then its screenshot."""
    shown = subprocess.run(
        [sys.executable, "-m", "lstmfcn_bench.cli", "status", *args],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    prompt = "$ lstmfcn status " + " ".join(args)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "status.html"
        text = html.escape(prompt + "\n" + shown)
        page.write_text(f"<!DOCTYPE html><style>{TERMINAL}</style><pre>{text}</pre>", "utf-8")
        shoot(page.as_uri(), out)


def main(argv: list[str]) -> None:
    table = REPO / "reproduction" / "table"
    shoot((table / "summary.html").as_uri(), IMG / "table.png")
    shoot((table / "today.html").as_uri(), IMG / "today.png")
    if argv:
        status_page(argv, IMG / "status.png")


if __name__ == "__main__":
    main(sys.argv[1:])
