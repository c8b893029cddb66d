//! Asterisk's originate reason codes, as the `Reason` header of `OriginateResponse`.

use crate::connection::OriginateOutcome;

/// Why an originated call ended up as it did: the `Reason` code of
/// `OriginateResponse` (Asterisk's `AST_CONTROL_*` frame values of the outbound
/// channel's last state). Codes Asterisk may add later are kept as `Other`.
///
/// ```
/// use ami_proto::OriginateReason;
///
/// assert_eq!(OriginateReason::from_code(4), OriginateReason::Answered);
/// assert_eq!(OriginateReason::from_code(42), OriginateReason::Other(42));
/// assert_eq!(OriginateReason::Busy.code(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OriginateReason {
    /// `0`: the call failed, or the reason is unknown.
    Failed,
    /// `1`: the far end hung up.
    Hangup,
    /// `3`: the far end rang until the timeout (no answer).
    NoAnswer,
    /// `4`: answered.
    Answered,
    /// `5`: busy.
    Busy,
    /// `8`: congestion.
    Congestion,
    /// Any other code, kept as received.
    Other(u32),
}

impl OriginateReason {
    /// The reason for a numeric code.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => OriginateReason::Failed,
            1 => OriginateReason::Hangup,
            3 => OriginateReason::NoAnswer,
            4 => OriginateReason::Answered,
            5 => OriginateReason::Busy,
            8 => OriginateReason::Congestion,
            other => OriginateReason::Other(other),
        }
    }

    /// The numeric code as Asterisk sends it.
    pub fn code(self) -> u32 {
        match self {
            OriginateReason::Failed => 0,
            OriginateReason::Hangup => 1,
            OriginateReason::NoAnswer => 3,
            OriginateReason::Answered => 4,
            OriginateReason::Busy => 5,
            OriginateReason::Congestion => 8,
            OriginateReason::Other(code) => code,
        }
    }
}

impl OriginateOutcome {
    /// The `Reason` code of the `OriginateResponse` event as an [`OriginateReason`];
    /// `None` when there is no event or no numeric `Reason`.
    pub fn reason_code(&self) -> Option<OriginateReason> {
        self.reason().map(OriginateReason::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..20 {
            assert_eq!(OriginateReason::from_code(code).code(), code);
        }
    }
}
