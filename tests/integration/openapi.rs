//! The OpenAPI document: served on both hosts, valid OpenAPI 3.1 by `openapi-spec-validator`,
//! and in step with the router: every route a sample request in `events/` uses is in it (the
//! samples cover every route; the functions' tests fail on a sample they do not check), and
//! every operation in it is served (no fallback 404 or 405).

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use hookline_tests::functions::{events_dir, sample_event, spawn_functions};
use hookline_tests::spawn_app;
use serde_json::Value;

const VALIDATE: &str = r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.versions import consts
document = json.load(sys.stdin)
validate(document)
print(document["openapi"], len(document["paths"]))
"#;

fn validate_with_python(document: &Value) -> String {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON: run the README's test command");
    let mut child =
        Command::new(python).args(["-c", VALIDATE]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), document).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "openapi-spec-validator refused the document: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `(METHOD, /path/{param})` of every operation in the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let (status, document) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    let checked = validate_with_python(&document);
    assert!(checked.starts_with("3.1"), "{checked}");

    let documented = operations(&document);
    let mut sampled = BTreeSet::new();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let Some(route) = path.is_file().then(|| sample_event(&name, &[])["routeKey"].as_str().map(str::to_owned)).flatten() else {
            continue;
        };
        let (method, path) = route.split_once(' ').unwrap();
        sampled.insert((method.to_owned(), path.to_owned()));
        if !documented.contains(&(method.to_owned(), path.to_owned())) {
            missing.push(route);
        }
    }
    assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
    // And the other way: a route with no sample request would escape the template's check.
    let unsampled: Vec<_> = documented.difference(&sampled).collect();
    assert!(unsampled.is_empty(), "documented routes with no sample in events/ (scripts/generate-events.py): {unsampled:?}");

    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "wh_none")
            .replace("{delivery_id}", "dlv_none")
            .replace("{event_type}", "invoice.paid")
            .replace("{file}", "app.js");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let text = app.client.request(method.clone(), format!("{}{concrete}", app.address)).send().await.unwrap().text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_ne!(body["detail"], "no such route", "{method} {path} is documented but not served");
        assert_ne!(body["code"], "method_not_allowed", "{method} {path} is documented but not served");
    }

    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!((schemes["api_key"]["in"].as_str(), schemes["api_key"]["name"].as_str()), (Some("header"), Some("X-API-Key")));
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in ["ErrorBody", "WebhookView", "WebhookRequest", "Delivery", "Attempt", "MetricsReport", "PublishRequest", "PublishOutcome"] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    let create = &document["paths"]["/api/v1/webhooks"]["post"];
    assert_eq!(create["security"][0]["bearer"][0], "webhooks:write");
    assert!(
        create["responses"]["422"]["content"]["application/json"]["schema"].is_object(),
        "the error shape: {}",
        create["responses"]["422"]
    );
    let publish = &document["paths"]["/api/v1/events"]["post"];
    assert!(publish["security"][0].get("api_key").is_some());
}

/// The `api` function serves the same document.
#[tokio::test]
async fn the_api_function_serves_the_same_document() {
    let functions = spawn_functions(3, "1").await;
    let (status, document) = functions.call("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(document, serde_json::to_value(hookline_core::api::openapi()).unwrap());
}
