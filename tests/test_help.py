"""`pytest --help` and `pytest --markers` document the plugin's options, ini keys and marker."""

from __future__ import annotations

import re

import pytest

OPTIONS = {
    "--mlcheck-gpu": "off (CPU).",
    "--mlcheck-device": "cpu.",
    "--mlcheck-seed": "0.",
    "--mlcheck-max-seconds": "120.",
    "--mlcheck-examples": "50.",
    "--mlcheck-report": "no files.",
    "--mlcheck-model": "none.",
    "--mlcheck-inputs": "inferred from the model.",
}
GROUP_TITLE = "training-sanity checks (pytest-mlcheck):"


def _section(lines: list[str], title: str) -> str:
    """The text of one --help section: from its title to the next blank line, whitespace folded."""
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return " ".join(" ".join(lines[start + 1:end]).split())


def _help_of(section: str, name: str) -> str:
    """The help text of one option within a section: up to the next option."""
    match = re.search(re.escape(name) + r"(?:=\S+)?\s+(.*?)(?=\s--\S|$)", section)
    assert match, f"{name} not in {section!r}"
    return match.group(1)


@pytest.fixture
def help_lines(pytester: pytest.Pytester) -> list[str]:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    return result.outlines


def test_help_lists_the_mlcheck_option_group(help_lines: list[str]) -> None:
    assert GROUP_TITLE in help_lines
    section = _section(help_lines, GROUP_TITLE)
    for name in OPTIONS:
        assert name in section


@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_option_help_ends_with_its_default(help_lines: list[str], name: str) -> None:
    text = _help_of(_section(help_lines, GROUP_TITLE), name)
    assert text.endswith(f"Default: {OPTIONS[name]}"), text


@pytest.mark.parametrize("key", ["mlcheck_gpu", "mlcheck_device", "mlcheck_seed", "mlcheck_max_seconds",
                                 "mlcheck_examples", "mlcheck_report"])
def test_each_ini_key_is_listed_with_its_default(help_lines: list[str], key: str) -> None:
    text = " ".join(" ".join(help_lines).split())
    match = re.search(re.escape(key) + r" \(string\): (.*?)(?= \w+ \(\w+\):| Environment variables:)", text)
    assert match, f"{key} not in the ini section of --help"
    assert "Default: " in match.group(1), match.group(1)


def test_markers_lists_the_mlcheck_marker_with_its_keys(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["@pytest.mark.mlcheck(seed=None, device=None, gpu=None, max_seconds=None, examples=None): "
         "*override the command line*"]
    )
