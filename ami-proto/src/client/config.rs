//! The reconnect backoff.

use std::time::Duration;

/// Reconnect policy: exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Delay before the first attempt. Default 250 ms.
    pub initial_delay: Duration,
    /// Longest delay. Default 30 s.
    pub max_delay: Duration,
    /// Give up after this many failed attempts in a row; `None` never gives up.
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// The delay before attempt `attempt` (0-based): doubling from
    /// `initial_delay`, capped at `max_delay`, then jittered into its upper half by
    /// `entropy` (any random u64), so that many clients do not reconnect in step.
    ///
    /// ```
    /// use ami_proto::Reconnect;
    /// use std::time::Duration;
    ///
    /// let policy = Reconnect::default();
    /// let d = policy.delay(3, 12345);
    /// assert!(d >= Duration::from_millis(1000) && d <= Duration::from_millis(2000));
    /// assert!(policy.delay(60, u64::MAX) <= policy.max_delay);
    /// ```
    pub fn delay(&self, attempt: u32, entropy: u64) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let base = self
            .initial_delay
            .saturating_mul(factor)
            .min(self.max_delay);
        let half = base / 2;
        let jitter_nanos = match half.as_nanos() as u64 {
            0 => 0,
            span => entropy % (span + 1),
        };
        half + Duration::from_nanos(jitter_nanos)
    }

    /// Whether another attempt is allowed after `failed` failures in a row.
    pub fn allows(&self, failed: u32) -> bool {
        self.max_attempts.is_none_or(|max| failed < max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_stays_in_upper_half() {
        let policy = Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_attempts: Some(3),
        };
        for entropy in [0, 1, 777, u64::MAX] {
            let first = policy.delay(0, entropy);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let capped = policy.delay(20, entropy);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_millis(1000));
        }
        assert!(policy.allows(2));
        assert!(!policy.allows(3));
    }
}
