//! HAProxy 2.6 health-check statuses (`enum healthcheck_status` and `check_statuses[]` in
//! `check.c`): the numeric code shown by `show servers state`, the short text of the
//! `check_status` column and the long text of `check_desc`. Owned here so that the engine's
//! checker and both renderers use the same words.

/// Result of the last health check, numbered as HAProxy's `HCHK_STATUS_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CheckStatus {
    /// No check has completed yet.
    #[default]
    Unknown,
    /// Checks are starting.
    Initializing,
    /// Passive health analysis tripped (`observe` errors).
    HealthAnalyze,
    /// Socket error before connecting.
    SocketError,
    /// TCP connect succeeded.
    Layer4Ok,
    /// TCP connect timed out.
    Layer4Timeout,
    /// TCP connect refused or unreachable.
    Layer4Connection,
    /// TLS handshake completed (a TCP check of a server with `tls`).
    Layer6Ok,
    /// TLS handshake timed out.
    Layer6Timeout,
    /// TLS handshake failed (protocol error, certificate refused).
    Layer6InvalidResponse,
    /// HTTP check timed out.
    Layer7Timeout,
    /// HTTP check got an invalid response.
    Layer7InvalidResponse,
    /// HTTP check got the expected status.
    Layer7Ok,
    /// HTTP check got an unexpected status.
    Layer7WrongStatus,
}

impl CheckStatus {
    /// HAProxy's numeric status (`srv_check_status` in `show servers state`).
    pub fn code(self) -> u32 {
        match self {
            CheckStatus::Unknown => 0,
            CheckStatus::Initializing => 1,
            CheckStatus::HealthAnalyze => 4,
            CheckStatus::SocketError => 5,
            CheckStatus::Layer4Ok => 6,
            CheckStatus::Layer4Timeout => 7,
            CheckStatus::Layer4Connection => 8,
            CheckStatus::Layer6Ok => 9,
            CheckStatus::Layer6Timeout => 10,
            CheckStatus::Layer6InvalidResponse => 11,
            CheckStatus::Layer7Timeout => 12,
            CheckStatus::Layer7InvalidResponse => 13,
            CheckStatus::Layer7Ok => 15,
            CheckStatus::Layer7WrongStatus => 17,
        }
    }

    /// Short text for the `check_status` stat column (`L4OK`, `L7STS`, …).
    pub fn info(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "UNK",
            CheckStatus::Initializing => "INI",
            CheckStatus::HealthAnalyze => "HANA",
            CheckStatus::SocketError => "SOCKERR",
            CheckStatus::Layer4Ok => "L4OK",
            CheckStatus::Layer4Timeout => "L4TOUT",
            CheckStatus::Layer4Connection => "L4CON",
            CheckStatus::Layer6Ok => "L6OK",
            CheckStatus::Layer6Timeout => "L6TOUT",
            CheckStatus::Layer6InvalidResponse => "L6RSP",
            CheckStatus::Layer7Timeout => "L7TOUT",
            CheckStatus::Layer7InvalidResponse => "L7RSP",
            CheckStatus::Layer7Ok => "L7OK",
            CheckStatus::Layer7WrongStatus => "L7STS",
        }
    }

    /// Long text for the `check_desc` stat column (`Layer4 check passed`, …).
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "Unknown",
            CheckStatus::Initializing => "Initializing",
            CheckStatus::HealthAnalyze => "Health analyze",
            CheckStatus::SocketError => "Socket error",
            CheckStatus::Layer4Ok => "Layer4 check passed",
            CheckStatus::Layer4Timeout => "Layer4 timeout",
            CheckStatus::Layer4Connection => "Layer4 connection problem",
            CheckStatus::Layer6Ok => "Layer6 check passed",
            CheckStatus::Layer6Timeout => "Layer6 timeout",
            CheckStatus::Layer6InvalidResponse => "Layer6 invalid response",
            CheckStatus::Layer7Timeout => "Layer7 timeout",
            CheckStatus::Layer7InvalidResponse => "Layer7 invalid response",
            CheckStatus::Layer7Ok => "Layer7 check passed",
            CheckStatus::Layer7WrongStatus => "Layer7 wrong status",
        }
    }

    /// HAProxy's `CHK_RES_*` for this status (`srv_check_result`): 0 unknown, 2 failed,
    /// 3 passed.
    pub fn result_code(self) -> u32 {
        match self {
            CheckStatus::Unknown | CheckStatus::Initializing => 0,
            CheckStatus::Layer4Ok | CheckStatus::Layer6Ok | CheckStatus::Layer7Ok => 3,
            _ => 2,
        }
    }

    /// Whether HAProxy shows `check_code` (layer 5-7 data available, i.e. an HTTP status).
    pub fn has_code(self) -> bool {
        self.code() >= 14
    }

    /// Whether HAProxy shows `check_duration` (the check finished).
    pub fn has_duration(self) -> bool {
        self.code() >= 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // show-servers-state*.txt: 6/3 = L4OK/passed, 8/2 = L4CON/failed.
        assert_eq!(
            (
                CheckStatus::Layer4Ok.code(),
                CheckStatus::Layer4Ok.result_code()
            ),
            (6, 3)
        );
        assert_eq!(
            (
                CheckStatus::Layer4Connection.code(),
                CheckStatus::Layer4Connection.result_code()
            ),
            (8, 2)
        );
        assert_eq!(CheckStatus::Layer4Ok.description(), "Layer4 check passed");
        assert_eq!(
            CheckStatus::Layer4Connection.description(),
            "Layer4 connection problem"
        );
        assert!(CheckStatus::Layer7WrongStatus.has_code() && !CheckStatus::Layer4Ok.has_code());
        // check.c: L6OK, L6TOUT, L6RSP between L4CON and L7TOUT.
        assert_eq!(
            (
                CheckStatus::Layer6Ok.code(),
                CheckStatus::Layer6InvalidResponse.code(),
                CheckStatus::Layer6InvalidResponse.info(),
                CheckStatus::Layer6Ok.result_code()
            ),
            (9, 11, "L6RSP", 3)
        );
        assert!(!CheckStatus::Layer6InvalidResponse.has_code());
        assert!(CheckStatus::Layer4Ok.has_duration() && !CheckStatus::Initializing.has_duration());
    }
}
