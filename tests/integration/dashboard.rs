//! The dashboard: served with a strict Content-Security-Policy and no inline script, every file
//! it names is there, and `tests/browser/dashboard.py` drives it in Debian's headless Chromium
//! (installed by the test command) through sign-in, a webhook created with the form, a
//! delivery, its replay, the overview, the audit trail and a read-only view. Screenshots go to
//! `target/dashboard-screenshots/`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hookline_core::domain::access::Role;
use hookline_tests::{TestReceiver, spawn_app};

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots")
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let page = app.client.get(format!("{}/", app.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    for directive in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"] {
        assert!(policy.contains(directive), "{directive} missing from {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains(" on"), "no inline script or handler in the page");
    let files = ["app.js", "api.js", "dom.js", "overview.js", "webhooks.js", "deliveries.js", "audit.js", "app.css"];
    for file in files.iter().chain(&["uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"]) {
        let asset = app.client.get(format!("{}/ui/{file}", app.address)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{file}");
        assert!(asset.headers().contains_key("content-security-policy"), "{file}");
    }
    let missing = app.client.get(format!("{}/ui/missing.js", app.address)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    eprintln!("the dashboard adds {} bytes to each binary", hookline_core::api::dashboard::size());
}

#[tokio::test]
async fn the_dashboard_works_in_a_real_browser() {
    let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON: run the README's test command");
    let app = spawn_app().await;
    let receiver = TestReceiver::start().await;
    let reader = app.token(&[Role::Read], Duration::from_secs(3600));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/dashboard.py");
    let _ = std::fs::remove_dir_all(screenshots());
    let output = tokio::task::spawn_blocking({
        let (address, admin, key, receiver) = (app.address.clone(), app.admin_token.clone(), app.api_key.clone(), receiver.url.clone());
        move || {
            Command::new(python)
                .arg(script)
                .env("HOOKLINE_URL", address)
                .env("ADMIN_TOKEN", admin)
                .env("READER_TOKEN", reader)
                .env("API_KEY", key)
                .env("RECEIVER_URL", receiver)
                .env("SCREENSHOTS", screenshots())
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser run failed (screenshots in {}):\n{stdout}\n{stderr}", screenshots().display());
    eprintln!("{stdout}");
    assert_eq!(receiver.received().len(), 4, "the delivery, its replay, the test ping and the delivery held while paused");
}
