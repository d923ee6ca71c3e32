//! What DynamoDB bills for an item: its size by DynamoDB's rules (attribute names count, numbers
//! take about a byte per two digits, lists and maps 3 bytes plus 1 per element), and the write
//! units (one per KB, rounded up) and read units (one per 4 KB, half of that when eventually
//! consistent) of a size. Used by the hot-key test and by the AWS benchmark's bill.

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::Item;

pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::L(list) => 3 + list.iter().map(|element| 1 + value_size(element)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(name, element)| 1 + name.len() + value_size(element)).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|number| number_size(number)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|bytes| bytes.as_ref().len()).sum(),
        _ => 1,
    }
}

/// A number's size: one byte per two significant digits, plus one.
pub fn number_size(raw: &str) -> usize {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// Write units of writing (or deleting) an item of `size` bytes.
pub fn write_units(size: usize) -> u64 {
    size.div_ceil(1024).max(1) as u64
}

/// Read units of reading `size` bytes (one item, or a query's items together).
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::aws::item::{n, s};

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        let item = Item::from([("PK".to_owned(), s("DLV#1")), ("attempts".to_owned(), n(12_345))]);
        assert_eq!(item_size(&item), 2 + 5 + 8 + 4);
        let list = Item::from([("log".to_owned(), AttributeValue::L(vec![s("ab"), s("c")]))]);
        assert_eq!(item_size(&list), 3 + 3 + (1 + 2) + (1 + 1));
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("-12.5"), 3);
    }

    #[test]
    fn units_round_up_per_kilobyte_and_per_four() {
        assert_eq!(write_units(1), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert!((read_units(4097, true) - 2.0).abs() < f64::EPSILON);
        assert!((read_units(10, false) - 0.5).abs() < f64::EPSILON);
    }
}
