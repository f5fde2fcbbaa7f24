"""fetch_raw on real zips built from the embedded demo data, over a real local HTTP server,
from directories and from file:// URLs. Nothing is mocked: every transfer is a real one."""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import DEMO, NAMES, demo_ts, leftovers, make_tsc_zip, sha, tsv

from lstmfcn_bench.data import checksums
from lstmfcn_bench.data.acquire import fetch_raw
from lstmfcn_bench.errors import (
    ArchiveError,
    ChecksumError,
    ConfigError,
    DownloadError,
    LstmfcnError,
)


def check(raw, name, train: bytes, test: bytes, layout: str):
    assert raw.name == name and raw.layout == layout
    assert raw.train.read_bytes() == train and raw.test.read_bytes() == test
    assert raw.train.parent.name == name and raw.train.parent.parent.name == "raw"


# --- each layout ---------------------------------------------------------------------------------


def test_default_source_is_the_embedded_demo_zip(tmp_path):
    raw = fetch_raw("GunPoint", None, tmp_path / "cache", progress=False)
    check(raw, "GunPoint", demo_ts("GunPoint", "TRAIN"), demo_ts("GunPoint", "TEST"), "tsc")
    assert raw.sha256 == checksums.known_checksums()["GunPoint.zip"]["sha256"]
    assert raw.sha256 == sha((DEMO / "GunPoint.zip").read_bytes())
    assert raw.train.name == "GunPoint_TRAIN.ts"


def test_checksum_table_covers_the_demo_zips():
    table = checksums.known_checksums()
    for name in NAMES:
        data = (DEMO / f"{name}.zip").read_bytes()
        assert table[f"{name}.zip"] == {"sha256": sha(data), "size": len(data), "origin": "demo"}


@pytest.mark.parametrize("folder", [False, True])
def test_tsc_zip_over_http_and_cache_reuse(tmp_path, server, folder):
    data = make_tsc_zip(server.root / "GunPoint.zip", folder=folder).read_bytes()
    cache = tmp_path / "cache"
    raw = fetch_raw("GunPoint", server.url, cache, progress=False)  # base URL, no slash
    check(raw, "GunPoint", demo_ts("GunPoint", "TRAIN"), demo_ts("GunPoint", "TEST"), "tsc")
    assert raw.sha256 == sha(data) and raw.source == f"{server.url}/GunPoint.zip"
    assert server.requests == ["/GunPoint.zip"]

    # the second call makes no request at all
    assert fetch_raw("GunPoint", server.url + "/", cache, progress=False) == raw
    assert server.requests == ["/GunPoint.zip"]

    # without the raw dir, the verified download is reused
    shutil.rmtree(cache / "raw")
    assert fetch_raw("GunPoint", server.url, cache, progress=False) == raw
    assert server.requests == ["/GunPoint.zip"]
    (cached,) = (cache / "downloads").glob("*/GunPoint.zip")
    assert cached.with_name("GunPoint.zip.sha256").read_text().split() == [
        sha(data),
        "GunPoint.zip",
    ]

    # a corrupted cached download is dropped and fetched again
    shutil.rmtree(cache / "raw")
    cached.write_bytes(data[:-1] + b"x")
    assert fetch_raw("GunPoint", server.url, cache, progress=False) == raw
    assert server.requests == ["/GunPoint.zip"] * 2
    assert cached.read_bytes() == data

    # a corrupted raw file is re-extracted
    raw.train.write_bytes(b"garbage")
    assert fetch_raw("GunPoint", server.url, cache, progress=False).train.read_bytes() == (
        demo_ts("GunPoint", "TRAIN")
    )
    assert not [p for p in leftovers(cache) if p.startswith(".") or "/." in p]


def test_ucr2018_archive_over_http_is_downloaded_once(tmp_path, server, ucr_zip):
    shutil.copy(ucr_zip, server.root / "UCRArchive_2018.zip")
    url = f"{server.url}/UCRArchive_2018.zip"
    cache = tmp_path / "cache"
    raw = fetch_raw("GunPoint", url, cache, progress=False)
    check(raw, "GunPoint", tsv("GunPoint", "TRAIN"), tsv("GunPoint", "TEST"), "ucr2018")
    assert raw.sha256 == sha(ucr_zip.read_bytes()) and raw.source == url
    assert raw.train.name == "GunPoint_TRAIN.tsv"
    other = fetch_raw("ItalyPowerDemand", url, cache, progress=False)
    check(
        other,
        "ItalyPowerDemand",
        tsv("ItalyPowerDemand", "TRAIN"),
        tsv("ItalyPowerDemand", "TEST"),
        "ucr2018",
    )
    assert server.requests == ["/UCRArchive_2018.zip"]
    # only the two needed members were extracted
    assert sorted(p.name for p in (cache / "raw").iterdir()) == ["GunPoint", "ItalyPowerDemand"]


