"""Shared test material: real UCR data (the package's embedded demo zips) rebuilt in every
archive layout, extracted, or prepared as `lstmfcn fetch` prepares it, and a real HTTP server
on 127.0.0.1 that counts requests."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import threading
import zipfile
from importlib import resources
from pathlib import Path

import pytest

import lstmfcn_bench
from lstmfcn_bench.data.dataset import prepare

DEMO = Path(lstmfcn_bench.__file__).parent / "resources" / "demo"
NAMES = ("GunPoint", "ItalyPowerDemand", "ArrowHead")


# --- real data in every layout ----------------------------------------------------------------


def demo_ts(name: str, split: str) -> bytes:
    with zipfile.ZipFile(DEMO / f"{name}.zip") as zf:
        return zf.read(f"{name}_{split}.ts")


def ts_to_tsv(data: bytes) -> bytes:
    """``v1,...,vT:label`` rows of a .ts file → the 2018 archive's ``label<TAB>v1<TAB>...``."""
    rows, in_data = [], False
    for line in data.decode().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            in_data = True
        elif in_data:
            values, label = line.rsplit(":", 1)
            rows.append("\t".join([label, *values.split(",")]))
    return ("\n".join(rows) + "\n").encode()


def tsv(name: str, split: str) -> bytes:
    return ts_to_tsv(demo_ts(name, split))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tsc_zip(path: Path, name: str = "GunPoint", folder: bool = False) -> Path:
    prefix = f"{name}/" if folder else ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in ("TRAIN", "TEST"):
            zf.writestr(f"{prefix}{name}_{split}.ts", demo_ts(name, split))
            zf.writestr(f"{prefix}{name}_{split}.arff", b"% less preferred than .ts\n")
    return path


@pytest.fixture(scope="session")
def ucr_tree(tmp_path_factory) -> Path:
    """A folder holding UCRArchive_2018/<Name>/<Name>_TRAIN.tsv and a ZipCrypto zip of it."""
    assert shutil.which("zip"), (
        "the `zip` tool is needed to build a ZipCrypto archive: apt-get install zip"
    )
    root = tmp_path_factory.mktemp("ucr")
    for name in NAMES:
        d = root / "UCRArchive_2018" / name
        d.mkdir(parents=True)
        for split in ("TRAIN", "TEST"):
            (d / f"{name}_{split}.tsv").write_bytes(tsv(name, split))
    subprocess.run(
        ["zip", "-q", "-r", "-P", "someone", "UCRArchive_2018.zip", "UCRArchive_2018"],
        cwd=root,
        check=True,
    )
    return root


@pytest.fixture
def ucr_zip(ucr_tree) -> Path:
    return ucr_tree / "UCRArchive_2018.zip"


# --- extracted and prepared, per test module --------------------------------------------------
# A module names what it needs: DEMO_EXTRACTED (the demo zips the `demo` fixture extracts) and
# PREPARED (the datasets `data_root` prepares).


@pytest.fixture(scope="module")
def demo(request, tmp_path_factory) -> Path:
    """The package's embedded demo zips, extracted: always available, even without /work/shared."""
    out = tmp_path_factory.mktemp("demo")
    for name in request.module.DEMO_EXTRACTED:
        ref = resources.files("lstmfcn_bench").joinpath("resources", "demo", f"{name}.zip")
        with ref.open("rb") as f, zipfile.ZipFile(f) as z:
            z.extractall(out)
    return out


@pytest.fixture(scope="module")
def data_cache(tmp_path_factory) -> Path:
    """The test module's own download cache, which `data_root` prepares through."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def data_root(request, tmp_path_factory, data_cache) -> Path:
    """The module's PREPARED datasets prepared offline from the embedded demo zips, as
    ``lstmfcn fetch`` prepares them."""
    root = tmp_path_factory.mktemp("data")
    for name in request.module.PREPARED:
        prepare(name, root, cache_dir=data_cache, progress=False)
    return root


# --- a real HTTP server -------------------------------------------------------------------------


class Server:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        self.truncate: set[str] = set()  # paths answered with a too-large Content-Length
        self.url = ""


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "srv")
    srv.root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(srv.root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            srv.requests.append(self.path)
            if self.path in srv.truncate:
                body = (srv.root / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + 1000))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield srv
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def run_until(cmd: list[str], prefix: str, sig: int, env: dict | None = None) -> tuple[int, str]:
    """Start `cmd`, send `sig` once it prints a line starting with `prefix`; return (exit
    status, everything it printed)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(prefix):
            proc.send_signal(sig)
            break
    lines.extend(proc.stdout)
    return proc.wait(timeout=300), "".join(lines)


def leftovers(cache: Path) -> list[str]:
    """Everything under the cache, dirs included: an error must leave nothing behind."""
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*"))


# --- order ------------------------------------------------------------------------------------

#: The longest files (minutes each in CI), started first, so that scripts/test's two workers
#: (pytest-xdist, whole files each) share them out first and are less likely to end with one
#: of them running the slowest alone.
LONGEST_FIRST = ("test_slurm.py", "test_jax_engine.py", "test_workflow.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every file keeps its own order


# --- a real browser ------------------------------------------------------------------------------


@pytest.fixture
def chromium(tmp_path):
    """Open pages in Debian's headless Chromium: ``chromium(width, height)`` gives a driver with
    that window size (closed after the test). Skips outside CI without it; in CI it must exist."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver_bin):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have Debian's chromium and chromium-driver (see .ci/run)")
        pytest.skip(
            "needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
        )
    browsers = []

    def open_browser(width: int = 1280, height: int = 800):
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--user-data-dir={tmp_path / f'profile{len(browsers)}'}",
        ):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=webdriver.ChromeService(driver_bin), options=options)
        browsers.append(browser)
        return browser

    yield open_browser
    for browser in browsers:
        browser.quit()
