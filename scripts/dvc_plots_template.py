"""An HTML template for `dvc plots show` with Vega inlined, so the page draws with no network.

DVC's default page loads vega, vega-lite and vega-embed from a CDN (blank offline). `make install`
installs the same versions from npm into .tools/vega, then runs this script, which inlines them into
.tools/vega/dvc_plots_template.html and points this checkout's DVC at it (`plots.html_template` in
.dvc/config.local, untracked: a checkout without npm keeps DVC's default page). The output page
is self-contained wherever `dvc plots show -o` puts it.

    python scripts/dvc_plots_template.py packages   # the npm specs DVC loads: vega@5.20.2 ...
    python scripts/dvc_plots_template.py write [--modules DIR] [--output FILE] [--repo DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / ".tools" / "vega" / "node_modules"
TEMPLATE = ROOT / ".tools" / "vega" / "dvc_plots_template.html"
LIBRARIES = ("vega", "vega-lite", "vega-embed")  # in load order: embed needs the other two
# dvc-render substitutes these anywhere in the template. `{scripts}` is left out on purpose: DVC
# fills it with its CDN <script src> tags.
PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")
SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots</title>
    <!-- {versions}: inlined by scripts/dvc_plots_template.py (make install), no network needed -->
{scripts}
    <style>
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


class TemplateError(RuntimeError):
    """The Vega files cannot be inlined; the message names the file and the fix."""


def dvc_vega_versions() -> dict[str, str]:
    """{package: version} of the Vega libraries the installed dvc-render loads from its CDN."""
    from dvc_render.vega import VegaRenderer

    found = dict(re.findall(r"cdn\.jsdelivr\.net/npm/([\w-]+)@([\w.-]+)", VegaRenderer.SCRIPTS))
    if set(found) != set(LIBRARIES):
        raise TemplateError(
            f"dvc_render.vega.VegaRenderer.SCRIPTS no longer loads {', '.join(LIBRARIES)} from "
            f"cdn.jsdelivr.net (found {found or 'none'}): update scripts/dvc_plots_template.py"
        )
    return {name: found[name] for name in LIBRARIES}


def library_source(modules: Path, name: str, version: str) -> str:
    """The browser bundle of ``name`` (the file the CDN serves), checked to be safe to inline."""
    manifest = modules / name / "package.json"
    if not manifest.is_file():
        raise TemplateError(f"{manifest} not found: run `make install` (needs npm)")
    package = json.loads(manifest.read_text(encoding="utf-8"))
    if package.get("version") != version:
        raise TemplateError(
            f"{manifest}: version {package.get('version')}, but DVC's page loads {version}; "
            "run `make install` again"
        )
    if not package.get("jsdelivr"):
        raise TemplateError(f"{manifest} names no browser bundle (no `jsdelivr` field)")
    bundle = modules / name / package["jsdelivr"]
    text = SOURCE_MAP.sub("", bundle.read_text(encoding="utf-8"))
    if re.search(r"</script|<!--", text, re.IGNORECASE):
        raise TemplateError(f"{bundle} contains '</script' or '<!--': it cannot be inlined as is")
    if any(placeholder in text for placeholder in PLACEHOLDERS):
        raise TemplateError(f"{bundle} contains one of {PLACEHOLDERS}, which DVC would replace")
    return text


def render_template(modules: Path) -> str:
    """The page with the three libraries inlined and DVC's `{refresh_tag}`/`{plot_divs}` slots."""
    versions = dvc_vega_versions()
    scripts = "\n".join(
        f"    <script>\n{library_source(modules, name, version)}\n    </script>"
        for name, version in versions.items()
    )
    described = ", ".join(f"{name} {version}" for name, version in versions.items())
    return PAGE.format(versions=described, scripts=scripts, refresh_tag="{refresh_tag}",
                       plot_divs="{plot_divs}")  # fmt: skip


def use_template(repo: Path, template: Path) -> None:
    """Point the DVC project at ``repo`` to ``template`` (its .dvc/config.local, untracked)."""
    relative = os.path.relpath(template.resolve(), (repo / ".dvc").resolve())
    subprocess.run([sys.executable, "-m", "dvc", "config", "--local", "plots.html_template",
                    relative], cwd=repo, check=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("packages", help="print the npm specs of the Vega libraries DVC loads")
    write = commands.add_parser("write", help="write the template and point DVC at it")
    write.add_argument("--modules", type=Path, default=MODULES, help="npm node_modules folder")
    write.add_argument("--output", type=Path, default=TEMPLATE, help="the template to write")
    write.add_argument("--repo", type=Path, default=ROOT, help="the DVC project to configure")
    args = parser.parse_args(argv)
    try:
        if args.command == "packages":
            print(" ".join(f"{name}@{version}" for name, version in dvc_vega_versions().items()))
            return 0
        page = render_template(args.modules)
    except TemplateError as error:
        print(f"dvc_plots_template: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    use_template(args.repo, args.output)
    print(
        f"dvc plots show: Vega inlined from {args.modules} into {args.output} (.dvc/config.local)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
