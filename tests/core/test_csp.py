import pytest
from csp.constants import NONCE
from csp.decorators import csp_exempt, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from apps.core.csp import CSPMiddleware

RO = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"}}


def _answer(middleware_class, view, path="/api/v1/usage/", *, use_nonce=False):
    request = RequestFactory().get(path)
    middleware = middleware_class(lambda r: view(r))
    middleware.process_request(request)
    if use_nonce:
        str(request.csp_nonce)
    response = view(request)
    return request, middleware.process_response(request, response)


def _plain(request):
    return HttpResponse("{}")


@csp_update({"worker-src": ["'self'", "blob:"]})
def _updated(request):
    return HttpResponse("{}")


@csp_exempt()
def _exempt(request):
    return HttpResponse("{}")


def _headers(response):
    return {
        name: response.get(name)
        for name in (
            "Content-Security-Policy",
            "Content-Security-Policy-Report-Only",
        )
    }


@pytest.mark.parametrize("view", [_plain, _updated, _exempt])
@pytest.mark.parametrize("report_only", [False, True])
def test_csp_middleware_headers_match_django_csp(settings, view, report_only):
    if report_only:
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = RO
    for _ in range(2):  # the second answer comes from the built text
        _, ours = _answer(CSPMiddleware, view)
        _, theirs = _answer(DjangoCSPMiddleware, view)
        assert _headers(ours) == _headers(theirs)
    assert ("Content-Security-Policy" in ours) is (view is not _exempt)


def test_csp_middleware_follows_a_changed_setting(settings):
    _, before = _answer(CSPMiddleware, _plain)
    policy = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**policy["DIRECTIVES"], "img-src": ["'self'", "example.com"]}
    }
    _, after = _answer(CSPMiddleware, _plain)
    assert "example.com" not in before["Content-Security-Policy"]
    assert "img-src 'self' example.com" in after["Content-Security-Policy"]


def test_csp_middleware_excluded_prefix_gets_no_header(settings):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/api/"],
    }
    _, response = _answer(CSPMiddleware, _plain)
    assert "Content-Security-Policy" not in response


def test_csp_middleware_used_nonce_is_in_the_header(settings):
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", NONCE]}
    }
    request, response = _answer(CSPMiddleware, _plain, use_nonce=True)
    assert f"'nonce-{request.csp_nonce}'" in response["Content-Security-Policy"]


def test_csp_middleware_nonce_after_the_response_raises():
    request, _ = _answer(CSPMiddleware, _plain)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
