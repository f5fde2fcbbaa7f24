"""Data-layer faults, each on real files and real transfers: a damaged prepared dataset, an
unusable --root/--cache, format errors naming the source, downloads cut short or stalled, zip
bombs, a one-class training split. Every case gives one error line and leaves nothing behind."""

from __future__ import annotations

import http.server
import json
import os
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import demo_ts, leftovers, make_tsc_zip

from lstmfcn_bench.atomic import sha256_file
from lstmfcn_bench.cli import main
from lstmfcn_bench.data import acquire, dataset, download, extract
from lstmfcn_bench.data.acquire import fetch_raw
from lstmfcn_bench.data.dataset import load, prepare
from lstmfcn_bench.data.formats import read_split
from lstmfcn_bench.data.preprocess import prepare_splits
from lstmfcn_bench.errors import ArchiveError, DataFormatError, DownloadError, LstmfcnError


def fetch(tmp_path: Path, *args: str, root: Path | None = None, cache: Path | None = None):
    """`lstmfcn fetch ... --quiet` → exit status (root and cache default under tmp_path)."""
    root = root or tmp_path / "data"
    cache = cache or tmp_path / "cache"
    return main(["fetch", *args, "--root", str(root), "--cache", str(cache), "--quiet"])


def error_line(capsys) -> str:
    """The CLI's stderr, which must be exactly one line."""
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err.rstrip("\n")


def nothing_left(*folders: Path) -> None:
    for folder in folders:
        assert not folder.exists() or leftovers(folder) == [], leftovers(folder)


def no_dot_files(folder: Path) -> None:
    """No temporary or lock file anywhere under ``folder``."""
    assert not [p for p in leftovers(folder) if p.startswith(".") or "/." in p]


# --- 1. a damaged prepared dataset ---------------------------------------------------------------


def _damage(kind: str, folder: Path) -> str:
    """Damage a prepared dataset one way; returns what load must say is wrong."""
    data, meta = folder / "data.npz", folder / "meta.json"
    recorded = json.loads(meta.read_text())["data_sha256"]
    if kind == "meta not JSON":
        meta.write_text('{"name": "GunPoint", "data_sha')  # cut short
        return (
            "meta.json is not valid JSON (Unterminated string starting at: line 1 column 22 "
            "(char 21))"
        )
    if kind == "data missing":
        data.unlink()
        return "data.npz is missing"
    if kind == "data truncated":
        data.write_bytes(data.read_bytes()[:1000])
    else:  # a valid npz, but not the one meta.json vouches for
        with np.load(data) as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays["X_train"][0, 0] += 1
        np.savez(data, **arrays)
    actual = sha256_file(data)
    return (
        f"data.npz has sha256 {actual}, but meta.json records {recorded} (truncated or overwritten)"
    )


@pytest.mark.parametrize("kind", ["meta not JSON", "data missing", "data truncated", "data other"])
def test_damaged_prepared_dataset_is_reported_and_refetched(tmp_path, kind):
    root, cache = tmp_path / "data", tmp_path / "cache"
    folder = prepare("GunPoint", root, cache_dir=cache, progress=False)
    good = load("GunPoint", root)
    what = _damage(kind, folder)
    with pytest.raises(LstmfcnError) as e:
        load("GunPoint", root)
    assert str(e.value) == (
        f"prepared dataset {folder} is damaged: {what}; its meta.json was removed so that the "
        f"workflow fetches it again on its next run; or fetch it again now: lstmfcn fetch "
        f"GunPoint --root {root}"
    )
    # the "complete" marker is gone, so the workflow's fetch rule sees its output missing
    assert not (folder / "meta.json").exists()
    no_dot_files(root)
    with pytest.raises(LstmfcnError, match="has not been fetched"):
        load("GunPoint", root)
    # fetching again over the damaged folder repairs it
    prepare("GunPoint", root, cache_dir=cache, progress=False)
    again = load("GunPoint", root)
    np.testing.assert_array_equal(again.X_train, good.X_train)
    assert again.meta == good.meta
    assert sorted(p.name for p in folder.iterdir()) == ["data.npz", "meta.json"]
    no_dot_files(root)
    no_dot_files(cache)


