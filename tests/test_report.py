"""`scaler report`: one self-contained page per run, checked in a real headless browser with networking off, and
its content against the run's own files (the frozen quickstart run, grid and study, tests/fixtures/runs)."""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from _browser import offline_browser, open_offline
from _cli import run_scaler, user_error
from _runs import RUNS
from _runs import copy_run as copy_frozen
from click.testing import CliRunner

from scaler.analysis.study_forecast import read_forecast
from scaler.cli.app import cli

QUICKSTART = RUNS / "quickstart"
RUN_FILES = ("results.csv", "run.yaml", "coefficients.yaml", "study.csv", "study.yaml", "forecast.csv", "trials")


def copy_run(dest: Path, files: tuple[str, ...] = RUN_FILES) -> Path:
    """The frozen quickstart run's files in ``dest``."""
    return copy_frozen("quickstart", dest, files)


def report(run: Path, *args: str) -> Path:
    result = CliRunner().invoke(cli, ["report", str(run), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(run / "report.html")
    return run / "report.html"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = copy_run(tmp_path_factory.mktemp("report") / "quickstart")
    return report(run)


def test_the_report_opens_alone_and_offline_with_every_figure_drawn(written: Path, tmp_path: Path):
    with offline_browser() as driver:
        page = open_offline(driver, written, tmp_path)
    assert page.problems() == []  # no empty box, broken image, external request or console error
    images = {f.label: f for f in page.figures if f.kind == "img"}
    assert sorted(images) == ["Accuracy against real FLOPs", "Coefficient map", "Scaling strategies",
                              "Training curves"]
    assert all(f.width > 300 and f.height > 150 and f.natural_width > 0 for f in images.values())
    assert page.title == "scaler report: quickstart"


def test_the_page_is_one_file_without_external_urls(written: Path):
    html = written.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", html)
    assert "@import" not in html and "<link" not in html
    assert html.count('src="data:image/svg+xml;base64,') == 4


def test_the_page_names_the_installed_scaler(written: Path):
    version = metadata.version("scaler")  # one source: pyproject.toml (tests/test_package.py)
    html = written.read_text(encoding="utf-8")
    assert f'<meta name="generator" content="scaler {version}">' in html


def test_the_answer_is_the_runs_own(written: Path):
    """The coefficients, the chosen network, its accuracies, the tie set and the bootstrap interval are those of
    coefficients.yaml; the forecast and back-test those of forecast.csv."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", written.read_text(encoding="utf-8")))
    fit = yaml.safe_load((QUICKSTART / "coefficients.yaml").read_text(encoding="utf-8"))
    best, sel = fit["best"], fit["selection"]
    assert f"(α, β, γ) = ({fit['alpha']:.3f}, {fit['beta']:.3f}, {fit['gamma']:.3f})" in text
    assert (f"Chosen on validation accuracy: {best['candidate']} , validation accuracy "
            f"{100 * best['accuracy']:.2f}%") in text
    assert f"test accuracy {100 * best['test_accuracy']:.2f}% (reported, never used to decide)" in text
    assert f"the tie set: {', '.join(sel['tie_set'])} ." in text
    lo, hi = fit["bootstrap"]["winner_interval"]["gamma"]
    assert f"γ {lo:.3f}–{hi:.3f}" in text
    forecast = read_forecast(QUICKSTART / "forecast.csv")
    for b in forecast.of("back-test"):
        if b.measured is not None:
            assert f"predicted {100 * b.accuracy:.2f}%, measured {100 * b.measured:.2f}%" in text
    nxt = next(r for r in forecast.of("forecast") if r.strategy == "compound")
    assert f"proxy at φ = {nxt.phi:g}: {100 * nxt.accuracy:.2f}%" in text


def test_the_results_table_sorts_by_a_clicked_column(written: Path, tmp_path: Path):
    from selenium.webdriver.common.by import By

    with offline_browser() as driver:
        open_offline(driver, written, tmp_path)
        header = driver.find_element(By.XPATH, "//table[@id='results-table']//th[normalize-space()='validation']")
        column = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#results-table th")].index("validation")

        def values() -> list[float]:
            cells = driver.find_elements(By.CSS_SELECTOR, f"#results-table tbody tr td:nth-child({column + 1})")
            return [float(c.text.rstrip("%")) for c in cells]

        first = values()
        assert first == sorted(first, reverse=True)  # as written: best first
        header.click()
        assert values() == sorted(first) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert values() == sorted(first, reverse=True)


def test_without_a_study_the_page_has_no_study_or_forecast(tmp_path: Path):
    run = copy_run(tmp_path / "grid-only", ("results.csv", "run.yaml", "coefficients.yaml", "trials"))
    html = report(run).read_text(encoding="utf-8")
    assert 'id="study"' not in html and 'id="forecast"' not in html and "proxy accuracy" not in html
    assert html.count('src="data:image/svg+xml;base64,') == 3  # Pareto, coefficient map, training curves
    assert sorted(p.name for p in (run / "plots").iterdir()) == [
        f"{n}.{e}" for n in ("coefficients", "curves", "pareto") for e in ("png", "svg")]


def test_a_study_of_older_coefficients_is_shown_as_such_without_its_forecast(tmp_path: Path):
    run = copy_run(tmp_path / "older")
    study = yaml.safe_load((run / "study.yaml").read_text(encoding="utf-8"))
    study["settings"]["coefficients"]["beta"] = 1.2
    (run / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    html = report(run).read_text(encoding="utf-8")
    assert "of\n  older coefficients" in html and 'id="forecast"' not in html and "proxy accuracy" not in html


def test_a_directory_that_is_not_a_grid_is_one_line(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert user_error(capsys, "report", "nowhere") == (
        "error: nowhere: not a grid directory: results.csv is missing (run `scaler grid` first)")
    copy_frozen("quickstart-grid", tmp_path / "rows-only", ("results.csv",))
    assert user_error(capsys, "report", "rows-only") == (
        "error: rows-only: not a grid directory: run.yaml is missing (run `scaler grid` first)")


# --- a grid without a fit: cut short by --limit, or still running ---------------------------------------------------


def cut_short(dest: Path, rows: int, failed: tuple[str, ...] = (), name: str = "quickstart-grid",
              planned: int = 13) -> Path:
    """The frozen run ``name`` as `scaler grid ... --limit ROWS` leaves it: run.yaml recording the trials
    ``planned`` so far (the grid's first stage: 13 candidates x 1 seed), the first ROWS rows of results.csv (those
    named in ``failed`` failed) with their curves; no coefficients.yaml, no plots."""
    import csv

    copy_frozen(name, dest, ("run.yaml",))
    with open(RUNS / name / "results.csv", newline="", encoding="utf-8") as f:
        kept = list(csv.DictReader(f))[:rows]
    with open(dest / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows({**r, "status": "failed", "message": "diverged"} if r["trial_id"] in failed else r
                         for r in kept)
    (dest / "trials").mkdir()
    for r in kept:
        shutil.copy(RUNS / name / "trials" / f"{r['trial_id']}.json", dest / "trials")
    run = yaml.safe_load((dest / "run.yaml").read_text(encoding="utf-8"))
    run["trials"] = planned
    (dest / "run.yaml").write_text(yaml.safe_dump(run, sort_keys=False), encoding="utf-8")
    return dest


def page_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def results_rows(html: str) -> list[str]:
    """The candidates of the results table, in order."""
    table = html[html.index('id="results-table"'):]
    return re.findall(r'<tr class="[^"]*"><td class="l">([^<]+?)(?: <span|</td>)', table[:table.index("</table>")])


def test_a_grid_cut_short_before_its_first_compound_trial_says_so_instead_of_an_answer(tmp_path: Path):
    """What `scaler grid quickstart --limit 2` leaves (the base and depth only): the CI's step, exit 0."""
    run = cut_short(tmp_path / "short", 2)
    result = run_scaler("report", "short", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == str(Path("short") / "report.html")
    html = (run / "report.html").read_text(encoding="utf-8")
    text = page_text(html)
    assert ("No answer yet: 2 trials have finished of the 13 planned so far; no compound candidate has finished, "
            "so there is nothing to fit. The tables and figures below show the trials so far; none of them is the "
            "answer. To continue, rerun the scaler grid command that started it (finished trials are skipped).") in text
    assert results_rows(html) == ["base", "depth"]
    assert re.findall(r'<tr><td class="l">(\w+)</td><td class="l">\w+</td>', html) == ["base", "depth"]  # cost
    assert "The question and the answer" not in text and "(α, β, γ) =" not in text and "Chosen on" not in text
    assert 'class="tie' not in html and "chosen" not in html.split('id="results-table"')[1].split("</table>")[0]
    assert 'id="family"' not in html and 'id="study"' not in html and "Data split" in text
    assert "Nothing is chosen before the fit" in text
    # the figures that can be drawn without a fit: the coefficient map holds depth, on the constraint
    assert html.count('src="data:image/svg+xml;base64,') == 3
    assert not (run / "coefficients.yaml").exists()


def test_the_page_of_a_grid_cut_short_opens_clean_with_the_figures_it_can_draw(tmp_path: Path):
    written = report(cut_short(tmp_path / "short", 2))
    with offline_browser() as driver:
        page = open_offline(driver, written, tmp_path)
    assert page.problems() == []
    assert sorted(f.label for f in page.figures if f.kind == "img") == [
        "Accuracy against real FLOPs", "Coefficient map", "Training curves"]


def test_compound_trials_without_a_fit_name_the_fit_to_run(tmp_path: Path):
    """A grid stopped after compound trials but before its fit (killed, or its coefficients.yaml removed)."""
    run = cut_short(tmp_path / "unfitted", 6, failed=("a1.389-b1.000-g1.200-s0",))
    text = page_text(report(run).read_text(encoding="utf-8"))
    assert ("No answer yet: 6 trials have finished of the 13 planned so far (1 failed); 1 of them compound, but "
            "nothing is fitted yet (no coefficients.yaml).") in text
    assert (f"or fit what there is: scaler fit {run}/results.csv , then scaler report {run} .") in text
    assert "(α, β, γ) =" not in text


def test_a_halving_run_cut_short_counts_the_compound_trials_of_its_highest_rung(tmp_path: Path):
    """Rung 0 done and the base trained at rung 1 (13 + 7 trials planned so far): the tables show rung 1, which
    decides, and no fit is offered, since `scaler fit` would find no compound trial there."""
    run = cut_short(tmp_path / "halving", 14, name="quickstart", planned=20)
    html = report(run, "--no-draw").read_text(encoding="utf-8")
    text = page_text(html)
    assert ("No answer yet: 14 trials have finished of the 20 planned so far; no compound candidate has finished at "
            "rung 1/2, the highest reached, so there is nothing to fit. The tables and figures below show the "
            "trials so far at rung 1/2; none of them is the answer.") in text
    assert "scaler fit" not in text and results_rows(html) == ["base"]


def test_a_grid_whose_every_trial_failed_still_reports_without_figures(tmp_path: Path):
    run = cut_short(tmp_path / "failed", 1, failed=("base-s0",))
    html = report(run).read_text(encoding="utf-8")
    assert ("No answer yet: 1 trial has finished of the 13 planned so far (1 failed); no compound candidate has "
            "finished") in page_text(html)
    assert results_rows(html) == [] and 'src="data:image' not in html and not (run / "plots").exists()


def test_a_grid_still_running_is_named_with_its_process(tmp_path: Path):
    import json
    import os
    import socket

    run = cut_short(tmp_path / "running", 2)
    (run / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                           "started": "2026-12-04 20:01:02 +0000"}), encoding="utf-8")
    text = page_text(report(run, "--no-draw").read_text(encoding="utf-8"))
    assert (f"A scaler run (pid {os.getpid()} on {socket.gethostname()}, since 2026-12-04 20:01:02 +0000) is still "
            f"writing this directory: run scaler report {run} again to see how far it got.") in text
    assert "rerun the scaler grid command" not in text
    assert (run / ".lock").exists()  # read, never taken or removed


def test_the_api_reports_a_grid_cut_short_as_the_cli_does(tmp_path: Path):
    import scaler
    from scaler.api.figures import report as api_report

    run = scaler.open_run(cut_short(tmp_path / "api", 2))
    assert run.coefficients is None
    assert run.report() == api_report(run.path, draw=False) == run.path / "report.html"
    assert "No answer yet: 2 trials have finished" in page_text(run.path.joinpath("report.html").read_text("utf-8"))


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["quickstart-reference", "quickstart-seed100", "quickstart-grid", "quickstart-match",
                                  "my-resnet"])
