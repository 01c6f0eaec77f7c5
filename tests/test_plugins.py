"""Profiles, env kinds and policies registered from outside vlagent: ``VLAGENT_PLUGINS`` and entry points.

The plugins live in tests/plugins/ (``os_atlas_plugin`` is the README's example, verbatim); each test runs
the real ``vlagent`` command in a subprocess with that folder on ``PYTHONPATH``, as a user's own module would
be, so nothing here is registered in the test process itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vlagent.actions import PluginError, ProfileError
from vlagent.actions.plugins import made, plugin_modules
from vlagent.agent.trajectory import find_episodes, read_meta, read_steps
from vlagent.prompts.profiles import get_profile, register_profile

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).resolve().parent / "plugins"
VLAGENT = [sys.executable, "-c", "import sys; sys.argv[0] = 'vlagent'; from vlagent.agent.cli import main; main()"]
OS_ATLAS_REPLY = "thoughts:\nThe OK button is in the middle.\nactions:\nCLICK <point>[[500, 250]]</point>"


def vlagent(*args: str, plugins: str | None = None, path: list[Path] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VLAGENT_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [*(path or []), PLUGINS])
    if plugins is not None:
        env["VLAGENT_PLUGINS"] = plugins
    return subprocess.run([*VLAGENT, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def test_a_plugin_profile_parses_with_its_own_parser() -> None:
    proc = vlagent("parse", "--profile", "os-atlas", "--width", "1000", "--height", "500", OS_ATLAS_REPLY,
                   plugins="os_atlas_plugin")
    assert proc.returncode == 0, proc.stderr
    (click,) = json.loads(proc.stdout)
    assert click["type"] == "click"
    assert click["point"] == {"space": "rel1000", "x": 500.0, "y": 250.0, "screen": [500, 125]}


def test_plugin_profiles_are_named_in_help_and_in_unknown_profile_errors() -> None:
    help_text = vlagent("parse", "--help", plugins="os_atlas_plugin").stdout
    assert "os-atlas" in " ".join(help_text.split())
    proc = vlagent("parse", "--profile", "os-atlaz", "--width", "10", "--height", "10", "x",
                   plugins="os_atlas_plugin")
    assert proc.returncode == 1
    assert "unknown profile 'os-atlaz'; did you mean os-atlas? known profiles: json, os-atlas, qwen2-vl" in proc.stderr
    without = vlagent("parse", "--profile", "os-atlas", "--width", "10", "--height", "10", "x")
    assert without.returncode == 1 and "unknown profile 'os-atlas'" in without.stderr


def test_a_plugin_env_runs_with_a_plugin_profile(tmp_path: Path) -> None:
    # The scripted oracle writes its replies with the plugin parser's format(); the loop parses them back.
    proc = vlagent("run", "--env", "tally:2", "--profile", "os-atlas", "--out", str(tmp_path), "--no-report",
                   plugins="os_atlas_plugin,tally_plugin")
    assert proc.returncode == 0, proc.stderr
    (folder,) = find_episodes(tmp_path)
    meta, steps = read_meta(folder), read_steps(folder)
    assert meta.success is True and meta.steps == 2 and meta.profile == "os-atlas"
    # The button's centre pixel (160, 120) of 320x240, aimed at its middle: thousandths 502, 502.
    assert [s.raw.splitlines()[-1] for s in steps] == ["CLICK <point>[[502, 502]]</point>"] * 2


def test_a_plugin_policy_drives_a_plugin_env(tmp_path: Path) -> None:
    proc = vlagent("run", "--env", "tally:3", "--backend", "python", "--model", "centre-clicker",
                   "--profile", "qwen2-vl", "--out", str(tmp_path), "--no-report", plugins="tally_plugin")
    assert proc.returncode == 0, proc.stderr
    meta = read_meta(find_episodes(tmp_path)[0])
    assert meta.success is True and meta.steps == 3


def test_entry_points_register_all_three_kinds(tmp_path: Path) -> None:
    # An installed distribution's entry points, as pip would leave them: a .dist-info folder on the path.
    (tmp_path / "my_vlagent_extras.py").write_text(
        "import dataclasses\n"
        "import os_atlas_plugin, tally_plugin\n"
        "from vlagent.envs.registry import Kind\n"
        "PROFILE = dataclasses.replace(os_atlas_plugin.PROFILE, name='os-atlas-ep')\n"
        "def kind():\n"
        "    return Kind('tally-ep', 'tally_plugin', 'tally-ep:N', 'tally, from an entry point', True, 'nothing')\n"
        "POLICY = tally_plugin.CentreClicker\n"
    )
    dist = tmp_path / "my_vlagent_extras-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-vlagent-extras\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[vlagent.profiles]\nos-atlas-ep = my_vlagent_extras:PROFILE\n\n"
        "[vlagent.envs]\ntally-ep = my_vlagent_extras:kind\n\n"
        "[vlagent.policies]\ncentre-ep = my_vlagent_extras:POLICY\n"
    )
    parsed = vlagent("parse", "--profile", "os-atlas-ep", "--width", "1000", "--height", "500", OS_ATLAS_REPLY,
                     path=[tmp_path])
    assert parsed.returncode == 0, parsed.stderr
    assert json.loads(parsed.stdout)[0]["point"]["screen"] == [500, 125]
    ran = vlagent("run", "--env", "tally-ep:1", "--backend", "python", "--model", "centre-ep", "--profile",
                  "qwen2-vl", "--out", str(tmp_path / "runs"), "--no-report", path=[tmp_path])
    assert ran.returncode == 0, ran.stderr
    assert read_meta(find_episodes(tmp_path / "runs")[0]).success is True


def test_a_plugin_that_cannot_be_imported_is_one_error_line() -> None:
    proc = vlagent("parse", "--profile", "json", "--width", "10", "--height", "10", "x",
                   plugins="os_atlas_plugin, no_such_plugin_module")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: PluginError: cannot import plugin 'no_such_plugin_module' (from $VLAGENT_PLUGINS): "
        "ModuleNotFoundError: No module named 'no_such_plugin_module'"
    ]


def test_registries_refuse_to_replace_what_is_registered() -> None:
    import dataclasses

    with pytest.raises(ProfileError, match="already registered as 'qwen2-vl'"):
        register_profile(dataclasses.replace(get_profile("qwen2-vl"), reply_format="anything"))
    assert plugin_modules({"VLAGENT_PLUGINS": " a ,b,, "}) == ["a", "b"]
    with pytest.raises(PluginError, match="expected a model profile"):
        made(lambda: "not a profile", type(get_profile("json")), "a model profile")


def test_the_readme_example_is_the_tested_plugin() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n# os_atlas_plugin\.py\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1, "README.md needs one ```python block starting with '# os_atlas_plugin.py'"
    assert blocks[0] == (PLUGINS / "os_atlas_plugin.py").read_text(encoding="utf-8")


def test_builtin_policies_are_names_for_the_python_backend() -> None:
    from vlagent.agent.scripted import OraclePolicy
    from vlagent.model import ModelRejected, make_backend

    backend = make_backend("python", "oracle")
    assert isinstance(backend.target, OraclePolicy) and backend.spec == "oracle"
    assert make_backend("python", "first-option").target.options == "first"
    with pytest.raises(ModelRejected, match=r"a policy name \(first-option, oracle, random\), got 'oracel'"):
        make_backend("python", "oracel")
