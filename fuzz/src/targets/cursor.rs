//! Pagination cursors on AWS (the SQLite ones go through the API target's `?cursor=`): an
//! input's first line names the listing, the rest is the cursor a client sent back. Opening
//! must refuse without panicking; and a position sealed for one listing opens there, unchanged,
//! and nowhere else.

use std::sync::{Arc, OnceLock};

use hookline_core::adapters::aws::{Cursors, Position};
use hookline_core::adapters::cipher::SecretCipher;

pub const DICTIONARY: &[&str] = &["deliveries", "events", "webhooks", "audit", "api-keys", "\n", "-", "_", "=", "AAAA"];

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (scope, cursor) = text.split_once('\n').unwrap_or(("deliveries", &text));
    let cursors = cursors();
    let _ = cursors.open(scope, cursor);
    let position: Position = cursor.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let sealed = cursors.seal(scope, &position);
    assert_eq!(cursors.open(scope, &sealed).ok().as_ref(), Some(&position), "a sealed cursor did not open unchanged");
    let elsewhere = format!("{scope}+");
    assert!(cursors.open(&elsewhere, &sealed).is_err(), "a cursor opened for another listing");
}

fn cursors() -> &'static Cursors {
    static CURSORS: OnceLock<Cursors> = OnceLock::new();
    CURSORS.get_or_init(|| match SecretCipher::new(&[7; 32]) {
        Ok(cipher) => Cursors::new(Arc::new(cipher)),
        Err(error) => unreachable!("a 32-byte key is a key: {error}"),
    })
}