def test_concurrent_preparations_share_one_download(tmp_path, server, ucr_zip):
    shutil.copy(ucr_zip, server.root / "UCRArchive_2018.zip")
    url = f"{server.url}/UCRArchive_2018.zip"
    cache = tmp_path / "cache"
    # flock locks belong to open file descriptions, so threads contend like processes do
    jobs = [*NAMES, "GunPoint"]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda n: fetch_raw(n, url, cache, progress=False), jobs))
    assert server.requests == ["/UCRArchive_2018.zip"]
    for name, raw in zip(jobs, results, strict=True):
        check(raw, name, tsv(name, "TRAIN"), tsv(name, "TEST"), "ucr2018")
    assert not [p for p in leftovers(cache) if p.startswith(".")]


def test_concurrent_processes_share_one_download(tmp_path, server, ucr_zip):
    shutil.copy(ucr_zip, server.root / "UCRArchive_2018.zip")
    url = f"{server.url}/UCRArchive_2018.zip"
    cache = tmp_path / "cache"
    code = "import sys; from lstmfcn_bench.data.acquire import fetch_raw; " + (
        "fetch_raw(sys.argv[1], sys.argv[2], sys.argv[3], progress=False)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, name, url, str(cache)]) for name in NAMES
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * len(NAMES)
    assert server.requests == ["/UCRArchive_2018.zip"]
    for name in NAMES:
        raw = fetch_raw(name, url, cache, progress=False)
        check(raw, name, tsv(name, "TRAIN"), tsv(name, "TEST"), "ucr2018")
    assert server.requests == ["/UCRArchive_2018.zip"]
    assert not [p for p in leftovers(cache) if p.startswith(".")]


def test_replaced_local_archive_is_extracted_again(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    zpath = make_tsc_zip(src / "GunPoint.zip")
    cache = tmp_path / "cache"
    first = fetch_raw("GunPoint", src, cache, progress=False)
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("GunPoint_TRAIN.ts", b"new train")
        zf.writestr("GunPoint_TEST.ts", b"new test")
    second = fetch_raw("GunPoint", src, cache, progress=False)
    assert second.sha256 != first.sha256 and second.train.read_bytes() == b"new train"


def test_invalid_name(tmp_path):
    with pytest.raises(ConfigError, match="invalid dataset name"):
        fetch_raw("../GunPoint", None, tmp_path / "cache", progress=False)


def _build_dir(kind: str, root: Path, ucr_tree: Path) -> tuple[bytes, bytes, str, str]:
    """A source directory of one kind → (train bytes, test bytes, layout, train file name)."""
    ts = (demo_ts("GunPoint", "TRAIN"), demo_ts("GunPoint", "TEST"))
    tv = (tsv("GunPoint", "TRAIN"), tsv("GunPoint", "TEST"))
    if kind == "tsc_zip":
        make_tsc_zip(root / "GunPoint.zip", folder=True)
        return *ts, "tsc", "GunPoint_TRAIN.ts"
    if kind == "ucr_zip":
        shutil.copy(ucr_tree / "UCRArchive_2018.zip", root)
        return *tv, "ucr2018", "GunPoint_TRAIN.tsv"
    if kind == "ucr_tree":
        shutil.copytree(
            ucr_tree / "UCRArchive_2018" / "GunPoint", root / "UCRArchive_2018" / "GunPoint"
        )
        return *tv, "directory", "GunPoint_TRAIN.tsv"
    if kind == "name_dir":  # several formats: .ts wins
        d = root / "GunPoint"
        d.mkdir()
        for split, ts_data, tsv_data in zip(("TRAIN", "TEST"), ts, tv, strict=True):
            (d / f"GunPoint_{split}.ts").write_bytes(ts_data)
            (d / f"GunPoint_{split}.tsv").write_bytes(tsv_data)
            (d / f"GunPoint_{split}.arff").write_bytes(b"%\n")
            (d / f"GunPoint_{split}").write_bytes(b"2015\n")
        return *ts, "directory", "GunPoint_TRAIN.ts"
    assert kind == "ucr2015"  # the 2015 archive: 2015 folder name, no extension
    d = root / "Gun_Point"
    d.mkdir()
    rows = [t.replace(b"\t", b",") for t in tv]
    for split, data in zip(("TRAIN", "TEST"), rows, strict=True):
        (d / f"Gun_Point_{split}").write_bytes(data)
    return *rows, "directory", "GunPoint_TRAIN"


@pytest.mark.parametrize("kind", ["tsc_zip", "ucr_zip", "ucr_tree", "name_dir", "ucr2015"])
@pytest.mark.parametrize("as_url", [False, True])
def test_local_directory_layouts(tmp_path, ucr_tree, kind, as_url):
    src = tmp_path / "src"
    src.mkdir()
    train, test, layout, train_name = _build_dir(kind, src, ucr_tree)
    source = src.as_uri() if as_url else src
    cache = tmp_path / "cache"
    raw = fetch_raw("GunPoint", source, cache, progress=False)
    check(raw, "GunPoint", train, test, layout)
    assert raw.train.name == train_name
    if layout == "directory":
        assert raw.sha256 == sha(train + test)
        assert Path(raw.source).parent in (src, src / "UCRArchive_2018")
    else:
        assert raw.sha256 == sha(Path(raw.source).read_bytes())
    # the source directory is copied, not linked: the cache survives its removal
    shutil.rmtree(src)
    assert raw.train.read_bytes() == train


def test_zip_path_and_file_url(tmp_path, ucr_zip):
    for i, source in enumerate([ucr_zip, str(ucr_zip), ucr_zip.as_uri()]):
        raw = fetch_raw("GunPoint", source, tmp_path / f"c{i}", progress=False)
        check(raw, "GunPoint", tsv("GunPoint", "TRAIN"), tsv("GunPoint", "TEST"), "ucr2018")
        assert raw.sha256 == sha(ucr_zip.read_bytes())


def test_format_preference_in_a_directory(tmp_path):
    d = tmp_path / "src" / "GunPoint"
    d.mkdir(parents=True)
    for ext in (".tsv", ".arff", ".txt", ""):
        for split in ("TRAIN", "TEST"):
            (d / f"GunPoint_{split}{ext}").write_text(f"{split}{ext}\n")
    raw = fetch_raw("GunPoint", d.parent, tmp_path / "c1", progress=False)
    assert raw.train.name == "GunPoint_TRAIN.tsv" and raw.test.read_text() == "TEST.tsv\n"
    for ext in (".tsv", ".arff"):
        for split in ("TRAIN", "TEST"):
            (d / f"GunPoint_{split}{ext}").unlink()
    raw = fetch_raw("GunPoint", d.parent, tmp_path / "c2", progress=False)
    assert raw.train.name == "GunPoint_TRAIN.txt"


def test_changed_source_directory_is_copied_again(tmp_path):
    d = tmp_path / "src" / "GunPoint"
    d.mkdir(parents=True)
    (d / "GunPoint_TRAIN.tsv").write_text("1\t0.5\n")
    (d / "GunPoint_TEST.tsv").write_text("1\t0.5\n")
    cache = tmp_path / "cache"
    fetch_raw("GunPoint", d.parent, cache, progress=False)
    (d / "GunPoint_TEST.tsv").write_text("2\t0.25\n")
    raw = fetch_raw("GunPoint", d.parent, cache, progress=False)
    assert raw.test.read_text() == "2\t0.25\n"
    assert leftovers(cache) == sorted(
        [
            "raw",
            "raw/GunPoint",
            *(
                f"raw/GunPoint/{f}"
                for f in ("GunPoint_TEST.tsv", "GunPoint_TRAIN.tsv", "manifest.json")
            ),
        ]
    )


def test_progress_goes_to_stderr(tmp_path, server, capsys):
    make_tsc_zip(server.root / "GunPoint.zip")
    fetch_raw("GunPoint", server.url, tmp_path / "cache", progress=True)
    err = capsys.readouterr().err
    assert "downloading GunPoint.zip: 100%" in err and err.endswith("\n")
    fetch_raw("GunPoint", server.url, tmp_path / "quiet", progress=False)
    assert capsys.readouterr().err == ""


# --- verification failures leave nothing behind ---------------------------------------------------


def test_wrong_sha256_over_http(tmp_path, server):
    data = make_tsc_zip(server.root / "GunPoint.zip").read_bytes()
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as e:
        fetch_raw("GunPoint", server.url, cache, sha256=wrong, progress=False)
    assert sha(data) in str(e.value) and wrong in str(e.value)
    assert leftovers(cache) == []
    # the right one works
    assert fetch_raw("GunPoint", server.url, cache, sha256=sha(data), progress=False).sha256 == sha(
        data
    )


def test_wrong_sha256_local(tmp_path, ucr_tree):
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="0{64}"):
        fetch_raw(
            "GunPoint", ucr_tree / "UCRArchive_2018.zip", cache, sha256="0" * 64, progress=False
        )
    with pytest.raises(ChecksumError, match="train\\+test"):
        fetch_raw("GunPoint", ucr_tree / "UCRArchive_2018", cache, sha256="1" * 64, progress=False)
    assert leftovers(cache) == []


def test_known_checksum_table_is_enforced(tmp_path, server, monkeypatch):
    data = make_tsc_zip(server.root / "GunPoint.zip").read_bytes()
    table = {"GunPoint.zip": {"sha256": "f" * 64, "size": len(data), "origin": "tsc"}}
    monkeypatch.setattr(checksums, "known_checksums", lambda: table)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=f"{sha(data)}.*f{{64}}"):
        fetch_raw("GunPoint", server.url, cache, progress=False)
    assert leftovers(cache) == []
    # an entry of another origin does not apply (a mirror's zip is not the demo zip)
    table["GunPoint.zip"]["origin"] = "demo"
    assert fetch_raw("GunPoint", server.url, cache, progress=False).sha256 == sha(data)


