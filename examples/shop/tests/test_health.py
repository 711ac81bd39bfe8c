"""The health endpoint load balancers and dashboards poll."""

import pytest

from shop import ops


@pytest.mark.django_db
def test_health_endpoint_is_json(client):
    response = client.get("/api/ops/health")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_health_reports_database_ok(client):
    assert client.get("/api/ops/health").json()["database"] == "ok"


@pytest.mark.django_db
def test_health_counts_are_positive(client):
    body = client.get("/api/ops/health").json()
    assert body["db_connections"] >= 1 and body["redis_clients"] >= 1


@pytest.mark.isolation
@pytest.mark.django_db
def test_health_reports_a_single_instance(client):
    assert client.get("/api/ops/health").json() == {
        "database": "ok",
        "db_connections": 1,
        "redis_clients": 1,
        "instances": 1,
    }


@pytest.mark.isolation
@pytest.mark.django_db
def test_database_connections_are_not_leaked(client):
    for _ in range(5):
        client.get("/api/ops/health")
    assert ops.db_connections() == 1


@pytest.mark.isolation
@pytest.mark.django_db
def test_one_event_listener_session():
    assert ops.listener_sessions() == 1
