//! Pagination cursors: DynamoDB's `LastEvaluatedKey` (or a position of our own, such as the
//! sort key a merged delivery listing stopped at), sealed with the deployment's secret key and
//! bound to the query it came from. A client can neither read one nor forge one that starts another query.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::item::Item;
use crate::adapters::cipher::SecretCipher;
use crate::ports::StoreError;

#[derive(Clone)]
pub struct Cursors {
    cipher: Arc<SecretCipher>,
}

/// Where a listing stopped: string-valued key attributes (all of ours are strings).
pub type Position = BTreeMap<String, String>;

impl Cursors {
    pub fn new(cipher: Arc<SecretCipher>) -> Self {
        Self { cipher }
    }

    /// A cursor for `position`, valid only for the listing named `scope`.
    pub fn seal(&self, scope: &str, position: &Position) -> String {
        let plain = serde_json::to_string(position).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(self.cipher.seal(&plain, &format!("cursor:{scope}")))
    }

    pub fn open(&self, scope: &str, cursor: &str) -> Result<Position, StoreError> {
        let sealed = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
        let sealed = String::from_utf8(sealed).map_err(|_| StoreError::InvalidCursor)?;
        let plain = self.cipher.open(&sealed, &format!("cursor:{scope}")).map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_str(&plain).map_err(|_| StoreError::InvalidCursor)
    }

    /// `open`, for an optional cursor.
    pub fn open_opt(&self, scope: &str, cursor: Option<&str>) -> Result<Option<Position>, StoreError> {
        cursor.map(|c| self.open(scope, c)).transpose()
    }
}

/// The key attributes `names` of `item`, as a position to resume after it.
pub fn position_of(item: &Item, names: &[&str]) -> Position {
    names.iter().filter_map(|name| Some(((*name).to_owned(), item.get(*name)?.as_s().ok()?.clone()))).collect()
}

/// A position back as DynamoDB's `ExclusiveStartKey`, leaving out our own entries.
pub fn start_key(position: &Position, names: &[&str]) -> Item {
    names.iter().filter_map(|name| Some(((*name).to_owned(), AttributeValue::S(position.get(*name)?.clone())))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors(key: u8) -> Cursors {
        Cursors::new(Arc::new(SecretCipher::new(&[key; 32]).unwrap()))
    }

    #[test]
    fn a_cursor_opens_only_for_its_own_listing_and_key() {
        let position = Position::from([("PK".to_owned(), "WH#1".to_owned())]);
        let cursor = cursors(1).seal("webhooks", &position);
        assert_eq!(cursors(1).open("webhooks", &cursor).unwrap(), position);
        assert!(matches!(cursors(1).open("deliveries", &cursor), Err(StoreError::InvalidCursor)));
        assert!(matches!(cursors(2).open("webhooks", &cursor), Err(StoreError::InvalidCursor)));
        let forged = URL_SAFE_NO_PAD.encode(r#"{"PK":"WH#2"}"#);
        assert!(matches!(cursors(1).open("webhooks", &forged), Err(StoreError::InvalidCursor)));
    }
}
