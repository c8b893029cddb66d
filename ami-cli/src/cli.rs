//! The command line: clap types only, no behaviour.

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

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
  9  the call failed: an async Originate's OriginateResponse said Failure (busy ...)

Environment: AMI_HOST, AMI_PORT, AMI_USER, AMI_SECRET, AMI_MD5, AMI_TLS, AMI_CA,
AMI_TIMEOUT stand for the options of the same name (AMI_MD5/AMI_TLS: 1, true, yes).

Try it with no Asterisk at hand:  ami tour
                 or, in two terminals:  ami fake   then   AMI_SECRET=amp111 ami -u admin";

const ABOUT: &str = "\
ami: a command-line client for the Asterisk Manager Interface (AMI).

With no command, on a terminal: an interactive prompt (type `Ping`, or
`Originate Channel=PJSIP/100 Context=default Exten=200 Priority=1`; /help).
With no command and stdin not a terminal: one action per line from stdin.";

/// `ami`: a command-line client for the Asterisk Manager Interface (AMI).
///
/// With no subcommand, on a terminal: an interactive prompt (type `Ping`, or
/// `Originate Channel=PJSIP/100 Context=default Exten=200 Priority=1`; `/help`).
/// With no subcommand and stdin not a terminal: one action per line from stdin.
#[derive(Debug, Parser)]
#[command(name = "ami", version, about = ABOUT, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where and how to connect (here for the interactive mode; the subcommands
    /// that connect take these options before or after their name).
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Colour (interactive mode).
    #[command(flatten)]
    pub color: ColorArgs,
    /// What to do; none: the interactive mode.
    #[command(subcommand)]
    pub command: Option<Commands>,
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
    /// Measure the ratios the workspace's benches print, next to their targets: the
    /// parser against a memchr line-end floor, each runtime adapter's events/s and
    /// pipelined round trips against a raw socket.
    Bench(BenchArgs),
    /// Run ami-testkit's fake Asterisk on a port, to try things against, until Ctrl-C.
    Fake(FakeArgs),
    /// Record a session's traffic both ways, byte for byte with timing: a proxy
    /// between your client (connect it to --listen) and the server (--to).
    Record(RecordArgs),
    /// Bridge a fleet of Asterisk servers onto NATS JetStream: runs the
    /// `ami-bridge` program (next to `ami`, or on PATH) with these arguments;
    /// `ami bridge --help` shows its options and an example configuration.
    Bridge(BridgeArgs),
}

/// `ami bridge`: everything after it goes to `ami-bridge`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct BridgeArgs {
    /// The arguments of `ami-bridge`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<std::ffi::OsString>,
}

/// Connection options, accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Server host name or address. Without it, `tour` starts an embedded fake
    /// Asterisk and the other commands use 127.0.0.1.
    #[arg(long, env = "AMI_HOST")]
    pub host: Option<String>,
    /// Server port [default: 5038, or 5039 with --tls].
    #[arg(long, env = "AMI_PORT")]
    pub port: Option<u16>,
    /// Manager user (a section of manager.conf).
    #[arg(long, short = 'u', env = "AMI_USER")]
    pub user: Option<String>,
    /// The user's secret. Prefer AMI_SECRET or --secret-env: a command line is
    /// visible to other local users.
    #[arg(long, env = "AMI_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Read the secret from this environment variable.
    #[arg(long, value_name = "NAME", conflicts_with = "secret")]
    pub secret_env: Option<String>,
    /// Log in with an MD5 challenge: the secret never crosses the wire.
    #[arg(long, env = "AMI_MD5", value_parser = FalseyValueParser::new())]
    pub md5: bool,
    /// Use AMI over TLS (Asterisk's `tlsenable`, usually port 5039).
    #[arg(long, env = "AMI_TLS", value_parser = FalseyValueParser::new())]
    pub tls: bool,
    /// With --tls: trust the CA certificates in this PEM (or DER) file instead of
    /// the system's roots, e.g. the server's self-signed certificate.
    #[arg(long, value_name = "FILE", env = "AMI_CA")]
    pub ca: Option<PathBuf>,
    /// With --tls: the name the certificate must be valid for [default: --host].
    #[arg(long, value_name = "NAME")]
    pub tls_name: Option<String>,
    /// Seconds to wait for the connection, the login and each reply [default: 10].
    #[arg(long, env = "AMI_TIMEOUT", value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Use AMI over HTTP instead of TCP: Asterisk's HTTP server and prefix, e.g.
    /// http://pbx:8088/ (or https://; `webenabled=yes` in manager.conf).
    #[arg(long, env = "AMI_URL", value_name = "URL", conflicts_with_all = ["host", "port", "tls"])]
    pub url: Option<String>,
}

