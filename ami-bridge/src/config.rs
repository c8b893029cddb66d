//! The bridge's configuration: a TOML file, overridden by flags.

use std::time::Duration;

use ami_proto::{Config, Credentials, Reconnect};
use serde::Deserialize;

/// An example configuration file (also shown by `ami-bridge --help`).
pub const EXAMPLE: &str = r#"# ami-bridge.toml
[nats]
url = "nats://127.0.0.1:4222"
stream = "AMI"            # JetStream stream, created for "<prefix>.*.event.>" if missing
prefix = "ami"            # subjects: ami.<pbx>.event.<EventName>, ami.<pbx>.action
buffer = 100000           # events held while NATS is unreachable; beyond: counted drops
ack_timeout_ms = 5000     # JetStream publish acknowledgement deadline
# user = "bridge"; password = "..."; or token = "..."; or creds = "/path/bridge.creds"

[actions]
allow = ["Ping", "CoreShowChannels", "Originate", "Command"]  # omit to allow all
deny = ["Shutdown"]
dedupe = 10000            # request ids remembered (with their replies)

[[pbx]]
name = "paris"
addr = "127.0.0.1:5038"
username = "admin"
secret = "amp111"
# events = "call,system"  # the login's Events mask (default: on)
# event_capacity = 16384  # events the bridge may fall behind this PBX before counted drops

[[pbx]]
name = "lyon"
addr = "127.0.0.1:5039"
username = "admin"
secret = "amp111"
"#;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// The NATS side.
    #[serde(default)]
    pub nats: NatsConfig,
    /// Which actions NATS requests may send.
    #[serde(default)]
    pub actions: ActionsConfig,
    /// The PBXs.
    #[serde(default)]
    pub pbx: Vec<PbxConfig>,
}

/// The NATS side of the bridge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// The server URL. Default `nats://127.0.0.1:4222`.
    pub url: String,
    /// The JetStream stream name. Default `AMI`.
    pub stream: String,
    /// The first subject token. Default `ami`.
    pub prefix: String,
    /// Most events held while NATS is unreachable or slow. Default 100,000.
    pub buffer: usize,
    /// Deadline of one JetStream publish acknowledgement, in ms. Default 5,000.
    pub ack_timeout_ms: u64,
    /// NATS user (with `password`).
    pub user: Option<String>,
    /// NATS password.
    pub password: Option<String>,
    /// NATS token.
    pub token: Option<String>,
    /// A NATS `.creds` file (JWT and NKey).
    pub creds: Option<std::path::PathBuf>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            stream: "AMI".into(),
            prefix: "ami".into(),
            buffer: 100_000,
            ack_timeout_ms: 5_000,
            user: None,
            password: None,
            token: None,
            creds: None,
        }
    }
}

impl NatsConfig {
    /// The acknowledgement deadline.
    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.ack_timeout_ms.max(1))
    }
}

/// Which actions the bridge sends for NATS requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// When set, only these actions (case-insensitive) are sent.
    pub allow: Option<Vec<String>>,
    /// These actions (case-insensitive) are never sent.
    pub deny: Vec<String>,
    /// How many request ids (with their replies) are remembered for dedupe.
    /// Default 10,000.
    pub dedupe: usize,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            allow: None,
            deny: Vec::new(),
            dedupe: 10_000,
        }
    }
}

impl ActionsConfig {
    /// Whether `action` may be sent.
    pub fn allows(&self, action: &str) -> bool {
        let listed = |list: &[String]| list.iter().any(|a| a.eq_ignore_ascii_case(action));
        !listed(&self.deny) && self.allow.as_deref().is_none_or(listed)
    }
}

/// One PBX.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbxConfig {
    /// Its name: one subject token (no `.`, `*`, `>` or spaces).
    pub name: String,
    /// `host:port` of its AMI.
    pub addr: String,
    /// The AMI user.
    pub username: String,
    /// The AMI secret (MD5 challenge login).
    pub secret: String,
    /// The login's Events mask; default `on`.
    #[serde(default)]
    pub events: Option<String>,
    /// Events the bridge's subscription to this PBX may fall behind before
    /// it loses the oldest (counted as `lagged` drops). Default 16,384.
    #[serde(default)]
    pub event_capacity: Option<usize>,
}

impl PbxConfig {
    /// The client configuration: MD5 login, reconnect forever.
    pub fn client_config(&self) -> Config {
        Config {
            events: self.events.clone(),
            event_capacity: self.event_capacity.unwrap_or(16_384),
            reconnect: Some(Reconnect {
                initial_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(5),
                max_attempts: None,
            }),
            ..Config::new(Credentials::md5(&self.username, &self.secret))
        }
    }
}

/// Whether `token` is one valid NATS subject token.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && !token
            .chars()
            .any(|c| c == '.' || c == '*' || c == '>' || c.is_whitespace())
}

impl BridgeConfig {
    /// Parses a TOML file's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks names and the prefix.
    pub fn validate(&self) -> Result<(), String> {
        if !self.nats.prefix.split('.').all(valid_token) {
            return Err(format!("invalid subject prefix {:?}", self.nats.prefix));
        }
        for pbx in &self.pbx {
            if !valid_token(&pbx.name) {
                return Err(format!(
                    "invalid PBX name {:?}: one subject token",
                    pbx.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let config = BridgeConfig::from_toml(EXAMPLE).unwrap();
        config.validate().unwrap();
        assert_eq!(config.pbx.len(), 2);
        assert!(config.actions.allows("ping"));
        assert!(!config.actions.allows("Shutdown"));
        assert!(!config.actions.allows("Reload"));
    }
}