def test_every_committed_run_renders(tmp_path: Path, name: str, monkeypatch):
    """Runs of older scalers (schema 1, no bootstrap, a study of older coefficients) and a factory network's: the
    page says what each file holds, ranked on the split its run ranked on."""
    import sys

    # my-resnet's factory module, imported from the copy: this test's own, as in a process of its own
    monkeypatch.setitem(sys.modules, "my_resnet", None)
    monkeypatch.delitem(sys.modules, "my_resnet")
    copy_frozen(name, tmp_path / "results" / name)
    shutil.copytree(EXAMPLES, tmp_path / "examples")  # my-resnet's factory, relative to it
    html = report(tmp_path / "results" / name, "--no-draw").read_text(encoding="utf-8")
    split = "test" if name == "quickstart-match" else "validation"
    assert f"Chosen on {split} accuracy:" in html and 'id="family"' in html


def test_a_fit_without_noise_bootstrap_or_comparisons_still_renders(tmp_path: Path):
    run = copy_run(tmp_path / "bare", ("results.csv", "run.yaml", "coefficients.yaml", "trials"))
    fit = yaml.safe_load((run / "coefficients.yaml").read_text(encoding="utf-8"))
    for key in ("bootstrap", "compound_vs_best_single", "rungs"):
        fit.pop(key, None)
    fit["selection"] = {"tie_set": fit["selection"]["tie_set"], "rule": "one seed: unverified"}
    fit["best"].pop("candidate")
    (run / "coefficients.yaml").write_text(yaml.safe_dump(fit, sort_keys=False), encoding="utf-8")
    text = re.sub(r"\s+", " ", report(run, "--no-draw").read_text(encoding="utf-8"))
    assert "Rule: one seed: unverified." in text and "bootstrap interval of the winner" not in text
    assert "Chosen on validation accuracy: <b>resolution</b>" in text  # the best network, named from the table


