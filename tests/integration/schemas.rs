//! The published JSON Schemas (`docs/schemas/<event_type>.json`): one per type a receiver can
//! get, generated from the catalog (the files must match what the code produces now;
//! `HOOKLINE_WRITE_SCHEMAS=1` rewrites them), valid 2020-12 schemas by the `jsonschema` Python
//! package, and real deliveries of every ISP type validate against them while a body that breaks
//! the catalog's rules does not.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use hookline_core::domain::catalog;
use hookline_core::domain::envelope_schema::envelope_schema;
use hookline_tests::{TestReceiver, spawn_app};
use serde_json::{Value, json};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas")
}

/// File name → contents, for every type a receiver can get (`webhook.test` included).
fn generated() -> BTreeMap<String, String> {
    catalog::subscribable()
        .chain([catalog::test_ping()])
        .map(|info| (format!("{}.json", info.event_type), serde_json::to_string_pretty(&envelope_schema(info)).unwrap() + "\n"))
        .collect()
}

fn on_disk() -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(schemas_dir()) else { return BTreeMap::new() };
    entries
        .map(|entry| entry.unwrap().path())
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap()))
        .collect()
}

#[test]
fn the_published_schemas_match_the_catalog() {
    let generated = generated();
    if std::env::var_os("HOOKLINE_WRITE_SCHEMAS").is_some() {
        std::fs::remove_dir_all(schemas_dir()).ok();
        std::fs::create_dir_all(schemas_dir()).unwrap();
        for (name, text) in &generated {
            std::fs::write(schemas_dir().join(name), text).unwrap();
        }
    }
    let on_disk = on_disk();
    let names = |files: &BTreeMap<String, String>| files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&on_disk), names(&generated), "docs/schemas lists other types than the catalog: rerun with HOOKLINE_WRITE_SCHEMAS=1");
    for (name, text) in &generated {
        assert_eq!(&on_disk[name], text, "docs/schemas/{name} drifted from the catalog: rerun with HOOKLINE_WRITE_SCHEMAS=1");
    }
    assert_eq!(generated.len(), 25 + catalog::operational().len() + 1);
}

/// Checks each file is a valid 2020-12 schema whose example validates, that each delivered body
/// validates against its type's file, and that each broken body is refused.
const VALIDATE: &str = r#"
import json, pathlib, sys
from jsonschema import Draft202012Validator
case = json.load(sys.stdin)
folder = pathlib.Path(case["folder"])
validators = {}
for path in sorted(folder.glob("*.json")):
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for example in schema["examples"]:
        validator.validate(example)
    validators[path.stem] = validator
for body in case["delivered"]:
    validators[json.loads(body)["event_type"]].validate(json.loads(body))
for name, broken in case["broken"]:
    errors = list(validators[name].iter_errors(broken))
    assert errors, f"{name}: a broken body validated: {broken}"
print(f"{len(validators)} schemas, {len(case['delivered'])} deliveries valid, {len(case['broken'])} broken bodies refused")
"#;

fn run_python(input: &Value) -> String {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON is set by the test command");
    let mut child = std::process::Command::new(python)
        .args(["-c", VALIDATE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A delivered body with one thing wrong, each of which the schema must refuse.
fn broken_variants(body: &Value) -> Vec<Value> {
    let mut wrong_type = body.clone();
    wrong_type["event_type"] = json!("customer.deleted");
    let mut no_metadata = body.clone();
    no_metadata.as_object_mut().unwrap().remove("metadata");
    let mut bad_id = body.clone();
    bad_id["id"] = json!("has spaces");
    let mut bad_time = body.clone();
    bad_time["timestamp"] = json!("yesterday");
    let mut no_email = body.clone();
    no_email["data"].as_object_mut().unwrap().remove("email");
    vec![wrong_type, no_metadata, bad_id, bad_time, no_email]
}

#[tokio::test]
async fn every_isp_types_delivery_validates_against_its_published_schema() {
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    app.create_webhook(&receiver.url, &["*"], json!({})).await;
    for info in catalog::all() {
        app.publish(&info.event_type, info.example.clone()).await;
    }
    let delivered: Vec<String> = receiver.wait_for(catalog::all().len()).await.into_iter().map(|request| request.body).collect();
    let created =
        delivered.iter().map(|body| serde_json::from_str::<Value>(body).unwrap()).find(|body| body["event_type"] == "customer.created");
    let broken: Vec<Value> = broken_variants(&created.unwrap()).into_iter().map(|body| json!(["customer.created", body])).collect();
    let said = run_python(&json!({"folder": schemas_dir(), "delivered": delivered, "broken": broken}));
    assert_eq!(said, format!("{} schemas, 25 deliveries valid, 5 broken bodies refused", generated().len()));
}
