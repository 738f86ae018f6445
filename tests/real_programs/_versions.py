"""The buggy and fixed versions of a corpus module that writes one builder per framework."""

from __future__ import annotations

from typing import Any, Callable

Build = Callable[[str], dict[str, Any]]


def versions(torch: Callable[[bool], dict[str, Any]], keras: Callable[[bool], dict[str, Any]], *,
             flag: str = "fixed") -> tuple[Build, Build]:
    """``buggy(framework)`` and ``fixed(framework)`` from builders that take one flag: True for the
    fixed version (``flag="fixed"``) or for the buggy one (``flag="bug"``)."""
    if flag not in ("fixed", "bug"):
        raise ValueError(f"flag must be 'fixed' or 'bug', not {flag!r}")
    builders = {"torch": torch, "keras": keras}

    def build(framework: str, is_fixed: bool) -> dict[str, Any]:
        if framework not in builders:
            raise ValueError(framework)
        return builders[framework](is_fixed if flag == "fixed" else not is_fixed)

    def buggy(framework: str) -> dict[str, Any]:
        return build(framework, False)

    def fixed(framework: str) -> dict[str, Any]:
        return build(framework, True)

    return buggy, fixed
