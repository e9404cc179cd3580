"""One version and one repository address for every package.

The workspace `Cargo.toml` holds both (`[workspace.package] version` and
`repository`). This copies them into what cannot read Cargo.toml itself:
npm/package.json (version, repository, homepage, bugs) and
python/pyproject.toml (`[project.urls]`; the Python version is already read
from Cargo.toml by maturin). `--check` (run by `make test`) fails if any of
them disagree, or if CHANGELOG.md has no section for the version, or if a
package's licence files differ from the root's; without it, the files are
rewritten.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES_WITH_LICENCES = ["core", "npm", "python"]
LICENCES = ["LICENSE-MIT", "LICENSE-APACHE"]


def workspace() -> tuple[str, str]:
    package = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]
    return package["version"], package["repository"]


def npm_metadata(version: str, repository: str) -> dict[str, object]:
    return {
        "version": version,
        "repository": {"type": "git", "url": f"git+{repository}.git"},
        "homepage": f"{repository}#readme",
        "bugs": {"url": f"{repository}/issues"},
    }


URLS = re.compile(r"\[project\.urls\]\n(?:[^\[\n][^\n]*\n)*")


def python_urls(repository: str) -> str:
    return (
        "[project.urls]\n"
        f'Homepage = "{repository}"\n'
        f'Repository = "{repository}"\n'
        f'Issues = "{repository}/issues"\n'
        f'Changelog = "{repository}/blob/main/CHANGELOG.md"\n'
    )


def main() -> int:
    check = "--check" in sys.argv[1:]
    version, repository = workspace()
    problems: list[str] = []

    package_json = ROOT / "npm" / "package.json"
    package = json.loads(package_json.read_text())
    wanted = npm_metadata(version, repository)
    if any(package.get(key) != value for key, value in wanted.items()):
        problems.append(f"npm/package.json: version/repository/homepage/bugs differ from Cargo.toml ({version}, {repository})")
        if not check:
            package.update(wanted)
            package_json.write_text(json.dumps(package, indent=2) + "\n")

    pyproject = ROOT / "python" / "pyproject.toml"
    text = pyproject.read_text()
    match = URLS.search(text)
    if match is None or match.group(0) != python_urls(repository):
        problems.append("python/pyproject.toml: [project.urls] differs from Cargo.toml's repository")
        if not check:
            text = (
                URLS.sub(python_urls(repository), text) if match else text.replace("\n[tool.maturin]", "\n" + python_urls(repository) + "\n[tool.maturin]", 1)
            )
            pyproject.write_text(text)

    if not re.search(rf"^## \[?{re.escape(version)}\]?", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE):
        problems.append(f"CHANGELOG.md has no section for {version}")
    for package_dir in PACKAGES_WITH_LICENCES:
        for licence in LICENCES:
            copy = ROOT / package_dir / licence
            if not copy.exists() or copy.read_bytes() != (ROOT / licence).read_bytes():
                problems.append(f"{package_dir}/{licence} is missing or differs from the root's")
                if not check:
                    copy.write_bytes((ROOT / licence).read_bytes())

    for problem in problems:
        print(problem, file=sys.stderr)
    if check and problems:
        print("run `make release-metadata` to bring them in line with Cargo.toml", file=sys.stderr)
        return 1
    print(f"release metadata: version {version}, repository {repository}: {'checked' if check else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
