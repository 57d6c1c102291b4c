"""Packaging: the built wheel, installed alone in a fresh venv, works without the source tree.

The wheel is built from a copy of the working tree (into tmp_path), installed with ``--no-deps``
into a new venv that has no packages of its own; the dependencies come from the main venv's
site-packages through a ``.pth`` line (a plain path: the editable-install finder ``.pth`` files
there are not processed, so the source tree stays invisible). Generic top-level ``models`` and
``sensors`` packages that are not ours sit in the fresh venv: our code must not pick them up.
Then, from a temporary working directory, the installed package is imported and a quick part of
the test suite runs against it (``WHEEL_SUITE``), so a packaging mistake cannot hide behind the
source tree.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, shared_data_dir

# Fast test files re-run with the wheel venv's python (about a minute: test_cli runs the CLI, a
# short demo included, through the wheel's own `multimodal` script).
WHEEL_SUITE = ["tests/test_typed_config.py", "tests/test_export.py", "tests/test_plugins.py", "tests/test_cli.py"]
# Folders of the repository that must not appear in the wheel under their own names.
NOT_TOP_LEVEL = {"models", "sensors", "ros_nodes", "tests", "configs", "docs", "benchmarks", "scripts", "shared"}
# What a wheel of ours may hold besides the code and its small config/launch files.
DATA_SUFFIXES = {".npz", ".npy", ".bin", ".pcd", ".db3", ".mcap", ".mp4", ".wav", ".jpg", ".png", ".pt", ".ckpt",
                 ".safetensors", ".json"}
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                     ".pytest_cache", ".ruff_cache", "multimodal_demo", "*.png")


def _version() -> str:
    text = (REPO / "pyproject.toml").read_text()
    return re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the working tree (a build in place would leave build/ behind)."""
    src = tmp_path_factory.mktemp("src") / "repo"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE, symlinks=True)
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the build backend (setuptools, wheel) is the main venv's, pinned in
    # requirements/lock.txt, so no network is needed.
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "--no-index", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"wheel build failed (run scripts/install.sh for the locked setuptools):\n{r.stderr}"
    wheels = list(out.glob("multimodal_robot_ssl-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel (and the two dummy packages) in it; dependencies by .pth."""
    root = tmp_path_factory.mktemp("wheel_venv") / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    py = root / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                        "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # Appended after the venv's own site-packages: the wheel's files win over anything there.
    (site / "zz_main_venv_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for name in ("models", "sensors"):
        (site / name).mkdir()
        (site / name / "__init__.py").write_text(f'DUMMY = "not ours: {name}"\n')
    return root


def _env() -> dict:
    """The environment for the wheel venv: no PYTHONPATH, the ROS wheels' libraries on the loader path.

    (In the main venv the ros_wheels_bootstrapper .pth sets LD_LIBRARY_PATH; its .pth is not processed
    for the wheel venv, so do what it does here.)"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    main_site = Path(sysconfig.get_paths()["purelib"])
    libs = [str(Path(sys.prefix) / "lib"), *map(str, sorted(main_site.glob("ros_*.libs")))]
    env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, *filter(None, [os.environ.get("LD_LIBRARY_PATH")])])
    env["_ROS_WHEELS_BOOTSTRAP_COMPLETE"] = "1"
    env.setdefault("MULTIMODAL_SHARED_DATA", str(shared_data_dir()))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _lock() -> dict:
    """requirements/lock.txt as {canonical name: version} for this interpreter (markers evaluated)."""
    from packaging.markers import Marker
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if m and (m.group(3) is None or Marker(m.group(3)).evaluate()):
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def test_lock_covers_pyproject_and_constraints():
    """Offline check that requirements/lock.txt was refreshed after an edit of its inputs
    (`bash scripts/lock.sh --check` is the full, online one): every requirement of pyproject.toml
    (dependencies, dev and ros extras, build-system), of requirements/build.in and every line of
    requirements/constraints.txt has a pin in the lock that satisfies it."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in ("dev", "ros"):
        reqs += project["project"]["optional-dependencies"][extra]
    for name in ("build.in", "constraints.txt"):
        for line in (REPO / "requirements" / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                reqs.append(line)
    pins = _lock()
    problems = []
    for text in reqs:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{text}: not in the lock")
        elif not req.specifier.contains(pin, prereleases=True):
            problems.append(f"{text}: lock has {pin}")
    assert not problems, "requirements/lock.txt is stale (run bash scripts/lock.sh): " + "; ".join(problems)


def test_wheel_holds_only_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"multimodal", f"multimodal_robot_ssl-{_version()}.dist-info"}, sorted(top)
    assert not top & NOT_TOP_LEVEL
    for sub in ("sensors", "models", "ros_nodes"):
        assert f"multimodal/{sub}/__init__.py" in names, f"{sub}/ is not packaged as multimodal.{sub}"
    # every subpackage of the mapped folders is in (a find_packages miss would drop one silently)
    for folder, pkg in (("multimodal", "multimodal"), ("sensors", "multimodal/sensors"),
                        ("models", "multimodal/models"), ("ros_nodes", "multimodal/ros_nodes")):
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.relative_to(REPO / folder)
            if "ament" in str(rel) or "__pycache__" in str(rel):
                continue
            assert f"{pkg}/{rel.as_posix()}" in names, f"{folder}/{rel} missing from the wheel"
    # the nodes' parameter and launch files (package data)
    for pattern in ("config/*.yaml", "launch/*.py"):
        for f in (REPO / "ros_nodes").glob(pattern):
            assert f"multimodal/ros_nodes/{f.relative_to(REPO / 'ros_nodes').as_posix()}" in names
    # no data: nothing from ../shared, no recordings, weights or pictures
    data = [n for n in names if Path(n).suffix.lower() in DATA_SUFFIXES and ".dist-info/" not in n]
    assert not data, data
    shared = shared_data_dir()
    shared_names = {p.name for p in shared.iterdir()} if shared.is_dir() else set()
    assert not [n for n in names if "shared" in n.split("/") or set(n.split("/")) & shared_names]
    with zipfile.ZipFile(wheel) as zf:
        big = [(i.filename, i.file_size) for i in zf.infolist() if i.file_size > 300_000]
    assert not big, f"large files in the wheel (data?): {big}"


def test_wheel_imports_without_the_source_tree(wheel_venv, tmp_path):
    check = textwrap.dedent("""
        import json, sys
        import multimodal, multimodal.sensors, multimodal.models.registry
        try:
            import rclpy  # noqa: F401  (ros extra: may be absent)
            have_rclpy = True
        except ImportError:
            have_rclpy = False
        try:
            import multimodal.ros_nodes.serve  # noqa: F401
            serve = "imported"
        except ImportError as e:
            if have_rclpy:
                raise
            serve = f"skipped, no rclpy: {e}"
        import models, sensors
        print(json.dumps({
            "files": {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
                      if n == "multimodal" or n.startswith("multimodal.")},
            "version": multimodal.__version__, "serve": serve, "rclpy": have_rclpy,
            "dummies": [models.DUMMY, sensors.DUMMY], "dummy_files": [models.__file__, sensors.__file__],
        }))
    """)
    r = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", check], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    root = str(wheel_venv.resolve())
    assert info["files"]["multimodal"].startswith(root), info["files"]["multimodal"]
    outside = {n: f for n, f in info["files"].items() if f and not str(Path(f).resolve()).startswith(root)}
    assert not outside, f"modules loaded from outside the wheel venv: {outside}"
    for sub in ("multimodal.sensors", "multimodal.models.registry"):
        assert sub in info["files"]
    if info["rclpy"]:
        assert info["serve"] == "imported"
    assert info["dummies"] == ["not ours: models", "not ours: sensors"]
    assert all(f.startswith(root) for f in info["dummy_files"])
    assert info["version"] == _version()


def test_wheel_console_script_prints_the_version(wheel_venv, tmp_path):
    r = subprocess.run([str(wheel_venv / "bin" / "multimodal"), "--version"], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _version() in r.stdout + r.stderr


@pytest.mark.slow
def test_quick_suite_passes_against_the_wheel(wheel_venv, tmp_path):
    """WHEEL_SUITE run by the wheel venv's python from a copy of tests/ outside the repository: the
    package under test is the installed wheel (pytest puts the copy's folder, not the repo, on sys.path)."""
    suite = tmp_path / "suite"
    shutil.copytree(REPO / "tests", suite / "tests", ignore=COPY_IGNORE)
    for name in ("configs",):  # read by the tests as data, not code
        shutil.copytree(REPO / name, suite / name)
    (suite / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", suite / ".ci" / "run")
    shutil.copy(REPO / "README.md", suite / "README.md")
    # one more test in the copy: what the suite imported is the wheel's package, not a source tree
    (suite / "tests" / "test_zz_wheel_origin.py").write_text(textwrap.dedent("""
        import sys
        from pathlib import Path

        import multimodal


        def test_multimodal_is_the_installed_wheel():
            assert Path(multimodal.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
            assert "site-packages" in multimodal.__file__
    """))
    (suite / "pytest.ini").write_text("[pytest]\naddopts = -ra --strict-markers\nmarkers =\n"
                                      "    slow: long-running tests\nfilterwarnings =\n"
                                      "    ignore::DeprecationWarning:pyquaternion.*\n")
    r = subprocess.run([str(wheel_venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--timeout=600", *WHEEL_SUITE, "tests/test_zz_wheel_origin.py"], cwd=suite, env=_env(), capture_output=True, text=True,
                       timeout=900)
    tail = "\n".join(r.stdout.splitlines()[-30:])
    assert r.returncode == 0, f"{r.stderr[-3000:]}\n{tail}"
    assert " passed" in tail and " failed" not in tail
