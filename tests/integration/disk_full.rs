//! Disk faults (local mode): the data file's filesystem (a small tmpfs, mounted for the test;
//! CI runs as root) fills up while a publisher keeps publishing and the workers keep
//! delivering. What cannot be stored is answered 503 `storage_unavailable` with `Retry-After`,
//! never 500 and never 202; once space returns the server recovers by itself, and every event
//! answered 202 reaches the receiver. A data folder on a read-only filesystem stops the server
//! at start with a message, not a panic.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hookline_core::adapters::resolver::SystemResolver;
use hookline_tests::{TestApp, TestReceiver, eventually, spawn_app_with, temp_path};
use serde_json::json;

/// A tmpfs of a few MiB, unmounted when dropped.
struct SmallFilesystem {
    dir: PathBuf,
}

impl SmallFilesystem {
    fn mount(size: &str, options: &str) -> Self {
        let dir = temp_path("small-fs");
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}{options}"), "tmpfs"]).arg(&dir).status();
        assert!(status.is_ok_and(|s| s.success()), "this test mounts a small tmpfs at {}: it needs root (CI runs as root)", dir.display());
        Self { dir }
    }

    /// Writes a file until the filesystem has no space left.
    fn fill(&self) -> PathBuf {
        let filler = self.dir.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).and_then(|()| file.sync_all()).is_ok() {}
        filler
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Publishes one event of about 32 KB (so the WAL must grow) and answers its status, the
/// `Retry-After` header and the body.
async fn publish(app: &TestApp, id: &str) -> (u16, String, serde_json::Value) {
    let event = json!({"id": id, "event_type": "customer.created",
        "data": {"id": 1, "full_name": "Ada", "email": "ada@example.com", "notes": "n".repeat(32 * 1024)}});
    let response = app.client.post(app.url("/api/v1/events")).header("x-api-key", &app.api_key).json(&event).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, retry_after, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_full_disk_refuses_publishes_with_503_and_loses_nothing_answered_202() {
    let disk = SmallFilesystem::mount("24m", "");
    let receiver = TestReceiver::start().await;
    receiver.delay_all(Duration::from_millis(5));
    let app = spawn_app_with(disk.dir.join("hookline.db"), |_| {}, Arc::new(SystemResolver)).await;
    app.create_webhook(&receiver.url, &["customer.*"], json!({})).await;
    let mut accepted = BTreeSet::new();
    for n in 0..20 {
        let id = format!("evt_before_{n}");
        assert_eq!(publish(&app, &id).await.0, 202);
        accepted.insert(id);
    }

    let filler = disk.fill();
    let mut refusal = None;
    for n in 0..2_000 {
        let id = format!("evt_full_{n}");
        match publish(&app, &id).await {
            (202, _, _) => assert!(accepted.insert(id)),
            (503, retry_after, body) => {
                refusal = Some((retry_after, body));
                break;
            }
            (status, _, body) => panic!("a publish on a full disk was answered {status}: {body}"),
        }
    }
    let (retry_after, body) = refusal.expect("the disk never filled");
    println!("{} events accepted, then refused once the disk was full: {body}", accepted.len());
    assert_eq!((retry_after.as_str(), body["code"].as_str()), ("5", Some("storage_unavailable")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nothing was stored"), "{body}");

    std::fs::remove_file(filler).unwrap();
    let mut n = 0;
    eventually("publishing to be accepted again once space returns", Duration::from_secs(20), || {
        n += 1;
        let id = format!("evt_after_{n}");
        let app = &app;
        async move { (publish(app, &id).await.0 == 202).then_some(id) }
    })
    .await;
    accepted.insert(format!("evt_after_{n}"));

    eventually("every event answered 202 to be delivered", Duration::from_secs(60), || async {
        let delivered: BTreeSet<String> = receiver.received().iter().map(|r| r.json()["id"].as_str().unwrap().to_owned()).collect();
        accepted.is_subset(&delivered).then_some(())
    })
    .await;
    app.stop().await;
}

#[test]
fn a_data_folder_on_a_read_only_filesystem_stops_the_server_with_a_message() {
    let disk = SmallFilesystem::mount("1m", ",ro");
    let output = Command::new(env!("CARGO_BIN_EXE_hookline-under-test"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(disk.dir.join("hookline.db"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(&disk.dir.display().to_string()) || stderr.contains("read-only"), "{stderr}");
}