def test_truncated_transfer(tmp_path, server):
    data = make_tsc_zip(server.root / "GunPoint.zip").read_bytes()
    server.truncate.add("/GunPoint.zip")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as e:
        fetch_raw("GunPoint", server.url, cache, progress=False)
    msg = str(e.value)
    assert f"{server.url}/GunPoint.zip" in msg
    assert f"got {len(data) // 2} of {len(data) + 1000} bytes" in msg
    assert leftovers(cache) == []


def test_http_404_and_connection_refused(tmp_path, server):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=f"{server.url}/GunPoint.zip: HTTP 404"):
        fetch_raw("GunPoint", server.url, cache, progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=f"http://127.0.0.1:{port}/x/GunPoint.zip"):
        fetch_raw("GunPoint", f"http://127.0.0.1:{port}/x/", cache, progress=False)
    assert leftovers(cache) == []


def _corrupt(kind: str, path: Path) -> None:
    if kind == "truncated":
        data = make_tsc_zip(path).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(b"<html>not a zip</html>" * 50)
    else:  # a flipped byte inside a stored member: the CRC check catches it
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("GunPoint_TRAIN.ts", demo_ts("GunPoint", "TRAIN"))
            zf.writestr("GunPoint_TEST.ts", demo_ts("GunPoint", "TEST"))
        data = bytearray(path.read_bytes())
        data[5000] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["truncated", "garbage", "crc"])
