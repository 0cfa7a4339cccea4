import pytest

pytestmark = pytest.mark.django_db


def test_healthz_returns_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == ["beat", "broker", "cache", "database"]


def test_readyz_names_the_failed_dependency(client, monkeypatch):
    from apps.core import views

    def broken():
        raise ConnectionError("cache down")

    monkeypatch.setattr(views, "_check_cache", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == {"cache": "ConnectionError"}


def test_readyz_unreachable_broker_is_503_naming_it(client, settings, monkeypatch):
    from apps.core.heartbeat import beat_heartbeat_record
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    beat_heartbeat_record()  # beat is fine: only the broker is down
    connect = app.connection_for_write
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    monkeypatch.setattr(
        app, "connection_for_write", lambda: connect(url="redis://127.0.0.1:1/0")
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert list(response.json()["failed"]) == ["broker"]


# `worker` stands for "Redis is there": the services pass runs it against the
# real broker, which eager test settings otherwise never touch.
@pytest.mark.worker
def test_readyz_with_the_real_broker_is_200(client, settings):
    from apps.core.heartbeat import beat_heartbeat_record
    from config.celery import app

    assert app.conf.broker_url == settings.REDIS_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    beat_heartbeat_record()

    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json()["checks"] == ["beat", "broker", "cache", "database"]


def test_unknown_page_renders_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"We could not find that page." in response.content


def test_unknown_api_path_returns_error_envelope(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef123456")
    assert response["X-Request-ID"] == "abcdef123456"


def test_api_schema_builds_without_warnings(client):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["openapi"].startswith("3.")
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)


def test_api_docs_render(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_home_page_opens_on_the_catalogue(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'href="/products/"' in response.content
