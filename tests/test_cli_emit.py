"""`scaler emit` in both directions: each member scaled by the coefficients searched in its direction, the
refusal to grow with a downward search only, and the warning when upward coefficients are reversed (TinyNet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scaler.catalog import load_spec
from scaler.cli.app import main
from scaler.coefficients import coefficients_document

UP = (1.2, 1.1, 1.15)
DOWN = (1.1, 1.3, 1.05)  # a downward search that shrinks width first, as TinyNet found


def write(path: Path, coefs: tuple[float, float, float], phi: float, base: str = "efficientnet-b0") -> Path:
    path.write_text(yaml.safe_dump(coefficients_document(*coefs, load_spec(base), phi=phi), sort_keys=False))
    return path


def emit(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["emit", *args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_each_member_uses_its_directions_coefficients(capsys, tmp_path: Path):
    up, down = write(tmp_path / "up.yaml", UP, 1.0), write(tmp_path / "down.yaml", DOWN, -1.0)
    code, out, err = emit(capsys, "--coefficients", str(up), "--coefficients", str(down), "--phi", "-2..2",
                          "--out", str(tmp_path / "fam"), "--json")
    assert (code, err) == (0, "")
    rows = {r["phi"]: r for r in json.loads(out)}
    assert {phi: r["coefficients"] for phi, r in rows.items()} == {-2.0: "down", -1.0: "down", 0.0: "base",
                                                                   1.0: "up", 2.0: "up"}
    for phi, (a, b, _) in ((-2.0, DOWN), (-1.0, DOWN), (1.0, UP), (2.0, UP)):
        assert (rows[phi]["depth"], rows[phi]["width"]) == pytest.approx((a**phi, b**phi), abs=1e-6)
    assert rows[0.0]["flops"] == 385_814_752  # B0 itself
    code, out, _ = emit(capsys, "--coefficients", str(down), "--coefficients", str(up), "--phi", "-1..1",
                        "--out", str(tmp_path / "table"))
    assert code == 0 and "phi -1: the down set" in out and "phi 1: the up set" in out


def test_growing_with_a_downward_search_only_is_refused(capsys, tmp_path: Path):
    down = write(tmp_path / "down.yaml", DOWN, -1.0)
    code, _, err = emit(capsys, "--coefficients", str(down), "--phi", "0..1", "--out", str(tmp_path / "fam"))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: phi 1 grows the base, but {down} was searched downward (phi -1)")
    assert not (tmp_path / "fam").exists()


def test_upward_coefficients_reversed_for_phi_below_zero_warn_why(capsys, tmp_path: Path):
    up = write(tmp_path / "up.yaml", UP, 1.0)
    code, out, err = emit(capsys, "--coefficients", str(up), "--phi", "-1", "--out", str(tmp_path / "fam"),
                          "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["coefficients"] == "up, reversed" and row["depth"] == pytest.approx(1 / 1.2)
    assert err.startswith("warning: phi < 0 with coefficients searched upward") and "TinyNet" in err


@pytest.mark.parametrize(("second", "message"), [
    (lambda p: write(p / "up2.yaml", DOWN, 2.0), "two coefficient files search upward"),
    (lambda p: write(p / "down.yaml", DOWN, -1.0, base="efficientnet-b1"), "scale different base networks"),
])
def test_files_that_do_not_make_one_family_are_one_line(capsys, tmp_path: Path, second, message: str):
    up = write(tmp_path / "up.yaml", UP, 1.0)
    code, _, err = emit(capsys, "--coefficients", str(up), "--coefficients", str(second(tmp_path)), "--phi", "1",
                        "--out", str(tmp_path / "fam"))
    assert code == 2 and err.count("\n") == 1 and message in err


def test_a_coefficients_file_with_phi_zero_is_located(capsys, tmp_path: Path):
    path = write(tmp_path / "c.yaml", UP, 1.0)
    path.write_text(path.read_text().replace("phi: 1.0", "phi: 0"))
    code, _, err = emit(capsys, "--coefficients", str(path), "--phi", "1", "--out", str(tmp_path / "fam"))
    assert code == 2 and err.startswith(f"error: {path}:4:") and "phi: must be the nonzero phi" in err
