//! The system clock, at millisecond precision: what is stored and what is returned agree.

use chrono::{DateTime, SubsecRound, Utc};

use crate::ports::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}
