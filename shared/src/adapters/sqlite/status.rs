//! Delivery statuses in SQL, spelled from the domain's names (`DeliveryStatus`), so a status
//! and which statuses are open are defined once.

use std::sync::LazyLock;

use crate::domain::delivery::DeliveryStatus;

/// The open statuses (`'pending', 'retrying'`), for `status IN (…)`.
pub static OPEN: LazyLock<String> = LazyLock::new(|| list(DeliveryStatus::ALL.into_iter().filter(|status| status.is_open())));

/// The unfinished statuses (open or held), for `status IN (…)`.
pub static UNFINISHED: LazyLock<String> = LazyLock::new(|| list(DeliveryStatus::ALL.into_iter().filter(|status| status.is_unfinished())));

/// The closed statuses, for `status IN (…)`.
pub static CLOSED: LazyLock<String> = LazyLock::new(|| list(DeliveryStatus::ALL.into_iter().filter(|status| !status.is_open())));

/// The condition of the index of deliveries by status (`deliveries_unsucceeded`): a query
/// must repeat it for SQLite to use the index.
pub const INDEXED: &str = "status <> 'succeeded'";

/// One status as an SQL literal (`'dead'`).
pub fn literal(status: DeliveryStatus) -> String {
    format!("'{}'", status.as_str())
}

fn list(statuses: impl Iterator<Item = DeliveryStatus>) -> String {
    statuses.map(literal).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_and_closed_statuses_are_the_domains() {
        assert_eq!(*OPEN, "'pending', 'retrying'");
        assert_eq!(*CLOSED, "'succeeded', 'dead', 'cancelled', 'held'");
        assert_eq!(*UNFINISHED, "'pending', 'retrying', 'held'");
        assert_eq!(INDEXED, format!("status <> {}", literal(DeliveryStatus::Succeeded)));
    }
}
