//! The world `concierge eval shop` shops in: one reference merchant per
//! feed, each run and registered exactly as a merchant would do it
//! (`concierge merchant serve`, then `concierge merchant register
//! --allow-loopback`), and requests made with `concierge ask --auto-pay
//! --json`, all as child processes of the given binary in a scratch
//! directory of their own, so the user's index, store and settings are never
//! touched (the way `eval/market/three_merchants.py` does it).
//!
//! Children get no `CONCIERGE_*` variable from the environment but the
//! timing ones (`CONCIERGE_TURN_TIMEOUT_MS`, `CONCIERGE_DEADLINE_MS`) and
//! a free `CONCIERGE_LISTEN` port; every child is killed, and the scratch
//! directory removed, when the [`Market`] is dropped, on error too.

use super::shop::{AskRun, FeedFile, ShopEvalError};
use crate::negotiate::ShopReport;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Environment variables children inherit; every other `CONCIERGE_*` is
/// cleared.
const INHERITED: [&str; 2] = ["CONCIERGE_TURN_TIMEOUT_MS", "CONCIERGE_DEADLINE_MS"];

/// Longest a responder may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest one `ask` may take (its own negotiation deadline is 40 s by
/// default); after that it is killed and the run counted as an error.
const ASK_TIMEOUT: Duration = Duration::from_secs(300);

/// What a [`Market`] is built from.
#[derive(Debug, Clone)]
pub struct MarketOptions {
    /// The `concierge` binary to run.
    pub binary: PathBuf,
    /// Passed as `--rules` to every child; `None`: the binary's embedded
    /// rules.
    pub rules_dir: Option<PathBuf>,
}

/// Running merchants, registered in a scratch deployment.
pub struct Market {
    binary: PathBuf,
    rules_dir: Option<PathBuf>,
    scratch: PathBuf,
    listen: String,
    responders: Vec<Child>,
    asks: usize,
}

impl Market {
    /// Starts and registers one reference responder per feed, in order.
    /// A responder that does not start, or a registration refused (a feed
    /// the catalog will not take), is an error naming the merchant.
    pub fn open(options: &MarketOptions, feeds: &[FeedFile]) -> Result<Market, ShopEvalError> {
        let scratch = scratch_dir()?;
        let mut market = Market {
            binary: options.binary.clone(),
            rules_dir: options.rules_dir.clone(),
            scratch,
            listen: String::new(),
            responders: Vec::new(),
            asks: 0,
        };
        market.listen = format!("127.0.0.1:{}", free_port()?);
        for feed in feeds {
            market.add_merchant(feed)?;
        }
        Ok(market)
    }

