//! The Python client (`clients/python`) against a running `hookline serve`: its own unittest
//! suite, given the server's address, an admin token, a read-only token and an API key.

use hookline_tests::temp_path;

use crate::server_process::{ServerProcess, token};

#[tokio::test]
async fn the_python_clients_suite_passes_against_a_running_server() {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON is set by the test command");
    let data = temp_path("python-client.db");
    let server = ServerProcess::start(&data).await;
    let read_token = token(&data, "webhooks:read").await;
    let client = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/python");
    let output = tokio::process::Command::new(python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(client.join("tests"))
        .env("PYTHONPATH", client.join("src"))
        .env("HOOKLINE_URL", &server.address)
        .env("HOOKLINE_TOKEN", &server.token)
        .env("HOOKLINE_READ_TOKEN", read_token)
        .env("HOOKLINE_API_KEY", &server.api_key)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}\nserver:\n{}", server.output());
    assert!(said.contains("Ran 13 tests") && said.trim_end().ends_with("OK"), "{said}");
}
