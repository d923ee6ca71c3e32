//! What a workload's DynamoDB requests are billed, in units, computed from the requests' bodies
//! (what each writes and reads) and the table as the workload left it (each item's size, by
//! DynamoDB's rules) and its indexes as the table describes them. moto reports no consumed
//! capacity, so this counts as DynamoDB's pricing page says:
//!
//! - a write: one unit per KB of the item, twice in a transaction; plus, for each index the
//!   item has a key in, the index entry's units (the whole item for an index projecting all
//!   attributes, one for a keys-only entry on a put). An update rewrites every index that
//!   projects all attributes, and removing an index key deletes that entry.
//! - an update is counted at the item's size at the end of the run (an upper bound: items only
//!   grow during a run); an item gone by then (deleted) at 1 KB.
//! - a read: `GetItem` one unit per 4 KB of the item, half when eventually consistent; a
//!   `Query` or `Scan` its minimum, half a unit (a lower bound: responses are not read).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ProjectionType};
use hookline_core::adapters::aws::{item_size, read_units, write_units};
use serde_json::Value;

/// Billed units of a workload's DynamoDB requests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Units {
    pub write: f64,
    pub read: f64,
}

struct Index {
    partition_key: String,
    all: bool,
}

/// An item as the workload left it: its size, and which indexes it has a key in.
struct Stored {
    size: usize,
    indexed: Vec<bool>,
}

/// The table as the workload left it: each item by key, and the table's indexes.
pub struct TableState {
    items: HashMap<(String, String), Stored>,
    indexes: Vec<Index>,
}

impl TableState {
    pub async fn read(client: &aws_sdk_dynamodb::Client, table: &str) -> Self {
        let description = client.describe_table().table_name(table).send().await.unwrap();
        let indexes: Vec<Index> = description
            .table()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .map(|index| Index {
                partition_key: index.key_schema().first().map(|k| k.attribute_name().to_owned()).unwrap_or_default(),
                all: index.projection().and_then(|p| p.projection_type()) == Some(&ProjectionType::All),
            })
            .collect();
        let mut items = HashMap::new();
        let mut start = None;
        loop {
            let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.unwrap();
            for item in page.items() {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (item.get("PK"), item.get("SK")) {
                    let indexed = indexes.iter().map(|index| item.contains_key(&index.partition_key)).collect();
                    items.insert((pk.clone(), sk.clone()), Stored { size: item_size(item), indexed });
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Self { items, indexes };
            }
        }
    }

    fn size(&self, key: &Value) -> usize {
        self.items.get(&key_of(key)).map_or(1024, |stored| stored.size)
    }

    /// Units of one item written by `operation` (`Put`, `Update` or `Delete`), with `shape` the
    /// request's item (a put) or its key and update expression.
    fn write(&self, operation: &str, shape: &Value, transaction: bool) -> f64 {
        let key = if operation == "Put" { &shape["Item"] } else { &shape["Key"] };
        let size = self.size(key);
        let table = write_units(size) as f64 * if transaction { 2.0 } else { 1.0 };
        let index_units: u64 = match operation {
            "Put" => self
                .indexes
                .iter()
                .filter(|index| shape["Item"].get(&index.partition_key).is_some())
                .map(|index| if index.all { write_units(size) } else { 1 })
                .sum(),
            "Update" => {
                let expression = shape["UpdateExpression"].as_str().unwrap_or_default();
                let stored = self.items.get(&key_of(key));
                let indexed = |at: usize| stored.is_some_and(|stored| stored.indexed[at]);
                (0..self.indexes.len())
                    .filter(|&at| self.indexes[at].all && (indexed(at) || expression.contains(&self.indexes[at].partition_key)))
                    .map(|_| write_units(size))
                    .sum()
            }
            _ => 0,
        };
        table + index_units as f64
    }

    /// Units of one request, from its operation and JSON body.
    pub fn units(&self, operation: &str, body: &[u8]) -> Units {
        let Ok(body) = serde_json::from_slice::<Value>(body) else { return Units::default() };
        let write = |kind: &str, shape: &Value, transaction: bool| Units { write: self.write(kind, shape, transaction), read: 0.0 };
        match operation {
            "PutItem" => write("Put", &body, false),
            "UpdateItem" => write("Update", &body, false),
            "DeleteItem" => write("Delete", &body, false),
            "BatchWriteItem" => {
                sum(body["RequestItems"].as_object().into_iter().flat_map(|tables| tables.values()).flat_map(requests).map(
                    |request| match (request.get("PutRequest"), request.get("DeleteRequest")) {
                        (Some(put), _) => write("Put", put, false),
                        (_, Some(delete)) => write("Delete", delete, false),
                        _ => Units::default(),
                    },
                ))
            }
            "TransactWriteItems" => sum(requests(&body["TransactItems"]).map(|item| {
                ["Put", "Update", "Delete"]
                    .iter()
                    .find_map(|kind| item.get(*kind).map(|shape| write(kind, shape, true)))
                    .unwrap_or(Units { write: 2.0, read: 0.0 })
            })),
            "GetItem" => {
                let consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
                Units { write: 0.0, read: read_units(self.size(&body["Key"]), consistent) }
            }
            "Query" | "Scan" => Units { write: 0.0, read: 0.5 },
            _ => Units::default(),
        }
    }
}

fn key_of(key: &Value) -> (String, String) {
    let text = |name: &str| key[name]["S"].as_str().unwrap_or_default().to_owned();
    (text("PK"), text("SK"))
}

fn requests(list: &Value) -> impl Iterator<Item = &Value> {
    list.as_array().into_iter().flatten()
}

fn sum(units: impl Iterator<Item = Units>) -> Units {
    units.fold(Units::default(), |total, one| Units { write: total.write + one.write, read: total.read + one.read })
}

/// The billed units of `requests`, in all and by operation.
pub fn total(state: &TableState, requests: &[(String, Vec<u8>)]) -> (Units, BTreeMap<String, Units>) {
    let mut by_operation: BTreeMap<String, Units> = BTreeMap::new();
    for (operation, body) in requests {
        let units = state.units(operation, body);
        let entry = by_operation.entry(operation.clone()).or_default();
        *entry = sum([*entry, units].into_iter());
    }
    (sum(by_operation.values().copied()), by_operation)
}
