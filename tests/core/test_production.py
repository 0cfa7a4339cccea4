"""Production settings as a deploy loads them: real Stripe, no debug."""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _production_environ() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location(
        "check_deploy", ROOT / "scripts" / "check_deploy.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.production_environ()


def _run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def production_settings() -> dict:
    """What a process started with production settings sees (one start, read
    by several tests: each start imports Django and every app)."""
    out = _run_python(
        "import django, json; django.setup()\n"
        "from django.conf import settings\n"
        "from apps.billing import gateway\n"
        "print(json.dumps({'api_host': gateway.api_host(),\n"
        "    'is_localstripe': gateway.is_localstripe(),\n"
        "    'csp': settings.CONTENT_SECURITY_POLICY['DIRECTIVES']}))",
        _production_environ(),
    )
    return json.loads(out)


def test_production_gateway_talks_to_stripe_itself_when_no_host_is_set(
    production_settings,
):
    assert production_settings["api_host"] == "https://api.stripe.com"
    assert production_settings["is_localstripe"] is False


def test_wsgi_without_a_settings_module_loads_production_settings():
    env = _production_environ()
    del env["DJANGO_SETTINGS_MODULE"]
    out = _run_python(
        "import config.wsgi\n"
        "from django.conf import settings\n"
        "print(settings.SETTINGS_MODULE, settings.DEBUG)",
        env,
    )
    assert out == "config.settings.production False"


def test_every_procfile_process_defaults_to_production_settings():
    lines = [
        line
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {line.split(":", 1)[0] for line in lines} == {
        "release",
        "web",
        "worker",
        "beat",
    }
    for line in lines:
        command = line.split(":", 1)[1].strip()
        # Run the line's own environment prefix, with the process swapped for
        # printenv, exactly as the platform's shell would expand it.
        prefix = command.split(" ", 1)[0]
        out = subprocess.run(
            [
                "bash",
                "-c",
                f"unset DJANGO_SETTINGS_MODULE; {prefix} printenv "
                "DJANGO_SETTINGS_MODULE",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert out == "config.settings.production", line


def test_production_csp_allows_scripts_from_js_stripe_com_only(production_settings):
    directives = production_settings["csp"]
    assert directives["script-src"] == ["'self'", "https://js.stripe.com"]
    assert directives["connect-src"] == [
        "'self'",
        "https://api.stripe.com",
        "https://js.stripe.com",
    ]
    assert directives["default-src"] == ["'self'"]
    external = {
        source
        for sources in directives.values()
        for source in sources
        if source.startswith("http")
    }
    assert external == {
        "https://js.stripe.com",
        "https://api.stripe.com",
        "https://hooks.stripe.com",
    }
