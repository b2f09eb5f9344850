//! `weightseal log init|add|serve|submit|monitor` and `weightseal witness serve`: the CLI of
//! the transparency log (the library's `weightseal::log` does the work).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use weightseal::ask::{Ask, AskOptions};
use weightseal::attest::PrivateKey;
use weightseal::evidence::{gather, Locators, Place, Source};
use weightseal::log::client::WitnessClient;
use weightseal::log::serve::{Batching, Event, Limits, LogOptions};
use weightseal::log::store::LogDir;
use weightseal::log::{LogEntry, VerifierKey};
use weightseal::release::{CheckOptions, Trust};

use super::{Bar, Outcome};

#[derive(clap::Subcommand)]
pub enum LogCommand {
    /// Create an empty log in LOGDIR (static files: checkpoint, tile/...) and print its
    /// verifier key (signed-note form) as the first line of stdout.
    Init {
        logdir: PathBuf,
        /// The log's origin: its unique name in checkpoints (e.g. example.com/models).
        #[arg(long)]
        origin: String,
        /// The log's ed25519 private key (`weightseal keygen`).
        #[arg(long, value_name = "LOG.key")]
        key: PathBuf,
    },
    /// Append releases (each model directory or single model file, with its manifest and
    /// attestations, which must verify), write the tiles and a new signed checkpoint, and write
    /// each release's weightseal.tlog-proof.
    Add {
        logdir: PathBuf,
        #[arg(long, value_name = "LOG.key")]
        key: PathBuf,
        /// The releases.
        #[arg(required_unless_present = "entries")]
        models: Vec<PathBuf>,
        /// Append the entries of this file instead (one base64 log entry per line, as a
        /// submission would send them): each must be a valid entry, and with --publisher-key
        /// each must be signed by one of those keys.
        #[arg(long, value_name = "FILE", conflicts_with = "models")]
        entries: Option<PathBuf>,
        /// Also require each release's attestations to verify under this publisher key.
        /// Repeatable.
        #[arg(long = "publisher-key", value_name = "PUB")]
        publisher_keys: Vec<PathBuf>,
        /// A witness to ask for a cosignature: URL=VKEY (its add-checkpoint prefix and its
        /// cosignature/v1 verifier key). Repeatable.
        #[arg(long = "witness", value_name = "URL=VKEY")]
        witnesses: Vec<String>,
    },
    /// Serve LOGDIR over HTTP: its checkpoint and tiles, and submissions (POST /add) answered
    /// with their proof once a checkpoint includes them, cosigned by the witnesses given.
    Serve {
        logdir: PathBuf,
        #[arg(long, value_name = "LOG.key")]
        key: PathBuf,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// A witness to ask for cosignatures: URL=VKEY. Repeatable.
        #[arg(long = "witness", value_name = "URL=VKEY")]
        witnesses: Vec<String>,
        /// The longest a submission waits (milliseconds) for others to share its checkpoint;
        /// submissions that arrive while one is being written share the next without waiting.
        #[arg(long, default_value_t = Batching::DEFAULT.every.as_millis() as u64)]
        batch_ms: u64,
        /// Or as soon as this many submissions wait.
        #[arg(long, default_value_t = Batching::DEFAULT.max)]
        batch_max: usize,
        /// Accept only entries signed as publisher by one of these keys (public key files;
        /// repeatable). Without it, any well-formed release entry is accepted.
        #[arg(long = "require-signed-by", value_name = "PUB")]
        require_signed_by: Vec<PathBuf>,
    },
    /// Submit a release to the log at URL and write its weightseal.tlog-proof, once the proof
    /// the log answers is checked: it must carry this release's entry and its inclusion proof
    /// must hold (with --log-key, it must verify as a verifier will check it).
    Submit {
        url: String,
        /// The model directory or single model file.
        model: PathBuf,
        #[command(flatten)]
        log: super::LogArgs,
    },
    /// Follow the log at URL: open its checkpoint as verifiers do (the log key, the witness
    /// quorum), check that its tree extends the one read before, and list the new entries for
    /// models matching PATTERN; exit 1 when one is not signed by the watched keys, repeats a
    /// version with another manifest, or is malformed, or when the log forked.
    Monitor {
        url: String,
        /// The model names to watch (`org/*`).
        #[arg(long, value_name = "PATTERN")]
        model: String,
        /// A publisher key every watched entry must be signed by (any one suffices).
        /// Repeatable.
        #[arg(long = "key", value_name = "PUB")]
        keys: Vec<PathBuf>,
        /// A trust policy every watched entry must meet (its [log] table gives the log's key,
        /// witnesses and quorum).
        #[arg(long, value_name = "POLICY", conflicts_with = "keys")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        log: super::LogArgs,
        /// Where the monitor keeps what it has read.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Entries read in one run at most (it stops at a proved bundle boundary; the next run
        /// goes on from there).
        #[arg(long, value_name = "N", default_value_t = weightseal::log::monitor::DEFAULT_MAX_ENTRIES)]
        max_entries: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum WitnessCommand {
    /// Run a witness (C2SP tlog-witness): print its verifier key (cosignature/v1) as the first
    /// line of stdout, then cosign checkpoints of the given logs that are consistent with the
    /// last one it cosigned (POST /add-checkpoint).
    Serve {
        /// The witness's ed25519 private key.
        #[arg(long, value_name = "W.key")]
        key: PathBuf,
        /// The witness's name in its cosignatures.
        #[arg(long, default_value = "witness.weightseal.local")]
        name: String,
        /// The verifier key of a log it witnesses. Repeatable.
        #[arg(long = "log", value_name = "VKEY", required = true)]
        logs: Vec<String>,
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// Its state: the last checkpoint cosigned per log (kept durably).
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
    },
}

fn ed25519_key(path: &Path) -> Result<Arc<PrivateKey>> {
    let k = PrivateKey::read_with(path, &|| super::attest::passphrase_for(path))?;
    if k.algorithm() != weightseal::attest::keys::Algorithm::Ed25519 {
        bail!(
            "{}: a log or witness key must be ed25519 (signed notes), not {}",
            path.display(),
            k.algorithm()
        );
    }
    Ok(Arc::new(k))
}

/// The release at `model` (directory or single file): manifest, attestations, proof path.
/// A local release's manifest, attestations and the path of its log proof, as the one
/// gatherer reads them.
fn release(
    model: &Path,
) -> Result<(
    weightseal::Manifest,
    Vec<weightseal::attest::bundle::BundleLine>,
    PathBuf,
)> {
    let ev = gather(&Source::Local(model), &Locators::default())?;
    let proof = match &ev.place {
        Place::Local {
            manifest_path: Some(m),
            ..
        } => weightseal::path::log_proof_for(m),
        _ => bail!("{}: not a local release", model.display()),
    };
    match ev.signed {
        weightseal::evidence::Signed::Weightseal(w) => Ok((w.manifest, w.attestations, proof)),
        weightseal::evidence::Signed::Oms(_) => {
            bail!("{}: not a weightseal release", model.display())
        }
    }
}

/// What `log serve` reports while it runs, on stderr. A witness failing the same way for
/// every batch is named once a minute, with how many times it failed meanwhile. A closed stderr
/// is no reason to stop serving, so a failed write is ignored (not the panic of `eprintln!`).
fn report(e: Event<'_>) {
    use std::collections::HashMap;
    use std::io::Write as _;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static SEEN: Mutex<Option<HashMap<String, (Instant, u64)>>> = Mutex::new(None);
    const EVERY: Duration = Duration::from_secs(60);
    let line = match e {
        Event::WitnessFailed { failure, .. } => {
            let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
            let seen = seen.get_or_insert_with(HashMap::new);
            if seen.len() > 1000 {
                seen.clear();
            }
            match seen.get_mut(failure) {
                Some((at, more)) if at.elapsed() < EVERY => {
                    *more += 1;
                    return;
                }
                Some((at, more)) => {
                    let line = format!(
                        "weightseal: warning: witness {failure} (and {more} more time(s) in the last {} s)",
                        at.elapsed().as_secs()
                    );
                    (*at, *more) = (Instant::now(), 0);
                    line
                }
                None => {
                    seen.insert(failure.to_string(), (Instant::now(), 0));
                    format!("weightseal: warning: witness {failure}")
                }
            }
        }
        Event::AddFailed { entries, error } => {
            format!("weightseal: error: {entries} submission(s) not logged: {error}")
        }
        _ => return,
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        super::render::terminal_safe(&line)
    );
}

/// The servers' limits, with the process allowed enough open files for the connections it
/// serves: the soft RLIMIT_NOFILE is raised toward the hard one when it is too low (as Go's
/// runtime does), and the bound on connections lowered when even the hard one is too low.
fn server_limits() -> Limits {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    /// Descriptors kept for everything but connections (files, the witnesses' sockets).
    const SPARE: u64 = 256;
    let mut limits = Limits::default();
    let want = limits.connections as u64 + SPARE;
    let r = getrlimit(Resource::Nofile);
    let mut soft = r.current.unwrap_or(u64::MAX);
    if soft < want {
        let raised = want.min(r.maximum.unwrap_or(u64::MAX));
        if setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: r.maximum,
            },
        )
        .is_ok()
        {
            soft = raised;
        }
    }
    if soft < want {
        limits.connections = soft.saturating_sub(SPARE).max(16) as usize;
    }
    limits
}

