//! The command line: clap types only, no behaviour.

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error (unexpected reply, connection closed for another reason)
  2  usage error (bad option or argument, missing --user or secret)
  3  could not connect, or the connection was lost (refused, unreachable, closed)
  4  authentication failed
  5  timed out (connect, login, or a reply; see --timeout)
  6  TLS failure (handshake, certificate)
  7  refused input: a value the server would misread (CR, LF or NUL ...); nothing was sent
  8  the server answered `Response: Error` (send, command)

Environment: AMI_HOST, AMI_PORT, AMI_USER, AMI_SECRET, AMI_MD5, AMI_TLS, AMI_CA,
AMI_TIMEOUT stand for the options of the same name (AMI_MD5/AMI_TLS: 1, true, yes).

Try it with no Asterisk at hand:  ami tour";

/// `ami`: a command-line client for the Asterisk Manager Interface (AMI).
#[derive(Debug, Parser)]
#[command(name = "ami", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where and how to connect.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Show the library at work: against an embedded fake Asterisk, or (with --host)
    /// the read-only parts against a real one.
    Tour(TourArgs),
    /// Send one action and print its reply (and list items).
    Send(SendArgs),
    /// Run a CLI command (the `Command` action) and print its output lines.
    Command(CommandArgs),
    /// Print events as they arrive, until interrupted (Ctrl-C).
    Events(EventsArgs),
    /// Measure throughput: the parser against its baselines, and each runtime adapter
    /// against the embedded fake Asterisk.
    Bench(BenchArgs),
}

/// Connection options, accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Server host name or address. Without it, `tour` starts an embedded fake
    /// Asterisk and the other commands use 127.0.0.1.
    #[arg(long, global = true, env = "AMI_HOST")]
    pub host: Option<String>,
    /// Server port [default: 5038, or 5039 with --tls].
    #[arg(long, global = true, env = "AMI_PORT")]
    pub port: Option<u16>,
    /// Manager user (a section of manager.conf).
    #[arg(long, short = 'u', global = true, env = "AMI_USER")]
    pub user: Option<String>,
    /// The user's secret. Prefer AMI_SECRET or --secret-env: a command line is
    /// visible to other local users.
    #[arg(long, global = true, env = "AMI_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Read the secret from this environment variable.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "secret")]
    pub secret_env: Option<String>,
    /// Log in with an MD5 challenge: the secret never crosses the wire.
    #[arg(long, global = true, env = "AMI_MD5", value_parser = FalseyValueParser::new())]
    pub md5: bool,
    /// Use AMI over TLS (Asterisk's `tlsenable`, usually port 5039).
    #[arg(long, global = true, env = "AMI_TLS", value_parser = FalseyValueParser::new())]
    pub tls: bool,
    /// With --tls: trust the CA certificates in this PEM (or DER) file instead of
    /// the system's roots, e.g. the server's self-signed certificate.
    #[arg(long, global = true, value_name = "FILE", env = "AMI_CA")]
    pub ca: Option<PathBuf>,
    /// With --tls: the name the certificate must be valid for [default: --host].
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_name: Option<String>,
    /// Seconds to wait for the connection, the login and each reply.
    #[arg(
        long,
        global = true,
        default_value_t = 10.0,
        env = "AMI_TIMEOUT",
        value_name = "SECS"
    )]
    pub timeout: f64,
}

/// `ami tour`.
#[derive(Debug, Args)]
pub struct TourArgs {
    /// Smaller counts and a shorter measurement (for tests and slow machines).
    #[arg(long)]
    pub quick: bool,
}

/// `ami send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The action name (`Ping`, `CoreShowChannels`, `Originate` ...).
    pub action: String,
    /// Headers as `Key=Value` (split at the first `=`; keys may repeat).
    #[arg(value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Print each packet as one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// `ami command`.
#[derive(Debug, Args)]
pub struct CommandArgs {
    /// The CLI command, e.g. "core show channels" (quote it).
    pub command: String,
    /// Print the whole response as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `ami events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events with a header `Key` whose value matches the regular expression
    /// (key case-insensitive; repeat for AND). Applied by this client, not the server.
    #[arg(long, short = 'f', value_name = "KEY=REGEX")]
    pub filter: Vec<String>,
    /// The event classes to ask for at login (`Events:`), e.g. `call,system`.
    #[arg(long, value_name = "CLASSES")]
    pub mask: Option<String>,
    /// Print each event as one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// `ami bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run on part of the corpus.
    #[arg(long)]
    pub quick: bool,
}