impl ConnArgs {
    /// These options (given after the subcommand) completed by `outer` (given
    /// before it): a value given after wins.
    pub fn or(&self, outer: &ConnArgs) -> ConnArgs {
        let (secret, secret_env) = match (&self.secret, &self.secret_env) {
            (None, None) => (outer.secret.clone(), outer.secret_env.clone()),
            (secret, secret_env) => (secret.clone(), secret_env.clone()),
        };
        ConnArgs {
            host: self.host.clone().or_else(|| outer.host.clone()),
            port: self.port.or(outer.port),
            user: self.user.clone().or_else(|| outer.user.clone()),
            secret,
            secret_env,
            md5: self.md5 || outer.md5,
            tls: self.tls || outer.tls,
            ca: self.ca.clone().or_else(|| outer.ca.clone()),
            tls_name: self.tls_name.clone().or_else(|| outer.tls_name.clone()),
            timeout: self.timeout.or(outer.timeout),
            url: self.url.clone().or_else(|| outer.url.clone()),
        }
    }
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (to anything but empty).
    Auto,
    /// Always, even piped and whatever NO_COLOR says.
    Always,
    /// Never.
    Never,
}

/// `--color`, for the commands that print packets.
#[derive(Debug, Clone, Args)]
pub struct ColorArgs {
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never
    /// [default: auto].
    #[arg(long, value_name = "WHEN")]
    pub color: Option<ColorWhen>,
}

impl ColorArgs {
    /// The choice given after the subcommand, else before it, else `auto`.
    pub fn or(&self, outer: &ColorArgs) -> ColorWhen {
        self.color.or(outer.color).unwrap_or(ColorWhen::Auto)
    }
}

/// `ami tour`.
#[derive(Debug, Args)]
pub struct TourArgs {
    /// With --host: a real server to run the read-only steps against.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Smaller counts and a shorter measurement (for tests and slow machines).
    #[arg(long)]
    pub quick: bool,
}

/// `ami send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Where and how to connect.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The action name (`Ping`, `CoreShowChannels`, `Originate` ...).
    pub action: String,
    /// Headers as `Key=Value` (split at the first `=`; keys may repeat).
    #[arg(value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Print each packet as one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Print the action's documented parameters (required ones marked) and
    /// exit, without connecting.
    #[arg(long)]
    pub params: bool,
    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `ami command`.
#[derive(Debug, Args)]
pub struct CommandArgs {
    /// Where and how to connect.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The CLI command, e.g. "core show channels" (quote it).
    pub command: String,
    /// Print the whole response as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `ami events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Where and how to connect.
    #[command(flatten)]
    pub conn: ConnArgs,
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
    /// Keep going when the connection is lost: log in again (with backoff), print
    /// `reconnected` on stderr, and go on printing events.
    #[arg(long)]
    pub reconnect: bool,
    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `ami bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run: 1 MB of traffic instead of 8, 10,000 events instead of 200,000,
    /// 5,000 round trips instead of 40,000, 3 runs each.
    #[arg(long)]
    pub quick: bool,
}

/// `ami fake`.
#[derive(Debug, Args)]
pub struct FakeArgs {
    /// The port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 5038)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: std::net::IpAddr,
    /// The manager user clients log in as.
    #[arg(long, short = 'u', default_value = "admin")]
    pub user: String,
    /// Its secret (plain or MD5 login).
    #[arg(long, default_value = "amp111")]
    pub secret: String,
    /// Answer actions from a recording made with `ami record` (see the README),
    /// falling back to the fake's own behaviour for actions it does not hold.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// `ami record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The file to write (the format is in ami-cli/README.md).
    pub file: PathBuf,
    /// Where your client connects (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:15038", value_name = "ADDR")]
    pub listen: String,
    /// The AMI server to forward to (plain TCP).
    #[arg(long, default_value = "127.0.0.1:5038", value_name = "HOST:PORT")]
    pub to: String,
    /// Keep login secrets in the file (by default the values of `Secret:`, and of
    /// `Key:` in a Login, are replaced by `*`s of the same length).
    #[arg(long)]
    pub keep_secrets: bool,
}