def test_a_downward_grid_shows_the_family_below_its_base_until_the_input_is_too_small(tmp_path: Path):
    run = copy_run(tmp_path / "down", ("results.csv", "run.yaml", "coefficients.yaml", "trials"))
    fit = yaml.safe_load((run / "coefficients.yaml").read_text(encoding="utf-8"))
    fit["phi"] = -1.0  # (1, 1, 1.414) shrinking the 14 px quickstart: 10 px, then 7 px, below its stride of 8
    (run / "coefficients.yaml").write_text(yaml.safe_dump(fit, sort_keys=False), encoding="utf-8")
    text = re.sub(r"\s+", " ", report(run, "--no-draw").read_text(encoding="utf-8"))
    assert "coefficients.yaml --phi -1..0</code>" in text
    assert "It stops there: quickstart-phi-2: the scaled resolution, 7 px, is too small" in text
    assert [int(m) for m in re.findall(r'<td class="l">quickstart-phi-?\d</td><td>(-?\d)</td>', text)] == [0, -1]


def test_a_strategy_trained_as_compound_at_some_phi_reads_the_same_network(tmp_path: Path):
    import csv

    run = copy_run(tmp_path / "aliased", ("results.csv", "run.yaml", "coefficients.yaml", "study.csv", "study.yaml",
                                          "trials"))
    with open(run / "study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if not r["trial_id"].startswith("width-phi1-")]  # as if trained once, as compound
    for r in kept:
        if r["trial_id"].startswith("compound-phi1-"):
            r["aliases"] = "width"
    with open(run / "study.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    html = report(run, "--no-draw").read_text(encoding="utf-8")
    assert html.count('<span class="tie-word">the same network</span> as width (trained once)') == 1  # phi 1 only
