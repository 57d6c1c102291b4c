"""Keep a run's CSV metrics across resumes.

Lightning's ``CSVLogger`` rewrites ``logs/csv/metrics.csv`` from what it logged in the current process, so a
resumed run would lose the curve before the resume. Before a resumed fit, the rows of earlier steps are set
aside in ``metrics.before-resume.csv`` (atomically; a run that dies again keeps them); after the fit, they
are put back in front of the new rows in ``metrics.csv``.
"""
from __future__ import annotations

import csv
from pathlib import Path

from multimodal.sensors.atomic import atomic_write

BACKUP = "metrics.before-resume.csv"


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]

    def write(f) -> None:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)

    atomic_write(path, write, mode="w")


def _is_before(row: dict[str, str], step: int) -> bool:
    return row.get("step", "") != "" and int(float(row["step"])) < step


def _before(rows: list[dict[str, str]], step: int) -> list[dict[str, str]]:
    return [r for r in rows if _is_before(r, step)]


def set_aside(csv_dir: Path, start_step: int) -> None:
    """Before resuming at optimizer step ``start_step``: keep the rows of steps ``< start_step``."""
    earlier = _before(_read(csv_dir / BACKUP), start_step)
    seen = {r.get("step") for r in earlier}
    earlier += [r for r in _before(_read(csv_dir / "metrics.csv"), start_step) if r.get("step") not in seen]
    if earlier:
        csv_dir.mkdir(parents=True, exist_ok=True)
        _write(csv_dir / BACKUP, sorted(earlier, key=lambda r: int(float(r["step"]))))


def restore(csv_dir: Path, start_step: int) -> None:
    """After the fit: ``metrics.csv`` = the rows set aside, then the new rows (steps ``>= start_step``)."""
    backup = csv_dir / BACKUP
    earlier = _read(backup)
    if not earlier:
        return
    new = [r for r in _read(csv_dir / "metrics.csv") if not _is_before(r, start_step)]
    _write(csv_dir / "metrics.csv", earlier + new)
    backup.unlink()
