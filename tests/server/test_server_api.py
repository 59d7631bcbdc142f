"""The JSON API: each endpoint, the size limit, validation errors, options and the report schema."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mtcheck.cli.main import main as cli_main
from mtcheck.config import Config
from mtcheck.server.app import MEDIA_TYPES, create_app
from mtcheck.server.service import CheckService

DOUBLED_PERIOD = "The mayor opened the new bridge on Friday. . Residents welcomed it.\n"
REPEATED_WORD = "Farmers said the the harvest was late this year. Prices rose.\n"
OPEN_QUOTE = 'She said "the vote will be held on Sunday. Critics disagreed.\n'
CLEAN = "The market reopened on Monday after a week of repairs. Traders returned early.\n"


def check(client: TestClient, text: str, **extra):
    response = client.post("/v1/check", json={"text": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def codes(report: dict) -> list[str]:
    return [f["code"] for f in report["documents"][0]["findings"]]


def test_check_reports_spans_whose_text_is_the_slice(client):
    report = check(client, DOUBLED_PERIOD + REPEATED_WORD + OPEN_QUOTE, source="desk/story.txt")
    text = DOUBLED_PERIOD + REPEATED_WORD + OPEN_QUOTE
    document = report["documents"][0]
    assert document["source"] == "desk/story.txt"
    assert {"P001", "R003", "Q002"} <= set(codes(report))
    for finding in document["findings"]:
        assert finding["text"] == text[finding["start"] : finding["end"]]
    assert report["summary"]["findings"] == len(document["findings"])


def test_check_answer_is_exactly_the_cli_json(client):
    text = DOUBLED_PERIOD + OPEN_QUOTE
    cli = CliRunner().invoke(cli_main, ["check", "--no-lm", "--format", "json", "-"], input=text)
    assert cli.exit_code == 1, cli.output
    assert check(client, text) == json.loads(cli.output)


def test_empty_and_blank_text_give_a_clean_report(client):
    for text in ("", "   \n\n  "):
        report = check(client, text)
        assert report["version"] == 1
        assert report["documents"][0]["findings"] == []
        assert report["summary"]["findings"] == 0


def test_clean_text_has_no_findings(client):
    assert codes(check(client, CLEAN)) == []


def test_markup_in_the_text_comes_back_as_plain_json_text(client):
    text = "The <script>alert('x')</script> council met. . Then it adjourned & left.\n"
    response = client.post("/v1/check", json={"text": text, "source": "<img src=x onerror=alert(1)>"})
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["documents"][0]["source"] == "<img src=x onerror=alert(1)>"
    assert codes(report) == ["P001"]


def test_offsets_count_code_points_beyond_the_bmp(client):
    text = "Fans cheered 🎉 the team. . Then they went home.\n"
    finding = check(client, text)["documents"][0]["findings"][0]
    assert finding["text"] == text[finding["start"] : finding["end"]] == " ."


def test_select_and_ignore_apply_to_one_request_only(client):
    text = DOUBLED_PERIOD + REPEATED_WORD
    assert codes(check(client, text, options={"select": ["r"]})) == ["R003"]
    assert codes(check(client, text, options={"ignore": ["P001"]})) == ["R003"]
    # The next request without options sees every rule again: the shared checker was not changed.
    assert codes(check(client, text)) == ["P001", "R003"]


def test_server_ignore_list_is_kept_and_extended(service):
    app = create_app(CheckService(Config(lm=False, ignore=("Q",))))
    with TestClient(base_url="http://localhost", app=app) as client:
        text = DOUBLED_PERIOD + REPEATED_WORD + OPEN_QUOTE
        assert "Q002" not in codes(check(client, text))
        assert codes(check(client, text, options={"ignore": ["R"]})) == ["P001"]


def test_rules_lists_every_rule_like_the_cli(client):
    rows = client.get("/v1/rules").json()
    cli = json.loads(CliRunner().invoke(cli_main, ["rules", "--format", "json"]).output)
    assert [{k: v for k, v in row.items() if k != "uses_lm"} for row in rows] == cli
    by_code = {row["code"]: row for row in rows}
    assert by_code["F001"]["uses_lm"] is True and by_code["P001"]["uses_lm"] is False
    assert set(by_code["P001"]) == {"code", "slug", "severity", "family", "summary", "description", "uses_lm"}


def test_healthz_without_a_model(client):
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "version": health["version"], "model_loaded": False, "model": None,
                      "lm_default": False, "max_body_bytes": 20_000}


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/check", "/v1/rules", "/healthz"} <= set(spec["paths"])
    check_op = spec["paths"]["/v1/check"]["post"]
    assert {"200", "413", "422"} <= set(check_op["responses"])
    assert "CheckRequest" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_body_over_the_limit_is_413_json(client):
    response = client.post("/v1/check", json={"text": "word " * 5_000})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "20000 bytes" in response.json()["message"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(10):
            yield b'{"text": "' + b"x" * 5_000

    response = client.post("/v1/check", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_body_just_under_the_limit_is_checked(client):
    text = "Rain fell. " * 1_700
    assert len(json.dumps({"text": text})) < 20_000
    assert check(client, text)["summary"]["sentences"] == 1_700


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"text": "unterminated', "not valid JSON"),
        ("", "body is empty"),
        ("[1, 2]", "must be a JSON object"),
        ('{"source": "a.txt"}', "text: Field required"),
        ('{"text": 42}', "text: Input should be a valid string"),
        ('{"text": "x", "options": {"lm": "yes"}}', "options.lm: Input should be a valid boolean"),
        ('{"text": "x", "options": {"select": "P001"}}', "options.select: Input should be a valid list"),
        ('{"text": "x", "options": {"select": ["NOPE"]}}', "unknown rule code or prefix 'NOPE'"),
        ('{"text": "x", "opts": {}}', "opts: Extra inputs are not permitted"),
        ('{"text": "\\ud800 lone"}', "unpaired UTF-16 surrogate"),
    ],
)
def test_malformed_requests_are_422_with_a_clear_message(client, body, fragment):
    response = client.post("/v1/check", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["error"] == "invalid_request"
    assert fragment in problem["message"]


def test_asking_for_the_model_on_a_no_lm_server_is_422(client):
    response = client.post("/v1/check", json={"text": "x", "options": {"lm": True}})
    assert response.status_code == 422
    assert "not loaded" in response.json()["message"]


def test_unknown_paths_and_methods_answer_json(client):
    assert client.get("/v2/nothing").json()["error"] == "not_found"
    assert client.get("/v1/check").status_code == 405


@pytest.mark.parametrize("fmt", sorted(set(MEDIA_TYPES) - {"json"}))
def test_other_formats_render_the_same_report(client, fmt):
    response = client.post(f"/v1/check?format={fmt}", json={"text": DOUBLED_PERIOD, "source": "story.txt"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA_TYPES[fmt].split(";")[0]
    assert response.text.strip()


def test_html_report_escapes_markup_and_is_sandboxed(client):
    text = "The <script>alert('x')</script> council met. . Then it left.\n"
    response = client.post("/v1/check?format=html", json={"text": text})
    assert "<script>alert('x')</script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert response.headers["content-security-policy"].startswith("sandbox")


def test_page_and_assets_are_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("app.js", "app.css"):
        body = client.get(f"/static/{asset}").text
        assert "http://" not in body and "https://" not in body
    assert "innerHTML" not in client.get("/static/app.js").text
    assert client.get("/static/server.py").status_code == 404


def test_model_requests_use_the_shared_model(lm_client, fake_lm):
    report = check(lm_client, DOUBLED_PERIOD)
    assert codes(report) == ["F001", "P001"]
    assert report["documents"][0]["fluency"] == 0.5
    assert codes(check(lm_client, DOUBLED_PERIOD, options={"lm": False})) == ["P001"]
    assert report["documents"][0]["sentences"][0]["fluency"] == 0.5
    assert fake_lm.calls == 1
    health = lm_client.get("/healthz").json()
    assert health["model_loaded"] is True and health["lm_default"] is True


def test_worker_processes_answer_exactly_like_threads():
    threaded = create_app(CheckService(Config(lm=False), processes=0))
    pooled_service = CheckService(Config(lm=False), processes=1)
    pooled = create_app(pooled_service)
    requests = [
        ("json", {"text": DOUBLED_PERIOD + REPEATED_WORD + OPEN_QUOTE, "source": "a.txt"}),
        ("json", {"text": DOUBLED_PERIOD + REPEATED_WORD, "options": {"ignore": ["P"]}}),
        ("markdown", {"text": OPEN_QUOTE, "source": "b.txt"}),
        ("json", {"text": ""}),
    ]
    with TestClient(base_url="http://localhost", app=threaded) as one, TestClient(base_url="http://localhost", app=pooled) as other:
        assert pooled_service.pool() is not None
        for fmt, body in requests:
            a = one.post(f"/v1/check?format={fmt}", json=body)
            b = other.post(f"/v1/check?format={fmt}", json=body)
            assert a.status_code == b.status_code == 200
            assert a.content == b.content
    assert pooled_service._pool is None  # shut down with the app


def test_a_dead_worker_process_is_replaced():
    import os
    import signal

    service = CheckService(Config(lm=False), processes=1)
    with TestClient(base_url="http://localhost", app=create_app(service)) as client:
        pid = service.pool().submit(os.getpid).result(timeout=30)
        os.kill(pid, signal.SIGKILL)
        first = client.post("/v1/check", json={"text": DOUBLED_PERIOD})
        assert first.status_code == 503, first.text
        assert first.json()["error"] == "worker_died" and first.headers["retry-after"] == "1"
        # The next request gets a fresh pool.
        assert codes(check(client, DOUBLED_PERIOD)) == ["P001"]


def test_model_is_not_run_when_no_fluency_rule_is_selected(lm_client, fake_lm):
    assert codes(check(lm_client, DOUBLED_PERIOD, options={"select": ["P"]})) == ["P001"]
    assert codes(check(lm_client, DOUBLED_PERIOD, options={"ignore": ["F"]})) == ["P001"]
    assert fake_lm.calls == 0


def test_a_crash_inside_a_check_answers_json_500(service):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    service.checker.check = broken
    with TestClient(base_url="http://localhost", app=create_app(service), raise_server_exceptions=False) as client:
        response = client.post("/v1/check", json={"text": "Anything."})
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "the server failed: RuntimeError", "details": []}