    /// The scratch directory the children run in.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.current_dir(&self.scratch);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CONCIERGE_")
                && !INHERITED.iter().any(|kept| name == *kept)
            {
                command.env_remove(&name);
            }
        }
        command.env("CONCIERGE_LISTEN", &self.listen);
        if let Some(rules) = &self.rules_dir {
            command.arg("--rules").arg(rules);
        }
        command
    }

    fn add_merchant(&mut self, feed: &FeedFile) -> Result<(), ShopEvalError> {
        let merchant_error = |message: String| ShopEvalError::Merchant {
            merchant: feed.merchant.clone(),
            message,
        };
        let feed_path = std::path::absolute(&feed.path).unwrap_or_else(|_| feed.path.clone());
        let app_secret = crate::merchant::messenger::signature::random_token(16);
        let verify_token = crate::merchant::messenger::signature::random_token(16);
        let log = self.scratch.join(format!("serve-{}.log", feed.merchant));
        let log_file = std::fs::File::create(&log)
            .map_err(|e| ShopEvalError::World(format!("cannot create {}: {e}", log.display())))?;
        let mut child = self
            .command()
            .args(["merchant", "serve", "--feed"])
            .arg(&feed_path)
            .args([
                "--port",
                "0",
                "--id",
                &feed.merchant,
                "--name",
                &feed.merchant,
            ])
            .args(["--app-secret", &app_secret, "--verify-token", &verify_token])
            .args(["--shipping", &feed.shipping.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| {
                ShopEvalError::World(format!("cannot run {}: {e}", self.binary.display()))
            })?;
        let stdout = child.stdout.take();
        self.responders.push(child);
        let Some(stdout) = stdout else {
            return Err(merchant_error("the responder has no output".into()));
        };
        // Read its announcement on a thread (which then drains the rest of
        // its output), so a responder that hangs cannot hang us.
        let (sender, announced) = mpsc::channel();
        std::thread::spawn(move || {
            let mut webhook = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.trim().strip_prefix("webhook:") {
                    webhook = Some(url.trim().to_string());
                }
                if line.contains("Ctrl-C stops it") {
                    let _ = sender.send(webhook.take());
                }
            }
        });
        let webhook = match announced.recv_timeout(START_TIMEOUT) {
            Ok(Some(webhook)) => webhook,
            Ok(None) => return Err(merchant_error("the responder gave no webhook URL".into())),
            Err(_) => {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(merchant_error(format!(
                    "the reference responder did not start: {}",
                    last_lines(&said, 3)
                )));
            }
        };
        let registered = self
            .command()
            .args(["merchant", "register", "--name", &feed.merchant])
            .args(["--id", &feed.merchant, "--endpoint", &webhook])
            .args(["--verify-token", &verify_token, "--app-secret", &app_secret])
            .arg("--feed")
            .arg(&feed_path)
            .arg("--allow-loopback")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                ShopEvalError::World(format!("cannot run {}: {e}", self.binary.display()))
            })?;
        if !registered.status.success() {
            let said = String::from_utf8_lossy(&registered.stderr)
                .lines()
                .filter(|line| !line.starts_with("Loopback merchant endpoints are now allowed"))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(merchant_error(format!(
                "registration refused: {}",
                last_lines(&said, 3)
            )));
        }
        Ok(())
    }

    /// Shops for `request` with `ask --auto-pay --json` (and `--max-total`
    /// when given, in minor units) and reads its report. A run that prints
    /// no report says why in `error`.
    pub fn ask(&mut self, request: &str, max_total: Option<i64>) -> AskRun {
        self.asks += 1;
        let started = Instant::now();
        let stdout_path = self.scratch.join(format!("ask-{}.json", self.asks));
        let stderr_path = self.scratch.join(format!("ask-{}.log", self.asks));
        let failed = |error: String, started: Instant| AskRun {
            exit_code: None,
            report: None,
            error: Some(error),
            seconds: started.elapsed().as_secs_f64(),
        };
        let files = std::fs::File::create(&stdout_path)
            .and_then(|out| Ok((out, std::fs::File::create(&stderr_path)?)));
        let (out, err) = match files {
            Ok(files) => files,
            Err(e) => {
                return failed(
                    format!("cannot write in the scratch directory: {e}"),
                    started,
                )
            }
        };
        let mut command = self.command();
        command.args(["ask", "--auto-pay", "--json"]);
        if let Some(minor) = max_total {
            command
                .arg("--max-total")
                .arg(format!("{}.{:02}", minor / 100, minor % 100));
        }
        let child = command
            .arg("--")
            .arg(request)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                return failed(
                    format!("cannot run {}: {e}", self.binary.display()),
                    started,
                )
            }
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() > ASK_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let _ = std::fs::remove_file(&stdout_path);
        let _ = std::fs::remove_file(&stderr_path);
        let Some(status) = status else {
            return AskRun {
                exit_code: None,
                report: None,
                error: Some(format!(
                    "ask did not end within {} s",
                    ASK_TIMEOUT.as_secs()
                )),
                seconds,
            };
        };
        match serde_json::from_str::<ShopReport>(&stdout) {
            Ok(report) => AskRun {
                exit_code: status.code(),
                report: Some(report),
                error: None,
                seconds,
            },
            Err(e) => AskRun {
                exit_code: status.code(),
                report: None,
                error: Some(if stderr.trim().is_empty() {
                    format!("ask printed no report ({e})")
                } else {
                    last_lines(&stderr, 3)
                }),
                seconds,
            },
        }
    }
}

impl Drop for Market {
    fn drop(&mut self) {
        for child in &mut self.responders {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// A fresh directory under the system temp dir.
fn scratch_dir() -> Result<PathBuf, ShopEvalError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "concierge-eval-shop-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| ShopEvalError::World(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

fn free_port() -> Result<u16, ShopEvalError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| ShopEvalError::World(format!("no free port on 127.0.0.1: {e}")))
}

/// The last `n` non-empty lines of a child's output, on one line.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    let said = lines[start..].join(" / ");
    if said.is_empty() {
        "(no output)".into()
    } else {
        said
    }
}
