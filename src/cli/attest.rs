//! The attestation commands: keygen, key id, sign, lineage, and the signature half of verify.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use weightseal::attest::bundle;
use weightseal::attest::policy::{PolicyReport, Status};
use weightseal::attest::statement::DerivedFrom;
use weightseal::attest::time::Timestamp;
use weightseal::attest::{keys, Claims, LineageNode, Policy, PrivateKey, PublicKey, Release};
use weightseal::path::MANIFEST_FILE;

use super::{read_manifest, render};

/// Says which trust store entries supplied the trust, when any did.
pub fn say_trust_store(path: &Path, entries: &[String]) {
    if !entries.is_empty() {
        eprintln!(
            "weightseal: no --key or --policy: using the trust store {}: {}",
            path.display(),
            entries.join(", ")
        );
    }
}

/// `trust add|list|remove`.
/// `, in log NAME (2 of 3 witnesses)` for an entry that requires a log.
fn store_log(e: &weightseal::attest::trust::Entry) -> String {
    match &e.log {
        None => String::new(),
        Some(l) => {
            let name = l.key.split('+').next().unwrap_or_default();
            match l.witnesses.len() {
                0 => format!(", in log {name}"),
                n => format!(
                    ", in log {name} ({} of {n} witnesses)",
                    l.quorum.unwrap_or(n)
                ),
            }
        }
    }
}

pub fn trust_command(cmd: super::TrustCommand) -> Result<super::Outcome> {
    use weightseal::attest::trust::{default_path, TrustStore};
    let path = default_path()
        .context("cannot locate the trust store: set WEIGHTSEAL_TRUST, XDG_CONFIG_HOME or HOME")?;
    let mut store = TrustStore::load(&path)?;
    match cmd {
        super::TrustCommand::Add {
            key,
            model,
            role,
            name,
            log,
        } => {
            let log = log.log_key.map(|k| weightseal::attest::trust::StoreLog {
                key: k,
                witnesses: log.witnesses,
                quorum: log.quorum,
            });
            let keys = PublicKey::read_all(&key)?;
            let name = name.unwrap_or_else(|| {
                key.file_name()
                    .map(|n| n.to_string_lossy().trim_end_matches(".pub").to_string())
                    .unwrap_or_else(|| "key".into())
            });
            let added = store.add(&keys, &model, &role, &name, log)?;
            store.save(&path)?;
            for e in &added {
                outln!(
                    "trusted {} ({}) as {} for {}{}",
                    e.name,
                    e.key_id,
                    e.role,
                    e.model,
                    store_log(e)
                );
            }
            eprintln!("weightseal: trust store {}", path.display());
        }
        super::TrustCommand::List { json } => {
            if json {
                outln!("{}", serde_json::to_string_pretty(&store.entries)?);
            } else if store.entries.is_empty() {
                eprintln!("weightseal: the trust store {} is empty", path.display());
            } else {
                for e in &store.entries {
                    let alg = PublicKey::from_pem(&e.key, &path)
                        .map(|k| k.algorithm().to_string())
                        .unwrap_or_default();
                    outln!(
                        "{}  {}  {}  {}  {}{}",
                        e.name,
                        e.model,
                        e.role,
                        short(&e.key_id),
                        alg,
                        store_log(e)
                    );
                }
            }
        }
        super::TrustCommand::Remove { what, model } => {
            let removed = store.remove(&what, model.as_deref())?;
            store.save(&path)?;
            for e in &removed {
                outln!("removed {} ({}) for {}", e.name, e.key_id, e.model);
            }
        }
    }
    Ok(super::Outcome::Verified)
}

/// `keygen --out KEY [--type ALG]`.
pub fn keygen(out: &Path, alg: keys::Algorithm) -> Result<String> {
    let key = PrivateKey::generate_with(alg)?;
    let pub_path = key.write_pair(out)?;
    Ok(format!(
        "wrote {} ({alg} private key, PKCS#8 PEM, mode 0600) and {} (public key, SPKI PEM)\nkey id {}",
        out.display(),
        pub_path.display(),
        key.public().id()
    ))
}

