//! `weightseal derive check|sign`: a derived release recomputed from its signed base
//! (spec/derive.md). Parses, calls [`weightseal::derive`], renders; the exit code comes from
//! [`weightseal::derive::DeriveReport::ok`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::render::clean;
use super::{attest, gather_failure, Bar, LogArgs, NetArgs, Outcome, TrustArgs};
use weightseal::derive::{DeriveReport, FileStatus, Recipe, TensorStatus};
use weightseal::evidence::{gather, Evidence, Locators, Place, Signed, Source};

#[derive(clap::Subcommand)]
pub enum DeriveCommand {
    /// Recompute every tensor of DERIVED from the verified bytes of BASE and compare: one line
    /// per tensor (reproduced, differs, not derivable). BASE is judged as a release first,
    /// with the usual trust flags. Exit 0 only when every tensor is reproduced and every other
    /// file is BASE's or named new by the recipe.
    Check(CheckArgs),
    /// Run the check, and only if everything is reproduced, add a reproduction attestation
    /// (DSSE/in-toto, predicate type https://weightseal.dev/derivation/v1) signed with --key
    /// to DERIVED's bundle.
    Sign(SignArgs),
}

#[derive(clap::Args)]
pub struct Target {
    /// The derived release: a directory, one model file (with FILE.weightseal.manifest), or
    /// the URL of a mirror serving it (its manifest is read, its bytes are not: the tensors
    /// are compared with the manifest's digests, but the result is never REPRODUCED).
    derived: String,
    /// The base release: a directory or one model file, with its manifest.
    #[arg(long = "from", value_name = "BASE")]
    base: PathBuf,
    /// The recipe (TOML, spec/derive.md "Recipe"): derived tensor names to base names,
    /// permutations, intermediate dtypes, new files. Default: each derived tensor comes from
    /// the base tensor of the same name, the operation inferred from the two dtypes.
    #[arg(long, value_name = "FILE")]
    recipe: Option<PathBuf>,
    /// Write the recipe as applied (every tensor listed) to this file.
    #[arg(long, value_name = "FILE")]
    write_recipe: Option<PathBuf>,
    /// The base's manifest (default: beside it).
    #[arg(long, value_name = "FILE")]
    base_manifest: Option<String>,
    /// The base's attestation bundle (default: beside its manifest).
    #[arg(long, value_name = "FILE")]
    base_attestations: Option<PathBuf>,
    /// Accept a base nobody you trust vouches for (its files are still checked against its
    /// manifest): the result says "integrity only".
    #[arg(long)]
    integrity_only: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    trust: TrustArgs,
}

#[derive(clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    target: Target,
    /// The reproducer's private key (PEM PKCS#8, SEC1 or OpenSSH).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The role attested (default: reproducer).
    #[arg(long, default_value = "reproducer")]
    role: String,
    /// Who signs (free text; default: the key file's name).
    #[arg(long)]
    signer: Option<String>,
    /// Expiry: a duration (90d, 12h, 2w, 1y), a date or an RFC 3339 time.
    #[arg(long, value_name = "DURATION|DATE")]
    expires: Option<String>,
    /// Trust for the base: a publisher public key (repeatable; --key is the signing key here).
    #[arg(long = "base-key", value_name = "PUB")]
    base_keys: Vec<PathBuf>,
    /// Trust for the base: a trust policy (TOML).
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// Require the base to be this model.
    #[arg(long = "model", value_name = "NAME")]
    pin_model: Option<String>,
    /// Require the base's manifest digest to be this one.
    #[arg(long = "digest", value_name = "HEX", value_parser = super::parse_digest)]
    pin_digest: Option<weightseal::Digest>,
    /// Trust for the base: the transparency log it must be in (as `verify` takes it).
    #[command(flatten)]
    log: LogArgs,
}

impl DeriveCommand {
    pub fn json(&self) -> bool {
        match self {
            DeriveCommand::Check(a) => a.target.json,
            DeriveCommand::Sign(a) => a.target.json,
        }
    }
}

