"""Schemathesis against the served OpenAPI document, with valid tokens: no 500, nothing off-schema.

Runs through Schemathesis' Python API against the WSGI app, bounded to 30
examples per operation. Half the examples address the real citizen and a real
message, so the success paths are checked as well as the refusals.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
PORTAL_OPERATIONS = {"sendMessage", "messageStatus"}


def test_document_is_served_as_openapi_3_1(client, kit):
    response = client.get(f"{kit.API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://localhost/api/postbox/v1"}]
    assert set(document["paths"]) == {"/messages", "/messages/{message_id}",
                                      "/messages/{message_id}/attachments/{number}", "/messages/{message_id}/status"}


def test_api_conforms_to_its_openapi_document(app, leer, citizen, kit):
    sub = leer.sub()
    portal, reader = leer.portal_token(), leer.citizen_token()
    real = [leer.send(portal, sub, subject=f"Echt {n}", attachments=[
        {"filename": "a.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}]).get_json()["id"]
        for n in range(3)]
    schema = schemathesis.openapi.from_wsgi(f"{kit.API}/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.definition.raw["operationId"] for op in operations} == {
        "sendMessage", "listMessages", "readMessage", "deleteMessage", "downloadAttachment", "messageStatus"}

    for operation in operations:
        token = portal if operation.definition.raw["operationId"] in PORTAL_OPERATIONS else reader

        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), use_real=st.booleans(), which=st.sampled_from(real))
        def run(case, use_real, which):
            if use_real:
                if "message_id" in (case.path_parameters or {}):
                    case.path_parameters["message_id"] = which
                if isinstance(case.body, dict) and "recipient" in case.body:
                    case.body["recipient"] = sub
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        run()
