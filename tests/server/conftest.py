"""Fixtures for the HTTP service tests (helpers live in serverkit.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from serverkit import FakeFluency

from mtcheck.config import Config
from mtcheck.server.app import create_app
from mtcheck.server.service import CheckService


@pytest.fixture
def service() -> CheckService:
    return CheckService(Config(lm=False))


@pytest.fixture
def client(service) -> Iterator[TestClient]:
    with TestClient(base_url="http://localhost", app=create_app(service, max_body=20_000)) as test_client:
        yield test_client


@pytest.fixture
def fake_lm() -> FakeFluency:
    return FakeFluency()


@pytest.fixture
def lm_client(fake_lm) -> Iterator[TestClient]:
    with TestClient(base_url="http://localhost", app=create_app(CheckService(Config(lm=True), fluency=fake_lm))) as test_client:
        yield test_client