pub fn run(c: DeriveCommand) -> Result<Outcome> {
    match c {
        DeriveCommand::Check(a) => {
            let ask = a.trust.ask(a.target.integrity_only, &Default::default())?;
            let report = check(&a.target, &ask)?;
            render(&report, a.target.json)
        }
        DeriveCommand::Sign(a) => sign(a),
    }
}

fn read_recipe(p: &Path) -> Result<Recipe> {
    let bytes = weightseal::fsutil::read_regular(p, weightseal::derive::recipe::MAX_RECIPE_LEN)
        .with_context(|| format!("cannot read recipe {}", p.display()))?
        .with_context(|| format!("recipe {} does not exist", p.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("recipe {}: not UTF-8", p.display()))?;
    Recipe::parse(&text).with_context(|| format!("recipe {}", p.display()))
}

/// Gathers both releases and runs the library's check.
fn check(t: &Target, ask: &weightseal::ask::Ask) -> Result<DeriveReport> {
    let recipe = t.recipe.as_deref().map(read_recipe).transpose()?;
    let base_loc = Locators {
        manifest: t.base_manifest.clone(),
        attestations: t
            .base_attestations
            .as_ref()
            .map(|p| p.display().to_string()),
        ..Default::default()
    };
    let base = gather(&Source::Local(&t.base), &base_loc).map_err(gather_failure)?;
    let remote;
    let derived_path = PathBuf::from(&t.derived);
    let source = if t.derived.starts_with("http://") || t.derived.starts_with("https://") {
        remote = weightseal::fetch::Remote::new(&t.derived, t.net.options())?;
        Source::Remote(&remote)
    } else {
        Source::Local(&derived_path)
    };
    let loc = Locators {
        manifest_limit: t.net.manifest_limit(),
        bundle_limit: t.net.bundle_limit(),
        ..Default::default()
    };
    let derived = gather(&source, &loc).map_err(gather_failure)?;
    let bar = Bar::new("deriving");
    let report = weightseal::derive::check(&base, &derived, ask, recipe.as_ref(), bar.progress())
        .map_err(anyhow::Error::new)?;
    bar.finish();
    if let Some(w) = &t.write_recipe {
        weightseal::fsutil::write_atomic(w, report.recipe.as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", w.display()))?;
    }
    Ok(report)
}

/// Prints the report (text or JSON) and picks the exit code from [`DeriveReport::ok`].
fn render(r: &DeriveReport, json: bool) -> Result<Outcome> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&r.to_json())?);
    } else {
        for line in super::render::verdict_lines(&r.base) {
            outln!(
                "base: {}",
                line.strip_prefix("weightseal: ").unwrap_or(&line)
            );
        }
        for t in &r.tensors {
            let from = match (&t.from, &t.base_file) {
                (Some(f), Some(bf)) => format!(" <- {} [{}]", clean(f), clean(bf)),
                (Some(f), None) => format!(" <- {}", clean(f)),
                _ => String::new(),
            };
            match t.status {
                TensorStatus::Reproduced => outln!(
                    "{} [{}] {}: reproduced ({}){from}",
                    clean(&t.name),
                    clean(&t.file),
                    t.dtype,
                    clean(&t.operation)
                ),
                TensorStatus::Differs => outln!(
                    "{} [{}] {}: differs ({}): {}{from}",
                    clean(&t.name),
                    clean(&t.file),
                    t.dtype,
                    clean(&t.operation),
                    clean(&t.detail)
                ),
                TensorStatus::NotDerivable => outln!(
                    "{} [{}] {}: not derivable ({}): {}{from}",
                    clean(&t.name),
                    clean(&t.file),
                    t.dtype,
                    clean(&t.operation),
                    clean(&t.detail)
                ),
                TensorStatus::BaseModified => outln!(
                    "{} [{}] {}: base modified: {}{from}",
                    clean(&t.name),
                    clean(&t.file),
                    t.dtype,
                    clean(&t.detail)
                ),
            }
        }
        for f in &r.files {
            match &f.status {
                FileStatus::Tensors => {}
                FileStatus::Identical { base_path } => {
                    outln!(
                        "{}: identical to the base's {}",
                        clean(&f.path),
                        clean(base_path)
                    )
                }
                FileStatus::New => outln!("{}: new (named by the recipe)", clean(&f.path)),
                FileStatus::NotInBase => outln!(
                    "{}: NOT in the base (and not named new by the recipe)",
                    clean(&f.path)
                ),
            }
        }
        if let Some(d) = &r.derived_files {
            if !d.ok {
                out!("{}", super::render::report_lines(d));
            }
        }
    }
    let n = r.tensors.len();
    if r.ok() {
        eprintln!(
            "weightseal: REPRODUCED: {} ({}) from {} ({}): {n} tensor(s), {} byte(s) of the base recomputed; recipe {}",
            clean(&r.derived_name),
            r.derived_digest,
            clean(&r.base.name),
            r.base.manifest_digest.map(|d| d.to_string()).unwrap_or_default(),
            r.base_bytes,
            r.recipe_digest
        );
        Ok(Outcome::Verified)
    } else {
        eprintln!(
            "weightseal: NOT reproduced: {} ({} of {n} tensor(s) reproduced)",
            clean(&r.derived_name),
            r.count(TensorStatus::Reproduced)
        );
        for reason in &r.reasons {
            eprintln!("  {}", clean(reason));
        }
        Ok(Outcome::NotVerified)
    }
}

