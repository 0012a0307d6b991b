"""`dvc plots show` draws exactly the plots of dvc.yaml, on a page that loads nothing from the
network: scripts/dvc_plots_template.py (run by `make install`) inlines the Vega libraries DVC's
default page takes from a CDN into the HTML template DVC is pointed at."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from img2img.evaluation.evaluate import ssim_distribution
from tests.kedro_project import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "dvc_plots_template.py"
MODULES = PROJECT_ROOT / ".tools" / "vega" / "node_modules"
INSTALLED = (MODULES / "vega-embed" / "package.json").is_file()
PLOTS = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["plots"]
INTENDED = [next(iter(plot)) for plot in PLOTS]  # the top-level plots, in their order
# Hosts the inlined libraries name without loading anything from them: SVG/XML namespaces, the
# Vega schema ids and the "Open in Vega Editor" link, issue links in error messages.
NAMED_NOT_LOADED = {"www.w3.org", "vega.github.io", "github.com"}


def _load_script():
    spec = importlib.util.spec_from_file_location("dvc_plots_template", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


template = _load_script()


def dvc(*args: str, cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    command = [sys.executable, "-m", "dvc", *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def fake_modules(root: Path, **overrides: str) -> Path:
    """node_modules with stand-in bundles of the versions DVC loads (``overrides``: name: text)."""
    for name, version in template.dvc_vega_versions().items():
        (root / name / "build").mkdir(parents=True)
        manifest = {"version": version, "jsdelivr": f"build/{name}.min.js"}
        (root / name / "package.json").write_text(json.dumps(manifest))
        text = overrides.get(name, f"window['{name}'] = {{version: '{version}'}};")
        (root / name / "build" / f"{name}.min.js").write_text(text + "\n//# sourceMappingURL=x.map")
    return root


@pytest.fixture
def plots_repo(tmp_path) -> Path:
    """A DVC project with this dvc.yaml and small reporting CSVs of the real layout."""
    repo = tmp_path / "repo"
    reporting = repo / "data" / "08_reporting"
    reporting.mkdir(parents=True)
    (repo / "dvc.yaml").write_text((PROJECT_ROOT / "dvc.yaml").read_text())
    epochs = np.arange(1, 6)
    history = {"epoch": epochs, "loss_G_GAN": 0.7 + 0.1 * epochs, "loss_G_L1": 30.0 / epochs,
               "loss_D_real": 0.69 - 0.05 * epochs, "loss_D_fake": 0.69 - 0.04 * epochs,
               "d_real_mean": 0.5 + 0.05 * epochs, "d_fake_mean": 0.5 - 0.05 * epochs}  # fmt: skip
    pd.DataFrame(history).to_csv(reporting / "training_history.csv", index=False)
    per_image = pd.DataFrame({"ssim": np.random.default_rng(0).uniform(0.2, 0.8, 40)})
    ssim_distribution(per_image).to_csv(reporting / "ssim_distribution.csv", index=False)
    dvc("init", "--no-scm", "-q", cwd=repo)
    return repo


def show_plots(repo: Path, modules: Path) -> str:
    """`make install`'s template step for ``repo``, then `dvc plots show`; the page's HTML."""
    output = repo.parent / "template" / "dvc_plots_template.html"
    assert template.main(["write", "--modules", str(modules), "--output", str(output),
                          "--repo", str(repo)]) == 0  # fmt: skip
    dvc("plots", "show", "-o", "plots_out", cwd=repo)
    return (repo / "plots_out" / "index.html").read_text(encoding="utf-8")


def specs(page: str) -> dict[str, dict]:
    found = re.findall(r"var spec = (\{.*?\});\s*vegaEmbed\(", page, re.DOTALL)
    return {spec["title"]["text"]: spec for spec in map(json.loads, found)}


def remote_references(page: str) -> list[str]:
    """Tags that would fetch something: src/href attributes with an absolute or protocol URL."""
    return re.findall(r"<[a-z]+\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>", page, re.I)


def test_dvc_plots_show_draws_only_the_plots_of_dvc_yaml_from_the_inlined_scripts(
    tmp_path, plots_repo
):
    page = show_plots(plots_repo, fake_modules(tmp_path / "node_modules"))
    config = (plots_repo / ".dvc" / "config.local").read_text()
    assert "html_template = ../../template/dvc_plots_template.html" in config
    drawn = specs(page)
    assert list(drawn) == INTENDED  # no default plots of the CSVs' columns
    assert drawn[INTENDED[0]]["encoding"]["x"]["field"] == "epoch"
    ssim = drawn["Per-image SSIM distribution (evaluated split)"]["encoding"]
    assert (ssim["x"]["field"], ssim["y"]["field"]) == ("pairs", "ssim_bin")  # counts per bin
    assert "window['vega-lite'] = {version: '5.2.0'};" in page and "sourceMappingURL" not in page
    assert "<script src" not in page and "jsdelivr" not in page and not remote_references(page)


@pytest.mark.skipif(
    not INSTALLED, reason="the Vega files are not installed (make install needs npm)"
)
def test_the_installed_vega_libraries_make_a_page_that_needs_no_network(tmp_path, plots_repo):
    page = show_plots(plots_repo, MODULES)
    assert list(specs(page)) == INTENDED
    for name in ("vega", "vega-lite", "vega-embed"):
        bundle = (MODULES / name / "build" / f"{name}.min.js").read_text(encoding="utf-8")
        assert template.SOURCE_MAP.sub("", bundle) in page
    assert not remote_references(page)
    assert set(re.findall(r"https?://([\w.-]+)", page)) <= NAMED_NOT_LOADED
    assert not re.search(r"cdn\.|jsdelivr|unpkg", page)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"missing": "vega-embed"}, r"vega-embed/package\.json not found: run `make install`"),
        (
            {"version": "vega-lite"},
            r"vega-lite/package\.json: version 0\.0\.1, but DVC's page loads",
        ),
        ({"vega": "var x = '{plot_divs}';"}, r"vega\.min\.js contains one of .*plot_divs"),
        ({"vega-embed": "x = '</script>';"}, r"vega-embed\.min\.js contains '</script'"),
    ],
)
def test_the_script_refuses_files_it_cannot_inline_and_says_which(
    tmp_path, capsys, change, message
):
    bundles = {k: v for k, v in change.items() if k in template.LIBRARIES}
    modules = fake_modules(tmp_path / "node_modules", **bundles)
    if "missing" in change:
        (modules / change["missing"] / "package.json").unlink()
    if "version" in change:
        manifest = modules / change["version"] / "package.json"
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "0.0.1"}))
    output = tmp_path / "template.html"
    assert template.main(["write", "--modules", str(modules), "--output", str(output)]) == 1
    assert re.search(message, capsys.readouterr().err) and not output.exists()


def test_the_npm_packages_are_the_versions_dvc_loads():
    from dvc_render.vega import VegaRenderer

    printed = subprocess.run([sys.executable, str(SCRIPT), "packages"], capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    assert len(printed) == 3
    assert all(f"cdn.jsdelivr.net/npm/{spec}" in VegaRenderer.SCRIPTS for spec in printed)
