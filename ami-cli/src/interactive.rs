//! `ami` with no subcommand: a prompt on a terminal, or one action per line from a
//! pipe.
//!
//! A line is an action: its name, then `Key=Value` headers separated by spaces
//! (`Originate Channel=PJSIP/100 Context=default Exten=200 Priority=1`). Quote a
//! value with spaces in `"..."` or `'...'` (`Command Command="core show channels"`);
//! a backslash escapes the next character outside single quotes. Lines starting
//! with `/` are this tool's own commands (`/help`).
//!
//! On a terminal the line editor is rustyline: history (saved in `AMI_HISTORY`, or
//! `~/.ami_history`), Tab completes action names, and events are printed above the
//! prompt as they arrive once `/events on`. The session logs in again by itself
//! when the connection is lost (printing `reconnected`).
//!
//! From a pipe (`printf 'Ping\nCoreStatus\n' | ami -u admin`), the same lines run
//! in order with no prompt; the exit code is that of the first line that failed
//! (after running them all), 0 when none did.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ami_blocking::{Client, Event};
use ami_proto::{Packet, Reconnect};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Editor, ExternalPrinter, Helper};

use crate::actions::action_names;
use crate::cli::{ColorWhen, ConnArgs};
use crate::color::{error_text, write_packet};
use crate::connect::{connect_blocking, resolve, Target};
use crate::error::{CliError, Exit, Phase};
use crate::send::{action, packets, verdict};

const HELP: &str = "\
Type an action and its headers, e.g.
  Ping
  CoreShowChannels
  Originate Channel=PJSIP/100 Context=default Exten=200 Priority=1 Async=true
  Command Command=\"core show channels\"
Values with spaces go in quotes. Tab completes action names; Up/Down walk the history.
Commands:
  /events on|off   show events as they arrive (off at start)
  /help            this text
  /quit            log off and leave (also Ctrl-D)";

const SLASH_COMMANDS: &[&str] = &["/events off", "/events on", "/help", "/quit"];

/// Runs the interactive mode (stdin a terminal) or the line-per-action mode.
pub fn run(conn: &ConnArgs, color: ColorWhen) -> Result<(), CliError> {
    let terminal = io::stdin().is_terminal();
    let (target, mut config) = resolve(conn)?;
    config.events = Some("on".into());
    if terminal {
        config.reconnect = Some(Reconnect::default());
    }
    let client = connect_blocking(&target, config)?;
    let color = color.enabled(io::stdout().is_terminal());
    let session = Session {
        client,
        target,
        color,
        show_events: Arc::new(AtomicBool::new(false)),
        quitting: Arc::new(AtomicBool::new(false)),
    };
    let result = match terminal {
        true => session.prompt(),
        false => session.script(),
    };
    session.quitting.store(true, Ordering::Relaxed);
    if !session.client.is_closed() {
        let _ = session.client.logoff().wait();
    }
    result
}

struct Session {
    client: Client,
    target: Target,
    color: bool,
    show_events: Arc<AtomicBool>,
    /// Set before the last Logoff, so that its close is not reported.
    quitting: Arc<AtomicBool>,
}

/// What a line asked for.
enum Next {
    Continue,
    Quit,
}

impl Session {
    fn prompt(&self) -> Result<(), CliError> {
        let failed = |e: ReadlineError| CliError::new(Exit::Other, format!("line editor: {e}"));
        let config = rustyline::Config::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(true)
            .max_history_size(1000)
            .map_err(failed)?
            .build();
        let mut editor: Editor<ActionCompleter, DefaultHistory> =
            Editor::with_config(config).map_err(failed)?;
        editor.set_helper(Some(ActionCompleter));
        let history = history_file();
        if let Some(path) = &history {
            let _ = editor.load_history(path); // absent the first time
        }
        let printer = editor.create_external_printer().map_err(failed)?;
        self.print_events(Box::new(Printer(printer)), true);
        println!(
            "Connected to {}. /help for help, /events on to watch events, /quit to leave.",
            self.target.addr
        );
        let prompt = format!("{}> ", self.target.addr);
        let result = loop {
            let line = match editor.readline(&prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => continue, // Ctrl-C clears the line
                Err(ReadlineError::Eof) => break Ok(()),
                Err(e) => break Err(failed(e)),
            };
            match self.line(&line) {
                Ok(Next::Continue) => {}
                Ok(Next::Quit) => break Ok(()),
                Err(error) => println!("{}", error_text(&format!("(error) {error}"), self.color)),
            }
        };
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        result
    }

    fn script(&self) -> Result<(), CliError> {
        self.print_events(Box::new(Stdout), false);
        let mut first_failure: Option<CliError> = None;
        let (mut failures, mut count) = (0, 0);
        for (number, line) in io::stdin().lock().lines().enumerate() {
            let line = line.map_err(|e| CliError::new(Exit::Other, format!("stdin: {e}")))?;
            count += 1;
            match self.line(&line) {
                Ok(Next::Continue) => {}
                Ok(Next::Quit) => break,
                Err(error) => {
                    eprintln!("ami: line {}: {error}", number + 1);
                    failures += 1;
                    first_failure.get_or_insert(error);
                }
            }
        }
        match first_failure {
            None => Ok(()),
            Some(first) => Err(CliError::new(
                first.exit,
                format!("{failures} of {count} lines failed; the first: {first}"),
            )),
        }
    }