fn sign(a: SignArgs) -> Result<Outcome> {
    let key = weightseal::attest::PrivateKey::read_with(&a.key, &|| attest::passphrase_for(&a.key))
        .with_context(|| format!("cannot read key {}", a.key.display()))?;
    if !weightseal::attest::statement::valid_role(&a.role) {
        anyhow::bail!(
            "--role {:?} is not a lowercase word of 1 to 32 letters, digits or '-'",
            a.role
        );
    }
    let now = weightseal::attest::time::Timestamp::now();
    let expires_at = a
        .expires
        .as_deref()
        .map(|e| weightseal::attest::time::Timestamp::parse_expiry(e, now))
        .transpose()?;
    if a.target.derived.starts_with("http://") || a.target.derived.starts_with("https://") {
        anyhow::bail!("derive sign adds to a derived release on disk, not at a URL");
    }
    let ask = weightseal::ask::Ask::new(&weightseal::ask::AskOptions {
        keys: a.base_keys.clone(),
        policy: a.policy.clone(),
        trust_store: true,
        model: a.pin_model.clone(),
        digest: a.pin_digest,
        log_key: a.log.log_key.clone(),
        witnesses: a.log.witnesses.clone(),
        quorum: a.log.quorum,
        allow_unsigned: a.target.integrity_only,
        ..Default::default()
    })?;
    let report = check(&a.target, &ask)?;
    let outcome = render(&report, a.target.json)?;
    if !report.ok() {
        eprintln!("weightseal: no attestation written: the derivation is not reproduced");
        return Ok(outcome);
    }
    let signer = a.signer.clone().unwrap_or_else(|| {
        a.key
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unnamed".into())
    });
    let claims = weightseal::derive::ReproducerClaims {
        role: a.role.clone(),
        signer,
        issued_at: now,
        expires_at,
    };
    let derived_path = PathBuf::from(&a.target.derived);
    let ev: Evidence =
        gather(&Source::Local(&derived_path), &Locators::default()).map_err(gather_failure)?;
    let (Signed::Weightseal(w), Place::Local { .. }) = (&ev.signed, &ev.place) else {
        anyhow::bail!("the derived release has no weightseal manifest");
    };
    let bundle = weightseal::derive::add_attestation(&derived_path, &ev, &report, &key, &claims)?;
    eprintln!(
        "weightseal: reproduction attestation for {} ({}) written to {} (key {})",
        clean(w.manifest.name()),
        w.manifest.digest(),
        bundle.display(),
        key.public().id()
    );
    Ok(outcome)
}
