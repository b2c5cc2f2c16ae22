"""axe-core in the page: the WCAG 2.1 A and AA rules, zero violations allowed.

axe-core comes from npm (``tests/e2e/package.json``; ``scripts/test`` installs
it). The pages' Content-Security-Policy forbids injected scripts, so the test
contexts are made with ``bypass_csp=True``; the pages themselves stay as served.
"""

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def ensure_axe() -> Path:
    """Install axe-core from the lock file when it is missing (npm ci)."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True,
                       timeout=300)
    return AXE


def _describe(violations) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
            summary = node.get("failureSummary", "").replace("\n", " ")
            lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


class Auditor:
    """Runs axe on pages and remembers what it checked (``audited``: list of (what, lang, url))."""

    def __init__(self):
        self.script = ensure_axe()
        self.audited = []

    def __call__(self, page, what: str):
        page.wait_for_load_state("load")
        page.add_script_tag(path=str(self.script))
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            WCAG_TAGS)
        lang = page.evaluate("document.documentElement.lang")
        self.audited.append((what, lang, page.url))
        violations = result["violations"]
        assert not violations, f"axe found WCAG 2.1 A/AA violations on {what} ({lang}, {page.url}):\n" + \
            _describe(violations) + "\n" + json.dumps([v["id"] for v in violations])
        return lang
