"""The README's map of the code names what the tree holds, and nothing it does not."""

import re

from app.paths import PROJECT_ROOT

APP = PROJECT_ROOT / "app"


def _code_map() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    return readme[readme.index("```\napp/\n") : readme.index("\nmigrations/")]


def test_every_package_and_root_module_of_app_is_on_the_map() -> None:
    block = _code_map()
    packages = [p.name for p in APP.iterdir() if (p / "__init__.py").exists()]
    modules = [p.name for p in APP.glob("*.py") if p.name != "__init__.py"]
    assert len(packages) > 10 and len(modules) > 3
    missing = [name for name in packages if f"{name}/" not in block] + [name for name in modules if name not in block]
    assert missing == []


def test_the_map_names_no_file_or_package_the_tree_lacks() -> None:
    named_at_root = re.findall(r"^  ([a-z_]+(?:/|\.py))", _code_map(), flags=re.M)
    named_below = re.findall(r"^  ([a-z_]+)/\n((?:    .*\n)+)", _code_map(), flags=re.M)
    assert len(named_at_root) > 10
    assert [name for name in named_at_root if not (APP / name).exists()] == []
    for package, lines in named_below:
        files = re.findall(r"^    ([a-z_]+\.py)", lines, flags=re.M)
        assert [f for f in files if not (APP / package / f).exists()] == []
    for name in re.findall(r"\b([a-z_]+\.py)\b", _code_map()):
        assert list(APP.rglob(name)), name