def test_damaged_dataset_keeps_a_meta_json_written_since(tmp_path):
    """A load that finds damage must not remove the marker of a fetch that replaced it."""
    folder = prepare("GunPoint", tmp_path / "data", cache_dir=tmp_path / "c", progress=False)
    meta = folder / "meta.json"
    fresh = meta.read_bytes()
    dataset._drop_marker(meta, b"{}")  # what this load read is no longer there
    assert meta.read_bytes() == fresh
    dataset._drop_marker(meta, fresh)
    assert not meta.exists()


# --- 2. an unusable --root or --cache is found before any download -------------------------------


@pytest.mark.parametrize("where", ["root is a file", "root under a file", "cache is a file"])
def test_unusable_root_or_cache_stops_before_any_download(tmp_path, server, capsys, where):
    make_tsc_zip(server.root / "GunPoint.zip")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    before = leftovers(tmp_path)
    cache = tmp_path / "cache"
    if where == "root is a file":
        code = fetch(tmp_path, "GunPoint", "--source", server.url, root=blocker)
        expected = (
            f"--root {blocker}: dataset folder {blocker}/GunPoint cannot be made: "
            f"{blocker} is a file"
        )
    elif where == "root under a file":
        code = fetch(tmp_path, "GunPoint", "--source", server.url, root=blocker / "data")
        expected = (
            f"--root {blocker}/data: dataset folder {blocker}/data/GunPoint cannot be made: "
            f"{blocker} is a file"
        )
    else:
        code = fetch(tmp_path, "GunPoint", "--source", server.url, cache=blocker)
        expected = f"download cache (--cache) {blocker} is a file; expected a folder"
    assert code == 2
    assert error_line(capsys) == f"lstmfcn fetch: error: {expected}"
    assert server.requests == []  # nothing downloaded
    assert leftovers(tmp_path) == before  # nothing created
    assert blocker.read_text() == "a file, not a folder\n"
    assert not cache.exists() and not (tmp_path / "data").exists()


# --- 3. a format error names the source, not the discarded cache copy ----------------------------


def _ts_with_bad_cell(split: str) -> tuple[bytes, int]:
    """GunPoint's split with a non-numeric first cell on its 3rd data row; (bytes, line no.)."""
    lines = demo_ts("GunPoint", split).decode().splitlines()
    k = lines.index("@data") + 3
    lines[k] = "abc," + lines[k].split(",", 1)[1]
    return ("\n".join(lines) + "\n").encode(), k + 1


def _bad_source(kind: str, tmp_path: Path, server) -> tuple[str, str]:
    """A source whose TRAIN file is malformed → (--source value, where the message points)."""
    train, _ = _ts_with_bad_cell("TRAIN")
    test = demo_ts("GunPoint", "TEST")
    if kind == "http zip":
        with zipfile.ZipFile(server.root / "GunPoint.zip", "w") as zf:
            zf.writestr("GunPoint/GunPoint_TRAIN.ts", train)
            zf.writestr("GunPoint/GunPoint_TEST.ts", test)
        return server.url, f"GunPoint/GunPoint_TRAIN.ts in {server.url}/GunPoint.zip"
    if kind == "ucr2018 zip":
        path = tmp_path / "src" / "UCRArchive_2018.zip"
        path.parent.mkdir()
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("UCRArchive_2018/GunPoint/GunPoint_TRAIN.ts", train)
            zf.writestr("UCRArchive_2018/GunPoint/GunPoint_TEST.ts", test)
        return str(path), f"UCRArchive_2018/GunPoint/GunPoint_TRAIN.ts in {path}"
    folder = tmp_path / "src" / "Gun_Point"  # the 2015 name: the cache copy is renamed
    folder.mkdir(parents=True)
    (folder / "Gun_Point_TRAIN.ts").write_bytes(train)
    (folder / "Gun_Point_TEST.ts").write_bytes(test)
    return str(folder.parent), str(folder / "Gun_Point_TRAIN.ts")


@pytest.mark.parametrize("kind", ["http zip", "ucr2018 zip", "directory"])
def test_format_error_names_the_source_and_member(tmp_path, server, capsys, kind):
    source, where = _bad_source(kind, tmp_path, server)
    _, lineno = _ts_with_bad_cell("TRAIN")
    assert fetch(tmp_path, "GunPoint", "--source", source) == 2
    line = error_line(capsys)
    assert line == (
        f"lstmfcn fetch: error: {where}, line {lineno}: non-numeric value 'abc' in column 1"
    )
    assert str(tmp_path / "cache") not in line
    nothing_left(tmp_path / "data", tmp_path / "cache")