@pytest.mark.parametrize("over_http", [False, True])
def test_corrupt_zip(tmp_path, server, kind, over_http):
    _corrupt(kind, server.root / "GunPoint.zip")
    cache = tmp_path / "cache"
    source = server.url if over_http else server.root
    with pytest.raises(ArchiveError, match="GunPoint.zip") as e:
        fetch_raw("GunPoint", source, cache, progress=False)
    assert ("CRC" in str(e.value)) == (kind == "crc")
    assert leftovers(cache) == []  # the unusable download is not kept either


def test_wrong_password(tmp_path, server, ucr_zip):
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match="wrong password.*--password"):
        fetch_raw("GunPoint", ucr_zip, cache, password=b"nope", progress=False)
    assert leftovers(cache) == []

    # over HTTP the verified download is kept (the archive is fine), nothing else
    shutil.copy(ucr_zip, server.root / "UCRArchive_2018.zip")
    url = f"{server.url}/UCRArchive_2018.zip"
    with pytest.raises(ArchiveError, match="wrong password"):
        fetch_raw("GunPoint", url, cache, password=b"nope", progress=False)
    kept = [p for p in leftovers(cache) if not (cache / p).is_dir()]
    assert [Path(p).name for p in kept] == ["UCRArchive_2018.zip", "UCRArchive_2018.zip.sha256"]
    assert not (cache / "raw").exists()
    raw = fetch_raw("GunPoint", url, cache, password="someone", progress=False)
    assert raw.train.read_bytes() == tsv("GunPoint", "TRAIN")
    assert server.requests == ["/UCRArchive_2018.zip"]


