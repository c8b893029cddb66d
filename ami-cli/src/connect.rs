//! Connection options -> a target address, a TLS config and a `Config`, and
//! the connection the CLI's own commands use.
//!
//! `send`, `command` and `events` use **ami-blocking**: a command-line tool does one
//! thing at a time and waits for it, so threads are the plainest fit. There is no
//! runtime to build, `events` is a plain iterator, and errors are the same
//! `Error` every adapter returns. (`tour` and `bench` drive all three.)

use std::sync::Arc;
use std::time::Duration;

use ami_blocking::TlsConfig;
use ami_proto::{Config, Credentials, Error};

use crate::cli::ConnArgs;
use crate::error::{CliError, Context, Exit, Phase};

/// Where to connect and how.
#[derive(Clone)]
pub struct Target {
    /// `host:port`, brackets around an IPv6 address.
    pub addr: String,
    /// TLS: the server name to check and the rustls config.
    pub tls: Option<(String, Arc<rustls::ClientConfig>)>,
    /// AMI over HTTP at this URL (`--url`) instead of TCP.
    pub url: Option<String>,
    /// For error messages.
    pub context: Context,
}

impl Target {
    /// The target described by the options; `host` is `--host` or a default.
    pub fn new(args: &ConnArgs, host: &str, user: &str) -> Result<Target, CliError> {
        let port = args.port.unwrap_or(if args.tls { 5039 } else { 5038 });
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tls = if args.tls {
            let name = args.tls_name.clone().unwrap_or_else(|| {
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned()
            });
            Some((name, tls_config(args)?))
        } else {
            if args.ca.is_some() || args.tls_name.is_some() {
                return Err(CliError::usage("--ca and --tls-name need --tls"));
            }
            None
        };
        let addr = args.url.clone().unwrap_or(addr);
        Ok(Target {
            url: args.url.clone(),
            context: Context {
                addr: addr.clone(),
                user: user.to_owned(),
                timeout: timeout(args)?,
            },
            addr,
            tls,
        })
    }
}

/// The `--timeout` as a duration.
pub fn timeout(args: &ConnArgs) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(args.timeout.unwrap_or(10.0))
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::usage("--timeout must be a positive number of seconds"))
}

/// The user and secret, from flags or the environment.
pub fn credentials(args: &ConnArgs) -> Result<Credentials, CliError> {
    let user = args
        .user
        .clone()
        .ok_or_else(|| CliError::usage("no user: pass --user NAME or set AMI_USER"))?;
    let secret = match (&args.secret, &args.secret_env) {
        (_, Some(var)) => std::env::var(var).map_err(|_| {
            CliError::usage(format!(
                "--secret-env {var}: that variable is not set (or not UTF-8)"
            ))
        })?,
        (Some(secret), None) => secret.clone(),
        (None, None) => {
            return Err(CliError::usage(
                "no secret: set AMI_SECRET, or pass --secret-env NAME or --secret",
            ))
        }
    };
    Ok(if args.md5 {
        Credentials::md5(user, secret)
    } else {
        Credentials::plain(user, secret)
    })
}

/// The adapter configuration: these credentials, `--timeout` for the connection,
/// the login and every reply, and no reconnect.
pub fn client_config(args: &ConnArgs, credentials: Credentials) -> Result<Config, CliError> {
    let timeout = timeout(args)?;
    let mut config = Config::new(credentials);
    config.connect_timeout = timeout;
    config.login_timeout = timeout;
    config.action_timeout = timeout;
    Ok(config)
}

/// A rustls config trusting `--ca` (PEM, or one DER certificate), or the
/// system's roots: the library's [`TlsConfig`], which picks the crypto
/// provider without needing a process-level default.
fn tls_config(args: &ConnArgs) -> Result<Arc<rustls::ClientConfig>, CliError> {
    let (tls, hint) = match &args.ca {
        Some(path) => (TlsConfig::ca_file(path), ""),
        None => (
            TlsConfig::system_roots(),
            " (pass the server's CA with --ca FILE)",
        ),
    };
    tls.build().map_err(|error| match error {
        Error::Tls(message) => CliError::new(Exit::Tls, format!("{message}{hint}")),
        other => CliError::new(Exit::Tls, other.to_string()),
    })
}

/// Everything `send`, `command` and `events` need: a target and a config, with
/// `--host` defaulting to 127.0.0.1.
pub fn resolve(args: &ConnArgs) -> Result<(Target, Config), CliError> {
    let credentials = credentials(args)?;
    let host = args.host.as_deref().unwrap_or("127.0.0.1");
    let target = Target::new(args, host, &credentials.username)?;
    let config = client_config(args, credentials)?;
    Ok((target, config))
}

/// Connects with ami-blocking and logs in.
pub fn connect_blocking(target: &Target, config: Config) -> Result<ami_blocking::Client, CliError> {
    let result = match (&target.url, &target.tls) {
        (Some(url), _) => connect_http(url, config),
        (None, tls) => connect_tcp(target, tls, config),
    };
    result.map_err(|e| target.context.describe(e, Phase::Connect))
}

/// AMI over HTTP: ami-blocking for `http://`, ami-tokio (on a runtime kept
/// for the process) for `https://`. The same `Client` either way.
fn connect_http(url: &str, config: Config) -> Result<ami_blocking::Client, ami_proto::Error> {
    if !url.starts_with("https://") {
        return ami_blocking::connect_http(url, config);
    }
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime for https")
    });
    runtime.block_on(ami_tokio::connect_http(url, config))
}

fn connect_tcp(
    target: &Target,
    tls: &Option<(String, Arc<rustls::ClientConfig>)>,
    config: Config,
) -> Result<ami_blocking::Client, ami_proto::Error> {
    match tls {
        Some((name, tls)) => {
            ami_blocking::connect_tls(target.addr.as_str(), name, tls.clone(), config)
        }
        None => ami_blocking::connect(target.addr.as_str(), config),
    }
}