def test_relabel_keeps_a_message_without_cache_paths():
    raw = acquire.RawFiles(
        "GunPoint",
        Path("/c/raw/GunPoint/GunPoint_TRAIN.tsv"),
        Path("/c/raw/GunPoint/GunPoint_TEST.tsv"),
        "http://h/UCRArchive_2018.zip",
        "0" * 64,
        "ucr2018",
        (
            "UCRArchive_2018/GunPoint/GunPoint_TRAIN.tsv",
            "UCRArchive_2018/GunPoint/GunPoint_TEST.tsv",
        ),
    )
    assert raw.relabel("no training labels") == "no training labels"
    assert raw.relabel("test label '7' in /c/raw/GunPoint/GunPoint_TEST.tsv never occurs") == (
        "test label '7' in UCRArchive_2018/GunPoint/GunPoint_TEST.tsv in "
        "http://h/UCRArchive_2018.zip never occurs"
    )


# --- a hand-written real HTTP server, for answers SimpleHTTPRequestHandler never gives ----------


class _Raw:
    def __init__(self):
        self.routes: dict = {}  # path → function(handler) that writes the whole answer
        self.release = threading.Event()  # lets a stalled answer finish
        self.url = ""


@pytest.fixture
def raw_http():
    raw = _Raw()

    class Handler(http.server.BaseHTTPRequestHandler):  # HTTP/1.0: the connection closes
        def do_GET(self):
            raw.routes[self.path](self)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    raw.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield raw
    raw.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _answer(body: bytes, send: int, length: int | None, stall: threading.Event | None = None):
    """An answer with ``send`` bytes of ``body`` and the given Content-Length (None: none),
    then (with ``stall``) no more bytes until released."""

    def answer(handler):
        handler.send_response(200)
        if length is not None:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.write(body[:send])
        handler.wfile.flush()
        if stall is not None:
            stall.wait(10)

    return answer


# --- 4. a download cut short without a Content-Length ---------------------------------------------


def test_cut_short_download_without_content_length(tmp_path, raw_http, capsys):
    data = make_tsc_zip(tmp_path / "good.zip").read_bytes()
    raw_http.routes["/GunPoint.zip"] = _answer(data, len(data) // 2, None)
    assert fetch(tmp_path, "GunPoint", "--source", raw_http.url) == 2
    assert error_line(capsys) == (
        f"lstmfcn fetch: error: {raw_http.url}/GunPoint.zip is not a readable zip archive "
        "(corrupt or truncated?): File is not a zip file; the server sent no Content-Length to "
        "check the download against, so the transfer may have been cut short: try again"
    )
    nothing_left(tmp_path / "data", tmp_path / "cache")

    # the whole body without a Content-Length is fine, and no hint is given where one was sent
    raw_http.routes["/GunPoint.zip"] = _answer(data, len(data), None)
    assert fetch(tmp_path, "GunPoint", "--source", raw_http.url) == 0
    raw_http.routes["/x/GunPoint.zip"] = _answer(b"<html>not a zip</html>", 22, 22)
    with pytest.raises(ArchiveError) as e:
        fetch_raw("GunPoint", raw_http.url + "/x/", tmp_path / "c2", progress=False)
    assert "Content-Length" not in str(e.value)
    nothing_left(tmp_path / "c2")


# --- 5. bytes that arrived are counted, stalled or cut short -------------------------------------


def test_stalled_download_reports_the_bytes_that_arrived(tmp_path, raw_http, monkeypatch, capsys):
    monkeypatch.setattr(download, "_TIMEOUT_S", 0.5)
    body = os.urandom(300_000)
    raw_http.routes["/GunPoint.zip"] = _answer(body, 100_000, len(body), raw_http.release)
    assert fetch(tmp_path, "GunPoint", "--source", raw_http.url) == 2
    assert error_line(capsys) == (
        f"lstmfcn fetch: error: download of {raw_http.url}/GunPoint.zip failed after 100000 of "
        "300000 bytes: timed out"
    )
    nothing_left(tmp_path / "data", tmp_path / "cache")


def test_short_body_over_several_chunks_is_reported_as_truncated(tmp_path, server):
    body = os.urandom(3 << 20)  # three read chunks' worth
    (server.root / "GunPoint.zip").write_bytes(body)
    server.truncate.add("/GunPoint.zip")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as e:
        fetch_raw("GunPoint", server.url, cache, progress=False)
    assert str(e.value) == (
        f"truncated download of {server.url}/GunPoint.zip: got {len(body) // 2} of "
        f"{len(body) + 1000} bytes; try again"
    )
    nothing_left(cache)


# --- 6. zip bombs -------------------------------------------------------------------------------


def _bomb(path: Path) -> int:
    """GunPoint with a TRAIN member padded by 2 MiB of comment lines (compresses to a few KB);
    returns that member's size."""
    train = demo_ts("GunPoint", "TRAIN") + b"# padding\n" * (200 << 10)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("GunPoint_TRAIN.ts", train)
        zf.writestr("GunPoint_TEST.ts", demo_ts("GunPoint", "TEST"))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("GunPoint_TRAIN.ts")
    assert info.compress_size < info.file_size // 20  # a real, highly compressible member
    return info.file_size


@pytest.mark.parametrize("over_http", [False, True])
def test_member_declaring_too_many_bytes_is_refused(tmp_path, server, monkeypatch, over_http):
    monkeypatch.setattr(extract, "MAX_MEMBER_BYTES", 1 << 20)
    size = _bomb(server.root / "GunPoint.zip")
    source = server.url if over_http else server.root
    label = f"{server.url}/GunPoint.zip" if over_http else str(server.root / "GunPoint.zip")
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError) as e:
        fetch_raw("GunPoint", source, cache, progress=False)
    assert str(e.value) == (
        f"{label}: refusing member 'GunPoint_TRAIN.ts': it declares {size} bytes, more than the "
        "1048576 a split file may have (a zip bomb?); nothing was extracted"
    )
    nothing_left(cache)  # the unusable download is not kept either