def _evil_zip(path: Path, kind: str, outside: Path) -> str:
    """A per-dataset zip with one unsafe member; returns that member's name."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("GunPoint_TEST.ts", demo_ts("GunPoint", "TEST"))
        if kind == "symlink":
            info = zipfile.ZipInfo("GunPoint_TRAIN.ts")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, str(outside))
            return "GunPoint_TRAIN.ts"
        zf.writestr("GunPoint_TRAIN.ts", demo_ts("GunPoint", "TRAIN"))
        member = {
            "parent": "../evil.ts",
            "nested_parent": "GunPoint/../../evil.ts",
            "absolute": str(outside),
            "drive": "C:/evil.ts",
        }[kind]
        zf.writestr(member, b"evil")
    with zipfile.ZipFile(path) as zf:  # zipfile keeps the name as written
        assert member in zf.namelist()
    return member


@pytest.mark.parametrize("kind", ["parent", "nested_parent", "absolute", "drive", "symlink"])
@pytest.mark.parametrize("over_http", [False, True])
def test_unsafe_members_are_refused(tmp_path, server, kind, over_http):
    outside = tmp_path / "outside" / "evil.ts"
    member = _evil_zip(server.root / "GunPoint.zip", kind, outside)
    cache = tmp_path / "deep" / "cache"
    source = server.url if over_http else server.root
    with pytest.raises(ArchiveError, match="unsafe member") as e:
        fetch_raw("GunPoint", source, cache, progress=False)
    assert repr(member) in str(e.value)
    assert leftovers(cache) == []
    assert not outside.exists()
    assert not list(tmp_path.rglob("evil.ts")) and not (tmp_path / "outside").exists()


def test_unknown_directory_layout(tmp_path):
    src = tmp_path / "src"
    (src / "GunPoint").mkdir(parents=True)
    (src / "GunPoint" / "README.md").write_text("no data here\n")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError) as e:
        fetch_raw("GunPoint", src, cache, progress=False)
    msg = str(e.value)
    for looked in (
        "GunPoint.zip",
        "Gun_Point.zip",
        "UCRArchive_2018.zip",
        "UCRArchive_2018/GunPoint/",
        "GunPoint/GunPoint_TRAIN",
    ):
        assert looked in msg
    with pytest.raises(ConfigError, match="does not exist"):
        fetch_raw("GunPoint", tmp_path / "missing", cache, progress=False)
    with pytest.raises(ConfigError, match="no such archive"):
        fetch_raw("GunPoint", tmp_path / "missing.zip", cache, progress=False)
    with pytest.raises(ConfigError, match="unsupported"):
        fetch_raw("GunPoint", "ftp://example.org/x/", cache, progress=False)
    assert leftovers(cache) == []


def test_missing_split_and_missing_dataset(tmp_path, server, ucr_zip):
    cache = tmp_path / "cache"
    d = tmp_path / "src" / "GunPoint"
    d.mkdir(parents=True)
    (d / "GunPoint_TRAIN.ts").write_bytes(demo_ts("GunPoint", "TRAIN"))
    with pytest.raises(ConfigError, match="no TEST split"):
        fetch_raw("GunPoint", d.parent, cache, progress=False)
    with pytest.raises(ArchiveError, match="no complete Coffee dataset"):
        fetch_raw("Coffee", ucr_zip, cache, progress=False)
    with zipfile.ZipFile(server.root / "Coffee.zip", "w") as zf:
        zf.writestr("Coffee_TRAIN.ts", b"only one split")
    with pytest.raises(ArchiveError, match="no complete Coffee dataset"):
        fetch_raw("Coffee", server.url, cache, progress=False)
    assert leftovers(cache) == []


def test_errors_are_user_errors():
    for err in (DownloadError, ChecksumError, ArchiveError, ConfigError):
        assert issubclass(err, LstmfcnError)
