//! `ApiKeyStore` and `AuditLog`.

use chrono::Duration;
use hookline_core::domain::api_key::ApiKey;
use hookline_core::domain::audit::{Actor, AuditAction, AuditEntry};
use hookline_core::ports::{AuditFilter, StoreError};

use super::{Backend, aws, now, sqlite};

async fn api_keys_keep_hashes_and_revocations(backend: &Backend) {
    let keys = &backend.stores.api_keys;
    let (key, text) = ApiKey::generate("billing".into(), Vec::new(), now());
    keys.insert(&key).await.unwrap();
    let read = keys.get(&key.id).await.unwrap().unwrap();
    assert!(read.accepts(&text));
    keys.touch(&key.id, now()).await.unwrap();
    assert!(keys.get(&key.id).await.unwrap().unwrap().last_used_at.is_some());
    let first = now();
    keys.revoke(&key.id, first).await.unwrap();
    keys.revoke(&key.id, first + Duration::hours(1)).await.unwrap();
    let revoked = keys.get(&key.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(first), "the first revocation counts");
    assert!(!revoked.accepts(&text));
    assert!(matches!(keys.revoke("key_missing", now()).await, Err(StoreError::NotFound)));
    assert_eq!(keys.list().await.unwrap().len(), 1);
}

async fn the_audit_trail_lists_newest_first_with_filters(backend: &Backend) {
    let audit = &backend.stores.audit;
    let (alice, bob) = (Actor { subject: "alice".into(), source: Some("10.0.0.1".into()) }, Actor { subject: "bob".into(), source: None });
    for (n, actor) in [&alice, &bob, &alice].iter().enumerate() {
        audit.append(&AuditEntry::new(actor, AuditAction::WebhookUpdate, &format!("wh_{n}"), now())).await.unwrap();
    }
    let all = audit.list(&AuditFilter { limit: 2, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(all.items.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["wh_2", "wh_1"]);
    let rest = audit.list(&AuditFilter { limit: 2, cursor: all.next_cursor, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    let alices = audit.list(&AuditFilter { limit: 10, actor: Some("alice".into()), ..AuditFilter::default() }).await.unwrap();
    assert_eq!(alices.items.len(), 2);
    assert_eq!(alices.items[0].source.as_deref(), Some("10.0.0.1"));
}

#[tokio::test]
async fn sqlite_api_keys_keep_hashes_and_revocations() {
    api_keys_keep_hashes_and_revocations(&sqlite().await).await;
}

#[tokio::test]
async fn aws_api_keys_keep_hashes_and_revocations() {
    api_keys_keep_hashes_and_revocations(&aws().await).await;
}

#[tokio::test]
async fn sqlite_the_audit_trail_lists_newest_first_with_filters() {
    the_audit_trail_lists_newest_first_with_filters(&sqlite().await).await;
}

#[tokio::test]
async fn aws_the_audit_trail_lists_newest_first_with_filters() {
    the_audit_trail_lists_newest_first_with_filters(&aws().await).await;
}

/// A deployment started with another secret key than its storage's fails at start-up.
async fn the_secret_key_check_refuses_another_key(store: &dyn hookline_core::adapters::key_check::KeyCheckStore) {
    use hookline_core::adapters::cipher::SecretCipher;
    use hookline_core::adapters::key_check::check_secret_key;
    let (first, other) = (SecretCipher::new(&[1u8; 32]).unwrap(), SecretCipher::new(&[2u8; 32]).unwrap());
    check_secret_key(store, &first).await.unwrap();
    check_secret_key(store, &first).await.unwrap();
    assert!(matches!(check_secret_key(store, &other).await, Err(StoreError::Conflict(_))));
}

#[tokio::test]
async fn sqlite_the_secret_key_check_refuses_another_key() {
    let db = hookline_core::adapters::sqlite::Db::open(&hookline_tests::temp_path("key-check.db")).unwrap();
    the_secret_key_check_refuses_another_key(&db).await;
}

#[tokio::test]
async fn aws_the_secret_key_check_refuses_another_key() {
    let emulator = hookline_tests::emulator::Emulator::connect().await;
    let db = hookline_core::adapters::aws::Dynamo::new(emulator.dynamodb.clone(), &emulator.fresh_table().await);
    the_secret_key_check_refuses_another_key(&db).await;
}