/// `key id FILE`: one line per key (a GitHub keys file holds several).
pub fn key_id(path: &Path) -> Result<String> {
    let keys = keys::read_any_public(path, &|| passphrase_for(path))?;
    Ok(keys
        .iter()
        .map(|k| {
            if keys.len() == 1 {
                k.id().to_string()
            } else {
                format!("{}  {}", k.id(), k.algorithm())
            }
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `key public FILE`: the SPKI PEM of every public key a key file holds.
pub fn key_public(path: &Path) -> Result<String> {
    let keys = keys::read_any_public(path, &|| passphrase_for(path))?;
    Ok(keys.iter().map(PublicKey::to_pem).collect::<String>())
}

/// The passphrase of an encrypted key: `WEIGHTSEAL_PASSPHRASE`, or asked on the terminal
/// without echo; `None` when neither is available.
pub fn passphrase_for(path: &Path) -> Option<String> {
    if let Ok(p) = std::env::var("WEIGHTSEAL_PASSPHRASE") {
        return Some(p);
    }
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    use std::io::{BufRead, Write as _};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tcgetattr(&tty).ok()?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    // Echo goes off before the prompt shows, so nothing typed after it is ever echoed.
    tcsetattr(&tty, OptionalActions::Flush, &quiet).ok()?;
    let mut out = &tty;
    let _ = write!(out, "Passphrase for {}: ", path.display());
    let _ = out.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, OptionalActions::Now, &saved);
    let _ = writeln!(out);
    read.ok()?;
    Some(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The trust to apply: `--policy P` or `--key PUB...`; `None` when neither is given.
pub fn load_trust(keys: &[PathBuf], policy: Option<&Path>) -> Result<Option<Policy>> {
    match (keys.is_empty(), policy) {
        (true, None) => Ok(None),
        (false, Some(_)) => bail!("give --key or --policy, not both"),
        (true, Some(p)) => Ok(Some(Policy::load(p)?)),
        (false, None) => {
            let keys = keys
                .iter()
                .map(|k| {
                    let name = k.display().to_string();
                    Ok(PublicKey::read_all(k)?
                        .into_iter()
                        .map(|key| (name.clone(), key))
                        .collect::<Vec<_>>())
                })
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            Ok(Some(Policy::publisher_keys(keys)))
        }
    }
}

/// The attestation bundle of a model: `--attestations FILE`, or the one that goes with its
/// manifest (`weightseal.intoto.jsonl` beside it, `FILE.weightseal.intoto.jsonl` for a
/// single-file model).
pub fn bundle_path(manifest_path: &Path, explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None => weightseal::path::attestations_for(manifest_path),
    }
}

/// Parses `--derived-from` (see [`weightseal::attest::parse_derived`]).
pub fn parse_derived(arg: &str) -> Result<DerivedFrom> {
    weightseal::attest::parse_derived(arg).map_err(|e| anyhow::anyhow!("--derived-from {e}"))
}

/// Arguments of `sign` beyond the directory and manifest.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The private key: ed25519, ECDSA P-256 or P-384, as PKCS#8 PEM (`weightseal keygen`,
    /// `openssl genpkey`), encrypted PKCS#8 (passphrase from WEIGHTSEAL_PASSPHRASE or asked on
    /// the terminal), SEC1 (`openssl ecparam -genkey`) or OpenSSH (`ssh-keygen`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The role attested: publisher, auditor, mirror, or another lowercase word.
    #[arg(long, default_value = "publisher")]
    pub role: String,
    /// Who signs (free text; default: the key file's name).
    #[arg(long)]
    pub signer: Option<String>,
    /// Expiry: a duration (90d, 12h, 2w, 1y), a date (2027-01-31) or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|DATE")]
    pub expires: Option<String>,
    /// Release version (an integer; used for rollback protection).
    #[arg(long)]
    pub version: Option<u64>,
    /// A parent model: DIGEST[:RELATION[:NAME]] or MANIFEST|DIR[:RELATION]; RELATION is
    /// finetune, quantized, merge, adapter, distilled or other. Repeatable.
    #[arg(long = "derived-from", value_name = "DIGEST[:RELATION]")]
    pub derived_from: Vec<String>,
    /// A free annotation KEY=VALUE (license, model-card digest, ...). Repeatable.
    #[arg(long = "annotate", value_name = "K=V")]
    pub annotate: Vec<String>,
    /// The attestation bundle to append to (default: beside the manifest).
    #[arg(long, value_name = "FILE")]
    pub attestations: Option<PathBuf>,
    /// What to write: a weightseal attestation (default), an OpenSSF model signing bundle
    /// that `model_signing verify key` accepts (`oms`, needs an ECDSA key for model_signing),
    /// or both from one hashing pass.
    #[arg(long, value_enum, default_value = "weightseal")]
    pub format: SignFormat,
    /// With --format oms or both: where to write the OMS bundle (default: model.sig in the
    /// model's directory, as its evidence).
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
}

/// Which signature formats `sign` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SignFormat {
    Weightseal,
    Oms,
    Both,
}

/// The claims `sign` makes, from its options (checked before anything is hashed).
pub fn claims(a: &SignArgs) -> Result<Claims> {
    let now = Timestamp::now();
    let expires_at = a
        .expires
        .as_deref()
        .map(|e| Timestamp::parse_expiry(e, now))
        .transpose()?;
    let mut annotations = BTreeMap::new();
    for kv in &a.annotate {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--annotate {kv:?}: expected KEY=VALUE"))?;
        if k.is_empty() {
            bail!("--annotate {kv:?}: empty key");
        }
        annotations.insert(k.to_string(), v.to_string());
    }
    let derived_from = a
        .derived_from
        .iter()
        .map(|d| parse_derived(d))
        .collect::<Result<Vec<_>>>()?;
    let signer = a.signer.clone().unwrap_or_else(|| {
        a.key
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unnamed".into())
    });
    if !weightseal::attest::statement::valid_role(&a.role) {
        bail!(
            "--role {:?} is not a lowercase word of 1 to 32 letters, digits or '-'",
            a.role
        );
    }
    Ok(Claims {
        role: a.role.clone(),
        signer,
        issued_at: now,
        expires_at,
        version: a.version,
        derived_from,
        annotations,
    })
}

/// The first 16 characters of a key id (from an untrusted envelope: any characters).
fn short(id: &str) -> String {
    id.chars().take(16).collect()
}

/// `pin: FAILED (...)` lines for the `--model` / `--digest` pins that do not hold.
pub fn pin_lines(problems: &[weightseal::attest::policy::Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("pin: FAILED ({}: {})\n", p.code, render::clean(&p.detail)))
        .collect()
}

/// `attestation N: OK (...)` lines and role lines.
pub fn report_lines(r: &PolicyReport) -> String {
    let mut s = String::new();
    if r.attestations.is_empty() {
        s.push_str("attestations: none found\n");
    }
    for a in &r.attestations {
        let mut what = Vec::new();
        if let Some(role) = &a.role {
            what.push(format!("{role} {:?}", a.signer.clone().unwrap_or_default()));
        }
        if !a.keys.is_empty() {
            what.push(format!("key {}", a.keys.join(", ")));
        } else if !a.keyids.is_empty() {
            what.push(format!(
                "key id {}",
                a.keyids
                    .iter()
                    .map(|k| short(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(v) = a.version {
            what.push(format!("version {v}"));
        }
        if let Some(e) = &a.expires_at {
            what.push(format!("expires {e}"));
        }
        let what = what.join(", ");
        let sep = if what.is_empty() { "" } else { "; " };
        if a.status == Status::Valid {
            let note = if a.counted { "" } else { "; not counted" };
            s.push_str(&format!("attestation {}: OK ({what}{note})\n", a.line));
        } else if r.ok {
            // The release verified without it: not a failure, so never shown as one.
            let why = match a.status {
                Status::Untrusted => format!(
                    "unknown key {}",
                    a.keyids
                        .iter()
                        .map(|k| render::clean(&short(k)).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => format!("{}: {}", a.code, render::clean(&a.detail)),
            };
            s.push_str(&format!(
                "attestation {}: SKIPPED ({why}{sep}{what})\n",
                a.line
            ));
        } else {
            s.push_str(&format!(
                "attestation {}: FAILED ({}: {}{sep}{what})\n",
                a.line,
                a.code,
                render::clean(&a.detail)
            ));
        }
    }
    for role in &r.roles {
        s.push_str(&format!(
            "role {}: {} of {} required key(s){}{}\n",
            role.role,
            role.keys.len(),
            role.threshold,
            if role.keys.is_empty() {
                String::new()
            } else {
                format!(" ({})", role.keys.join(", "))
            },
            if role.met { "" } else { ": NOT MET" }
        ));
    }
    for p in &r.problems {
        if p.code != "threshold-not-met" {
            s.push_str(&format!("policy: FAILED ({}: {})\n", p.code, p.detail));
        }
    }
    s
}

/// Loads a release from a manifest file or a model directory.
pub fn load_release(path: &Path, attestations: Option<&Path>) -> Result<Release> {
    let mp = if path.is_dir() {
        path.join(MANIFEST_FILE)
    } else {
        path.to_path_buf()
    };
    let manifest = read_manifest(&mp)?;
    let bundle = bundle::read(&bundle_path(&mp, attestations))?;
    Ok(Release {
        manifest,
        bundle,
        location: path.display().to_string(),
    })
}

/// The lineage tree as indented text.
pub fn lineage_text(n: &LineageNode, trusted_keys: bool) -> String {
    fn walk(n: &LineageNode, depth: usize, trusted_keys: bool, out: &mut String) {
        let pad = "  ".repeat(depth);
        let place = n
            .found_in
            .as_deref()
            .map(|p| format!("  [{p}]"))
            .unwrap_or_else(|| "  [not found locally]".into());
        let shown = render::clean(&n.name);
        let name = if n.name.is_empty() {
            "(unnamed)"
        } else {
            &shown
        };
        out.push_str(&format!("{pad}{name}  manifest {}{place}\n", n.digest));
        for a in &n.attestations {
            let status = match (&a.status, trusted_keys) {
                (Status::Valid, _) => "valid".to_string(),
                (_, false) => "signature not checked: give --key or --policy".to_string(),
                (_, true) => format!("{}: {}", a.code, render::clean(&a.detail)),
            };
            let who = match (&a.role, &a.signer) {
                (Some(r), Some(s)) => format!("{r} {s:?}"),
                _ => "attestation".into(),
            };
            let keys = if a.keys.is_empty() {
                String::new()
            } else {
                format!(", key {}", a.keys.join(", "))
            };
            let version = a
                .version
                .map(|v| format!(", version {v}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{pad}  attested by {who}{keys}{version} ({status})\n"
            ));
        }
        for e in &n.parents {
            let trusted: Vec<String> = e
                .reproduced_by
                .iter()
                .filter(|r| r.trusted)
                .map(|r| format!("{} (line {})", render::clean(&r.by.join(", ")), r.line))
                .collect();
            let untrusted = e.reproduced_by.iter().filter(|r| !r.trusted).count();
            let how = if !trusted.is_empty() {
                format!("REPRODUCED by {}", trusted.join("; "))
            } else if untrusted > 0 {
                format!("declared; {untrusted} reproduction attestation(s) not verified")
            } else {
                "declared".to_string()
            };
            out.push_str(&format!(
                "{pad}  derived from ({}) per attestation {}{}, {how}:\n",
                e.relation.as_str(),
                e.claimed_by_line,
                if e.trusted { "" } else { ", UNVERIFIED" }
            ));
            walk(&e.parent, depth + 2, trusted_keys, out);
        }
    }
    let mut s = String::new();
    walk(n, 0, trusted_keys, &mut s);
    s
}
