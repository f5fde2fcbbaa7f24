"""The data layer end to end through the CLI: registry, `lstmfcn datasets`, `lstmfcn fetch`
from a real local mirror, and every bad input leaving no output and no cache entry."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import demo_ts, leftovers, make_tsc_zip

from lstmfcn_bench.cli import main
from lstmfcn_bench.data import registry
from lstmfcn_bench.data.dataset import load


def test_registry_has_the_128_datasets_with_official_facts():
    reg = registry.registry()
    assert len(reg) == 128
    gp = reg["GunPoint"]
    assert (gp.n_train, gp.n_test, gp.n_classes, gp.length) == (50, 150, 2, 150)
    assert reg["PLAID"].variable_length and reg["PLAID"].length_label == "variable"
    assert sum(i.variable_length for i in reg.values()) == 11


def test_every_published_name_maps_to_a_distinct_2018_name():
    old = registry.published_names_2015()
    assert len(old) == 85
    new = [registry.canonical_name(n) for n in old]
    assert len(set(new)) == 85 and set(new) <= set(registry.registry())
    assert registry.canonical_name("Gun_Point") == "GunPoint"
    assert registry.canonical_name("50words") == "FiftyWords"
    assert registry.canonical_name("StarlightCurves") == "StarLightCurves"
    assert registry.canonical_name("NonInvasiveFatalECG_Thorax1") == "NonInvasiveFetalECGThorax1"
    assert registry.canonical_name("car") == "Car"
    assert registry.canonical_name("gunpoint") == "GunPoint"


def test_unknown_name_suggests_close_ones():
    with pytest.raises(registry.UnknownDatasetError, match="Did you mean: GunPoint"):
        registry.canonical_name("GunPiont")


def test_datasets_cli_lists_the_paper_preset(capsys):
    assert main(["datasets", "--preset", "ucr85"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    rows = out[1:-2]  # then the note on the 14 marked * and the count
    assert len(rows) == 85 and out[-1].startswith("85 datasets")
    names_2018 = {r.split()[0] for r in rows}
    assert names_2018 == set(registry.preset("ucr85"))
    assert all(r.split()[1] != "-" for r in rows)  # every row shows its 2015 name
    assert any(r.startswith("GunPoint ") and " Gun_Point " in r for r in rows)


def test_datasets_cli_demo_and_all(capsys):
    assert main(["datasets", "--preset", "demo"]) == 0
    assert "3 datasets" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    assert "128 datasets" in capsys.readouterr().out


def fetch(tmp_path: Path, *args: str) -> int:
    return main(
        [
            "fetch",
            *args,
            "--root",
            str(tmp_path / "data"),
            "--cache",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )


def test_fetch_gunpoint_from_a_local_http_mirror(tmp_path, server, capsys):
    make_tsc_zip(server.root / "GunPoint.zip")
    assert fetch(tmp_path, "Gun_Point", "--source", server.url + "/") == 0
    assert "GunPoint: 50 train / 150 test, length 150, 2 classes" in capsys.readouterr().out
    ds = load("GunPoint", tmp_path / "data")
    assert ds.X_train.shape == (50, 150) and ds.X_test.shape == (150, 150)
    assert ds.X_train.dtype == np.float32 and ds.n_classes == 2
    assert set(np.unique(ds.y_test)) == {0, 1}
    # z-normalised per series, as the paper
    np.testing.assert_allclose(ds.X_train.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train.std(axis=1), 1, atol=1e-3)
    meta = json.loads((tmp_path / "data/GunPoint/meta.json").read_text())
    assert meta["name_2015"] == "Gun_Point" and meta["layout"] == "tsc"
    assert len(meta["archive_sha256"]) == 64 and meta["registry_mismatch"] == []
    # a second fetch reuses the cache: no new request
    n = len(server.requests)
    assert fetch(tmp_path, "GunPoint", "--source", server.url + "/") == 0
    assert len(server.requests) == n


def test_fetch_italy_from_the_ucr2018_archive_over_http(tmp_path, server, ucr_zip, capsys):
    (server.root / "UCRArchive_2018.zip").write_bytes(ucr_zip.read_bytes())
    assert fetch(tmp_path, "ItalyPowerDemand", "--source", server.url + "/UCRArchive_2018.zip") == 0
    ds = load("ItalyPowerDemand", tmp_path / "data")
    assert ds.X_train.shape == (67, 24) and ds.X_test.shape == (1029, 24)
    assert ds.meta["layout"] == "ucr2018"


def test_fetch_embedded_demo_offline(tmp_path):
    assert fetch(tmp_path, "ArrowHead") == 0
    ds = load("ArrowHead", tmp_path / "data")
    assert ds.X_train.shape == (36, 251) and ds.n_classes == 3


# --- bad input: a clear message, and nothing left behind ---------------------------------------


def assert_nothing_left(tmp_path: Path):
    data = tmp_path / "data"
    assert not data.exists() or leftovers(data) == []
    cache = tmp_path / "cache"
    assert not cache.exists() or leftovers(cache) == []


def test_unknown_dataset(tmp_path, capsys):
    assert fetch(tmp_path, "GunPont") == 2
    err = capsys.readouterr().err
    assert "unknown UCR dataset 'GunPont'" in err and "GunPoint" in err
    assert_nothing_left(tmp_path)


def test_checksum_mismatch(tmp_path, server, capsys):
    make_tsc_zip(server.root / "GunPoint.zip")
    assert fetch(tmp_path, "GunPoint", "--source", server.url + "/", "--sha256", "0" * 64) == 2
    assert "sha256" in capsys.readouterr().err
    assert_nothing_left(tmp_path)


def test_truncated_zip(tmp_path, server, capsys):
    good = make_tsc_zip(tmp_path / "good.zip").read_bytes()
    (server.root / "GunPoint.zip").write_bytes(good[: len(good) // 2])
    assert fetch(tmp_path, "GunPoint", "--source", server.url + "/") == 2
    assert "GunPoint.zip" in capsys.readouterr().err
    assert_nothing_left(tmp_path)


def test_wrong_zip_password(tmp_path, ucr_zip, capsys):
    assert fetch(tmp_path, "GunPoint", "--source", str(ucr_zip), "--password", "wrong") == 2
    assert "wrong password" in capsys.readouterr().err
    assert_nothing_left(tmp_path)  # a local archive is read in place: nothing was copied


def serve_ts(server, name: str, train: bytes, test: bytes):
    with zipfile.ZipFile(server.root / f"{name}.zip", "w") as zf:
        zf.writestr(f"{name}_TRAIN.ts", train)
        zf.writestr(f"{name}_TEST.ts", test)


def gunpoint_lines(split: str) -> list[str]:
    return demo_ts("GunPoint", split).decode().splitlines()


def edit_data_line(lines: list[str], k: int, fn) -> bytes:
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    lines = list(lines)
    lines[start + k] = fn(lines[start + k])
    return ("\n".join(lines) + "\n").encode()


BAD_FILES = {
    "ragged rows": (lambda tr: edit_data_line(tr, 3, lambda row: row.split(",", 5)[5]), "line"),
    "non-numeric cell": (
        lambda tr: edit_data_line(tr, 2, lambda row: "abc," + row.split(",", 1)[1]),
        "'abc'",
    ),
    "empty split": (lambda tr: ("\n".join(tr[: tr.index("@data") + 1]) + "\n").encode(), "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_malformed_train_file(tmp_path, server, capsys, case):
    make_bad, expected = BAD_FILES[case]
    train = gunpoint_lines("TRAIN")
    serve_ts(server, "GunPoint", make_bad(train), demo_ts("GunPoint", "TEST"))
    assert fetch(tmp_path, "GunPoint", "--source", server.url + "/") == 2
    err = capsys.readouterr().err
    assert "GunPoint_TRAIN.ts" in err and expected in err
    assert_nothing_left(tmp_path)


def test_test_class_absent_from_train(tmp_path, server, capsys):
    test = edit_data_line(gunpoint_lines("TEST"), 0, lambda row: row.rsplit(":", 1)[0] + ":7")
    test = test.replace(b"@classLabel true 1 2", b"@classLabel true 1 2 7")
    serve_ts(server, "GunPoint", demo_ts("GunPoint", "TRAIN"), test)
    assert fetch(tmp_path, "GunPoint", "--source", server.url + "/") == 2
    err = capsys.readouterr().err
    assert "'7'" in err and "train" in err.lower()
    assert_nothing_left(tmp_path)


def test_train_on_unfetched_dataset_is_a_clear_error(tmp_path, capsys):
    code = main(
        [
            "train",
            "GunPoint",
            "--root",
            str(tmp_path / "data"),
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert code == 2
    assert "has not been fetched" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