def _declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size that ``member``'s local and central headers declare."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo(member).header_offset
    struct.pack_into("<I", data, offset + 22, size)  # local file header
    name = member.encode()
    central = data.find(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, size)  # central directory entry
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("over_http", [False, True])
def test_member_larger_than_it_declares_is_stopped(tmp_path, server, over_http):
    path = server.root / "GunPoint.zip"
    _bomb(path)
    _declare_size(path, "GunPoint_TRAIN.ts", 1 << 16)  # claims 64 KiB, inflates to 2 MiB
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("GunPoint_TRAIN.ts").file_size == 1 << 16
    source = server.url if over_http else server.root
    label = f"{server.url}/GunPoint.zip" if over_http else str(path)
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError) as e:
        fetch_raw("GunPoint", source, cache, progress=False)
    # zipfile stops at the declared size, then the CRC of the whole member fails
    assert str(e.value) == (
        f"{label}: cannot extract GunPoint_TRAIN.ts: Bad CRC-32 for file 'GunPoint_TRAIN.ts' "
        "(the archive is corrupt)"
    )
    nothing_left(cache)


# --- 7. a training split with a single class ------------------------------------------------------


def _one_class_train() -> bytes:
    lines = demo_ts("GunPoint", "TRAIN").decode().splitlines()
    start = lines.index("@data") + 1
    lines[start:] = [row.rsplit(":", 1)[0] + ":1" for row in lines[start:]]
    return ("\n".join(lines) + "\n").encode()


def test_one_class_training_split_is_refused_at_fetch(tmp_path, server, capsys):
    with zipfile.ZipFile(server.root / "GunPoint.zip", "w") as zf:
        zf.writestr("GunPoint_TRAIN.ts", _one_class_train())
        zf.writestr("GunPoint_TEST.ts", demo_ts("GunPoint", "TEST"))
    assert fetch(tmp_path, "GunPoint", "--source", server.url) == 2
    assert error_line(capsys) == (
        f"lstmfcn fetch: error: GunPoint_TRAIN.ts in {server.url}/GunPoint.zip: the training "
        "split has only 1 class ('1'); a classifier needs at least 2"
    )
    nothing_left(tmp_path / "data", tmp_path / "cache")


def test_prepare_splits_refuses_one_class_when_asked(tmp_path):
    (tmp_path / "X_TRAIN.ts").write_bytes(_one_class_train())
    (tmp_path / "X_TEST.ts").write_bytes(demo_ts("GunPoint", "TEST"))
    train, test = read_split(tmp_path / "X_TRAIN.ts"), read_split(tmp_path / "X_TEST.ts")
    with pytest.raises(DataFormatError) as e:
        prepare_splits(train, test, min_classes=2)
    assert str(e.value) == (
        f"{tmp_path / 'X_TRAIN.ts'}: the training split has only 1 class ('1'); a classifier "
        "needs at least 2"
    )