pub fn run(cmd: LogCommand) -> Result<Outcome> {
    match cmd {
        LogCommand::Init {
            logdir,
            origin,
            key,
        } => {
            let vkey = LogDir::new(&logdir).init(&origin, ed25519_key(&key)?)?;
            outln!("{vkey}");
            eprintln!(
                "weightseal: created the log {origin} in {}; its verifier key is the line above",
                logdir.display()
            );
            Ok(Outcome::Verified)
        }
        LogCommand::Add {
            logdir,
            key,
            models,
            entries: Some(file),
            publisher_keys,
            witnesses,
        } if models.is_empty() => add_entries(&logdir, &key, &file, &publisher_keys, &witnesses),
        LogCommand::Add {
            logdir,
            key,
            models,
            entries: _,
            publisher_keys,
            witnesses,
        } => {
            let key = ed25519_key(&key)?;
            let witnesses = witnesses
                .iter()
                .map(|w| WitnessClient::parse(w))
                .collect::<Result<Vec<_>, _>>()?;
            // The release must verify: its files against its manifest, and its attestations
            // against the publisher keys when given — the one question, the one judge.
            let ask = Ask::new(&AskOptions {
                keys: publisher_keys.clone(),
                trust_store: false,
                allow_unsigned: publisher_keys.is_empty(),
                ..AskOptions::default()
            })?;
            let mut entries = Vec::new();
            let mut proofs = Vec::new();
            for model in &models {
                let ev = gather(&Source::Local(model), &Locators::default())?;
                let Some(w) = ev.weightseal() else {
                    bail!("{}: not a weightseal release", model.display());
                };
                let (m, lines) = (&w.manifest, &w.attestations);
                let Place::Local {
                    manifest_path: Some(mpath),
                    ..
                } = &ev.place
                else {
                    bail!("{}: not a local release", model.display());
                };
                let proof = weightseal::path::log_proof_for(mpath);
                let bar = Bar::new("verifying");
                let v = weightseal::release::verify(
                    &ev,
                    &ask,
                    &CheckOptions::default(),
                    bar.progress(),
                )?;
                bar.finish();
                if !v.ok() {
                    bail!(
                        "{}: not logged: {} NOT verified: {}",
                        model.display(),
                        v.name,
                        v.reasons.join("; ")
                    );
                }
                let e = LogEntry::of_release(m, lines)?;
                entries.push(e.encode());
                proofs.push((model.clone(), m.name().to_string(), proof));
            }
            let log = LogDir::new(&logdir);
            let added = log.add(key, &entries, &witnesses)?;
            for f in &added.witness_failures {
                eprintln!("weightseal: warning: witness {f}");
            }
            for (i, (model, name, proof_path)) in proofs.iter().enumerate() {
                let index = added.first + i as u64;
                let p = log.proof(index, &entries[i])?;
                weightseal::fsutil::write_atomic(proof_path, &p.encode(), 0o644)
                    .with_context(|| format!("writing {}", proof_path.display()))?;
                outln!(
                    "{}: logged {name:?} at index {index}; proof {}",
                    model.display(),
                    proof_path.display()
                );
            }
            eprintln!(
                "weightseal: log {} now holds {} entries; checkpoint cosigned by {} of {} witness(es)",
                logdir.display(),
                added.size,
                witnesses.len() - added.witness_failures.len(),
                witnesses.len()
            );
            Ok(Outcome::Verified)
        }
        LogCommand::Serve {
            logdir,
            key,
            listen,
            witnesses,
            batch_ms,
            batch_max,
            require_signed_by,
        } => {
            let key = ed25519_key(&key)?;
            let required = if require_signed_by.is_empty() {
                None
            } else {
                let ask = Ask::new(&AskOptions {
                    keys: require_signed_by,
                    trust_store: false,
                    ..AskOptions::default()
                })?;
                match ask.trust() {
                    Trust::Policy(p) => Some(p.clone()),
                    _ => bail!("--require-signed-by: no publisher key read"),
                }
            };
            let witnesses = witnesses
                .iter()
                .map(|w| WitnessClient::parse(w))
                .collect::<Result<Vec<_>, _>>()?;
            let server = weightseal::log::serve::bind(&listen)?;
            eprintln!(
                "weightseal: serving the log in {} on http://{}",
                logdir.display(),
                server.server_addr()
            );
            let limits = server_limits();
            weightseal::log::serve::serve_log(
                server,
                &logdir,
                key,
                witnesses,
                LogOptions {
                    batching: Batching {
                        every: std::time::Duration::from_millis(batch_ms),
                        max: batch_max,
                    },
                    required,
                    limits,
                    on_event: Arc::new(report),
                },
            )?;
            Ok(Outcome::Verified)
        }
        LogCommand::Submit { url, model, log } => {
            let ask = log_question(&log, Vec::new(), None)?;
            let (m, lines, proof_path) = release(&model)?;
            let e = LogEntry::of_release(&m, &lines)?;
            let p = weightseal::log::client::submit(&url, &e, ask.log_for(None).as_ref())?;
            weightseal::fsutil::write_atomic(&proof_path, &p.encode(), 0o644)
                .with_context(|| format!("writing {}", proof_path.display()))?;
            outln!(
                "{}: logged {:?} at index {}; proof {}",
                model.display(),
                m.name(),
                p.index,
                proof_path.display()
            );
            if ask.log_for(None).is_none() {
                eprintln!(
                    "weightseal: the proof's inclusion was checked, not the log's signature: give --log-key to check it as verifiers will"
                );
            }
            Ok(Outcome::Verified)
        }
        LogCommand::Monitor {
            url,
            model,
            keys,
            policy,
            log,
            state,
            max_entries,
            json,
        } => {
            let ask = log_question(&log, keys, policy)?;
            let Some(log_policy) = ask.log_for(None) else {
                bail!("log monitor needs the log's key: --log-key VKEY, or a policy with a [log] table");
            };
            let publishers = match ask.trust() {
                Trust::Policy(p) => Some(p),
                _ => None,
            };
            let r = weightseal::log::monitor::monitor(
                &url,
                &weightseal::log::monitor::Watch {
                    log: &log_policy,
                    pattern: &model,
                    publishers,
                    max_entries,
                },
                &state,
            )?;
            if json {
                let mut v = serde_json::to_value(&r)?;
                v["complete"] = r.complete().into();
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                out!("{}", monitor_lines(&r));
            }
            let cosigned = if r.witnesses.is_empty() {
                String::new()
            } else {
                format!(", cosigned by {}", r.witnesses.join(", "))
            };
            if r.ok() {
                eprintln!(
                    "weightseal: log {}: read {} new entries ({} to {}){cosigned}, {} for {model}{}; {}",
                    r.origin,
                    r.size - r.old_size,
                    r.old_size,
                    r.size,
                    r.entries.len() as u64 + r.entries_not_listed,
                    if r.foreign > 0 {
                        format!(", {} that prove no release", r.foreign)
                    } else {
                        String::new()
                    },
                    if r.old_size == 0 {
                        "first run: no tree was read before; the tree read is the checkpoint's"
                    } else {
                        "the tree read extends the one read before"
                    }
                );
                if !r.complete() {
                    eprintln!(
                        "weightseal: the checkpoint holds {} entries; stopped at {} (--max-entries {max_entries}): run again to go on",
                        r.checkpoint_size, r.size
                    );
                }
                Ok(Outcome::Verified)
            } else {
                eprintln!(
                    "weightseal: log {}: {} problem(s): {}",
                    r.origin,
                    r.problems.len() as u64 + r.problems_not_listed,
                    r.problems
                        .iter()
                        .take(3)
                        .map(|p| p.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                Ok(Outcome::NotVerified)
            }
        }
    }
}

/// A monitor run's watched entries and problems, one line each, as `log monitor` prints them.
pub fn monitor_lines(r: &weightseal::log::monitor::MonitorReport) -> String {
    let mut s = String::new();
    for e in &r.entries {
        let signed = match e.signed_by_given_key {
            Some(true) => ", signed by a watched key",
            Some(false) => ", NOT signed by a watched key",
            None => "",
        };
        let versions = if e.versions.is_empty() {
            "none".to_string()
        } else {
            e.versions
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!(
            "entry {}: {:?} version {versions} manifest {}{signed}\n",
            e.index, e.model, e.manifest
        ));
    }
    if r.entries_not_listed > 0 {
        s.push_str(&format!(
            "({} more watched entries not listed)\n",
            r.entries_not_listed
        ));
    }
    for p in &r.problems {
        s.push_str(&format!("problem: {}\n", p.message));
    }
    if r.problems_not_listed > 0 {
        s.push_str(&format!(
            "({} more problems not listed)\n",
            r.problems_not_listed
        ));
    }
    s
}

/// The question of `log submit` and `log monitor`: the log requirement (the flags, or the
/// policy's `[log]`), and the watched publisher keys or policy.
fn log_question(log: &super::LogArgs, keys: Vec<PathBuf>, policy: Option<PathBuf>) -> Result<Ask> {
    Ok(Ask::new(&AskOptions {
        keys,
        policy,
        trust_store: false,
        log_key: log.log_key.clone(),
        witnesses: log.witnesses.clone(),
        quorum: log.quorum,
        allow_unsigned: true,
        ..AskOptions::default()
    })?)
}

/// `log add --entries FILE`: entries already made (one base64 entry per line), each checked
/// (its encoding, and with publisher keys its attestations, in parallel) before any is added.
fn add_entries(
    logdir: &Path,
    key: &Path,
    file: &Path,
    publisher_keys: &[PathBuf],
    witnesses: &[String],
) -> Result<Outcome> {
    use base64::Engine as _;
    use rayon::prelude::*;
    let key = ed25519_key(key)?;
    let witnesses = witnesses
        .iter()
        .map(|w| WitnessClient::parse(w))
        .collect::<Result<Vec<_>, _>>()?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let ask = Ask::new(&AskOptions {
        keys: publisher_keys.to_vec(),
        trust_store: false,
        allow_unsigned: true,
        ..AskOptions::default()
    })?;
    let policy = match ask.trust() {
        Trust::Policy(p) => Some(p.clone()),
        _ => None,
    };
    let now = weightseal::attest::time::Timestamp::now();
    let b64 = base64::engine::general_purpose::STANDARD;
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let entries: Vec<Vec<u8>> = lines
        .par_iter()
        .enumerate()
        .map(|(i, l)| -> Result<Vec<u8>> {
            let bytes = b64
                .decode(l)
                .with_context(|| format!("{} line {}: not base64", file.display(), i + 1))?;
            LogEntry::admit(&bytes, policy.as_ref(), now)
                .with_context(|| format!("{} line {}: nothing added", file.display(), i + 1))?;
            Ok(bytes)
        })
        .collect::<Result<_>>()?;
    let added = LogDir::new(logdir).add(key, &entries, &witnesses)?;
    for f in &added.witness_failures {
        eprintln!("weightseal: warning: witness {f}");
    }
    outln!(
        "added {} entries at {}..{}",
        entries.len(),
        added.first,
        added.size
    );
    Ok(Outcome::Verified)
}

pub fn witness(cmd: WitnessCommand) -> Result<Outcome> {
    match cmd {
        WitnessCommand::Serve {
            key,
            name,
            logs,
            listen,
            state,
        } => {
            let logs = logs
                .iter()
                .map(|l| VerifierKey::parse(l))
                .collect::<Result<Vec<_>, _>>()?;
            if logs.iter().any(|l| l.is_cosigner()) {
                bail!("--log takes a log's verifier key (type 0x01), not a witness's");
            }
            let w =
                weightseal::log::witness::Witness::open(&name, ed25519_key(&key)?, logs, &state)?;
            let server = weightseal::log::serve::bind(&listen)?;
            outln!("{}", w.verifier());
            {
                use std::io::Write as _;
                std::io::stdout().flush()?;
            }
            eprintln!(
                "weightseal: witness {name} on http://{}/add-checkpoint",
                server.server_addr()
            );
            weightseal::log::serve::serve_witness(server, w, server_limits())?;
            Ok(Outcome::Verified)
        }
    }
}