    /// Prints events (when `/events on`) and connection changes from a thread.
    fn print_events(&self, mut out: Box<dyn Print + Send>, reconnects: bool) {
        let events = self.client.events();
        let show = self.show_events.clone();
        let quitting = self.quitting.clone();
        let color = self.color;
        std::thread::spawn(move || {
            for event in events {
                let text = match event {
                    Event::Event(packet) if show.load(Ordering::Relaxed) => render(&packet, color),
                    Event::Event(_) => continue,
                    _ if quitting.load(Ordering::Relaxed) => continue,
                    Event::Disconnected(reason) if reconnects => {
                        format!("ami: connection lost ({reason}), reconnecting\n")
                    }
                    Event::Disconnected(reason) => format!("ami: connection lost ({reason})\n"),
                    Event::Reconnected => "ami: reconnected\n".to_owned(),
                    Event::Lagged(n) if show.load(Ordering::Relaxed) => {
                        format!("ami: fell behind, {n} events were lost\n")
                    }
                    _ => continue,
                };
                out.print(text);
            }
        });
    }

    /// Runs one line: a `/` command or an action.
    fn line(&self, line: &str) -> Result<Next, CliError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Next::Continue);
        }
        if let Some(command) = line.strip_prefix('/') {
            return self.slash(command);
        }
        let words = split_words(line)?;
        let (name, headers) = words.split_first().expect("a non-empty line has a word");
        let action = action(name, headers)?;
        let logoff = name.eq_ignore_ascii_case("Logoff");
        self.quitting.store(logoff, Ordering::Relaxed);
        let reply = self
            .client
            .send(action)
            .wait()
            .map_err(|e| self.target.context.describe(e, Phase::Action(name)))?;
        let mut text = String::new();
        for packet in packets(&reply) {
            text.push_str(&render(packet, self.color));
        }
        let mut out = io::stdout().lock();
        crate::stdout_result(out.write_all(text.as_bytes()).and_then(|()| out.flush()))?;
        verdict(&reply)?;
        Ok(match logoff {
            true => Next::Quit,
            false => Next::Continue,
        })
    }

    fn slash(&self, command: &str) -> Result<Next, CliError> {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["help"] | ["h"] | ["?"] => println!("{HELP}"),
            ["quit"] | ["exit"] | ["q"] => return Ok(Next::Quit),
            ["events", switch @ ("on" | "off")] => {
                self.show_events.store(*switch == "on", Ordering::Relaxed);
                println!("events {switch}");
            }
            ["events"] => {
                let on = self.show_events.load(Ordering::Relaxed);
                println!("events {}", if on { "on" } else { "off" });
            }
            _ => {
                return Err(CliError::usage(format!(
                    "unknown command /{command} (try /help)"
                )))
            }
        }
        Ok(Next::Continue)
    }
}

fn render(packet: &Packet, color: bool) -> String {
    let mut bytes = Vec::new();
    write_packet(&mut bytes, packet, color).expect("write to a Vec");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Where the event thread prints.
trait Print {
    fn print(&mut self, text: String);
}

/// Above the prompt, through rustyline.
struct Printer<P>(P);

impl<P: ExternalPrinter> Print for Printer<P> {
    fn print(&mut self, text: String) {
        let _ = self.0.print(text);
    }
}

/// Straight to stdout (no prompt to keep).
struct Stdout;

impl Print for Stdout {
    fn print(&mut self, text: String) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

fn history_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AMI_HISTORY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".ami_history"))
}

/// Splits a line into words: spaces separate, `"..."` and `'...'` group (anywhere
/// in a word, so `Key="a b"` is the word `Key=a b`), a backslash outside single
/// quotes takes the next character as is.
pub fn split_words(line: &str) -> Result<Vec<String>, CliError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.get_or_insert_with(String::new).push(c),
            (_, '\\') => match chars.next() {
                Some(next) => word.get_or_insert_with(String::new).push(next),
                None => return Err(CliError::usage("a backslash at the end of the line")),
            },
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(CliError::usage(format!("unclosed {q} quote")));
    }
    words.extend(word);
    Ok(words)
}

/// Tab completion: action names for the first word, `/` commands.
struct ActionCompleter;

impl Completer for ActionCompleter {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let pair = |name: &str| Pair {
            display: name.to_owned(),
            replacement: name.to_owned(),
        };
        if before.starts_with('/') {
            let found = SLASH_COMMANDS
                .iter()
                .filter(|c| c.starts_with(before))
                .map(|c| pair(c))
                .collect();
            return Ok((0, found));
        }
        if before.contains(char::is_whitespace) {
            return Ok((pos, Vec::new()));
        }
        let found = action_names()
            .iter()
            .filter(|name| {
                name.len() >= before.len()
                    && name.as_bytes()[..before.len()].eq_ignore_ascii_case(before.as_bytes())
            })
            .map(|name| pair(name))
            .collect();
        Ok((0, found))
    }
}

impl Hinter for ActionCompleter {
    type Hint = String;
}
impl Highlighter for ActionCompleter {}
impl Validator for ActionCompleter {}
impl Helper for ActionCompleter {}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn words_split_at_spaces_and_quotes_group() {
        let words =
            split_words(r#"Originate Channel=PJSIP/100  Data="a b" X='c "d"' Y=e\ f"#).unwrap();
        assert_eq!(
            words,
            [
                "Originate",
                "Channel=PJSIP/100",
                "Data=a b",
                r#"X=c "d""#,
                "Y=e f"
            ]
        );
        assert_eq!(
            split_words(r#"Setvar Value="""#).unwrap(),
            ["Setvar", "Value="]
        );
        assert!(split_words(r#"Ping X="open"#).is_err());
    }
}
