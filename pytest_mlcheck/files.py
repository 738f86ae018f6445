"""The ``--mlcheck-report DIR`` files a CI job keeps: ``mlcheck.json`` (every check of the run),
a PNG loss curve per training check (when matplotlib is installed; imported only here) and
``index.html``, failures first."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from pytest_mlcheck.report import fmt

_ORDER = {"failed": 0, "did not finish": 1, "passed": 2}


def write_report(directory: Path, records: list[dict[str, Any]], xfailed: set[str]) -> Path:
    """Write the report files; returns the HTML page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    ordered = sorted(records, key=lambda r: (_ORDER.get(r["verdict"], 3) + (2 if r["nodeid"] in xfailed else 0)))
    for record in ordered:
        record["expected_failure"] = record["nodeid"] in xfailed and not record["passed"]
    (directory / "mlcheck.json").write_text(json.dumps({"checks": ordered}, indent=1), encoding="utf-8")
    images = _curves(directory, ordered)
    page = directory / "index.html"
    page.write_text(_page(ordered, images), encoding="utf-8")
    return page


def _curves(directory: Path, records: list[dict[str, Any]]) -> dict[int, str]:
    """Loss curves as PNG files, by record index; none without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except Exception:
        return {}
    (directory / "curves").mkdir(exist_ok=True)
    images = {}
    for i, record in enumerate(records):
        losses = [v for v in record["losses"] if v is not None]
        if len(losses) < 2:
            continue
        fig, ax = plt.subplots(figsize=(4.0, 2.2), dpi=100)
        ax.plot(range(1, len(record["losses"]) + 1),
                [float("nan") if v is None else v for v in record["losses"]], color="#c0392b"
                if not record["passed"] else "#2c7a3f", linewidth=1.5)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if min(losses) > 0 and max(losses) / min(losses) > 100:
            ax.set_yscale("log")
        ax.set_title(record["check"], fontsize=9)
        fig.tight_layout()
        name = f"curves/{i}.png"
        fig.savefig(directory / name)
        plt.close(fig)
        images[i] = name
    return images


def _page(records: list[dict[str, Any]], images: dict[int, str]) -> str:
    failed = sum(1 for r in records if not r["passed"] and not r["expected_failure"])
    cards = "\n".join(_card(i, r, images.get(i)) for i, r in enumerate(records))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlcheck report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
.card {{ border: 1px solid #ccc; border-left: 6px solid #2c7a3f; padding: .6em 1em; margin: .8em 0; }}
.card.failed {{ border-left-color: #c0392b; }} .card.expected, .card.incomplete {{ border-left-color: #d68910; }}
h2 {{ font-size: 1em; margin: 0 0 .3em; }} .meta {{ color: #555; font-size: .9em; }}
table {{ border-collapse: collapse; font-size: .9em; }} td {{ padding: 0 1em 0 0; vertical-align: top; }}
.cause {{ font-family: monospace; color: #c0392b; }} img {{ float: right; margin-left: 1em; }}
</style></head><body>
<h1>mlcheck: {len(records)} check(s), {failed} failed</h1>
{cards}
</body></html>
"""


def _card(index: int, record: dict[str, Any], image: str | None) -> str:
    e = html.escape
    kind = ("expected" if record["expected_failure"] else "passed" if record["passed"] else
            "incomplete" if record["verdict"] == "did not finish" else "failed")
    verdict = record["verdict"] + (" (expected: xfail)" if record["expected_failure"] else "")
    loss = (f"loss {fmt(record['start_loss'])} → {fmt(record['end_loss'])} over {record['steps']} steps"
            if record["losses"] and record["start_loss"] is not None and record["end_loss"] is not None else "")
    figures = "".join(f"<tr><td>{e(k.replace('_', ' '))}</td><td>{e(_shown(v))}</td></tr>"
                      for k, v in record["figures"].items())
    causes = "".join(f'<div class="cause">{e(c)}</div>' for c in record["causes"])
    notes = "".join(f"<div class=meta>note: {e(n)}</div>" for n in record["notes"])
    img = f'<img src="{e(image)}" alt="loss curve of check {index}" width="400">' if image else ""
    return (f'<div class="card {kind}" id="check-{index}">{img}<h2>{e(record["check"])}: {e(verdict)}</h2>'
            f'<div class=meta>{e(record["nodeid"])} · {record["seconds"]:.2f}s on {e(record["device"])}, seed '
            f'{record["seed"]}{" · " + e(loss) if loss else ""}</div>'
            f'{"<p>" + e(record["headline"]) + "</p>" if record["headline"] else ""}{causes}'
            f"<table>{figures}</table>{notes}<div style='clear:both'></div></div>")


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {_shown(v)}" for k, v in value.items())
    return "" if value is None else str(value)
