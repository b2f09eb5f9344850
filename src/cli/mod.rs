//! Command-line interface: clap definitions and the dispatch to each command. Commands
//! return an [`Outcome`]; errors become exit code 2 with a message on stderr.

/// Like `print!`/`println!`, but a closed stdout (`| head`) becomes an error to return
/// instead of a panic.
// Every line the binary prints goes through `render::terminal_safe`: names and messages that
// come from files, headers, servers or signatures cannot send terminal escapes or flip the
// display direction, whichever path printed them.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        write!(std::io::stdout().lock(), "{}", crate::cli::render::terminal_safe(&text))?
    }};
}
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        writeln!(std::io::stdout().lock(), "{}", crate::cli::render::terminal_safe(&text))?
    }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{
        let text = format!($($t)*);
        std::eprintln!("{}", crate::cli::render::terminal_safe(&text))
    }};
}

mod attest;
mod demo;
mod derive;
mod fetch;
mod html;
mod log;
mod render;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};

use weightseal::evidence::{gather, GatherError, Locators, Place, Source};
use weightseal::manifest::{self, BuildOptions, Manifest, Sha256, Tensors};
use weightseal::path::{ModelTarget as Target, MANIFEST_FILE};
use weightseal::progress::{NoProgress, Progress};
use weightseal::release::CheckOptions;
use weightseal::tree::ChunkSize;
use weightseal::verify::{ExtraFiles, Mode};
use weightseal::walk::Symlinks;

/// The sections that follow the options in `--help` and in weightseal(1): where the trust
/// store is, the environment, the exit status and examples. (title, [(term, text)]).
const MORE_HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "FILES",
        &[(
            "trust store",
            "$WEIGHTSEAL_TRUST, else $XDG_CONFIG_HOME/weightseal/trust.toml (~/.config/weightseal/trust.toml; on macOS ~/Library/Application Support/weightseal/trust.toml). It must be owned by you (or root) and writable by nobody else.",
        )],
    ),
    (
        "ENVIRONMENT",
        &[
            ("WEIGHTSEAL_TRUST", "the trust store file (see FILES)"),
            (
                "WEIGHTSEAL_PASSPHRASE",
                "the passphrase of an encrypted private key; without it, it is asked on the terminal",
            ),
            (
                "WEIGHTSEAL_NO_MMAP",
                "1: read files instead of mapping them into memory",
            ),
            (
                "HF_HUB_CACHE, HF_HOME",
                "where the Hugging Face cache is (--hf, hf check)",
            ),
            (
                "HF_TOKEN",
                "a Hugging Face token, sent only to https://huggingface.co and https://hf.co",
            ),
        ],
    ),
    (
        "EXIT STATUS",
        &[
            ("0", "verified: every file, signature, policy and proof checked out (or the command did its job)"),
            ("1", "not verified: something was checked and failed"),
            ("2", "usage or I/O error: nothing could be decided"),
        ],
    ),
    (
        "EXAMPLES",
        &[
            ("weightseal keygen --out acme.key", "make a signing key (acme.key.pub is the public half)"),
            ("weightseal hash ./model && weightseal sign ./model --key acme.key", "publish: hash and sign a release"),
            ("weightseal verify ./model --key acme.key.pub", "check a download against the publisher's key"),
            ("weightseal fetch https://mirror.example/org/model ./model --key acme.key.pub", "download with every chunk verified"),
            ("weightseal verify --hf org/model --key acme.key.pub", "check a model in the Hugging Face cache"),
            ("weightseal diff ./base ./finetune", "what changed, file by file and tensor by tensor"),
        ],
    ),
];

/// [`MORE_HELP`] as plain text, for `--help`.
fn more_help_text() -> String {
    let mut s = String::new();
    for (title, items) in MORE_HELP {
        s.push_str(&format!("{title}:\n"));
        for (term, text) in *items {
            s.push_str(&format!("  {term}\n      {text}\n"));
        }
        s.push('\n');
    }
    s.trim_end().to_string()
}

/// roff text, escaped: backslashes and hyphens (so that they print as ASCII minus signs).
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    // A line starting with '.' or '\'' would be a roff request.
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// The command as the man pages describe it: without the `help` subcommand (its page is not
/// written) and without the `--help` epilogue (the main page has it as sections).
fn man_command() -> clap::Command {
    Cli::command()
        .disable_help_subcommand(true)
        .after_long_help(None::<&str>)
}

/// weightseal(1): clap's page, then [`MORE_HELP`] as man sections.
fn main_man_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(man_command());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    man.render_subcommands_section(&mut buf)?;
    for (title, items) in MORE_HELP {
        buf.extend(format!(".SH {title}\n").bytes());
        for (term, text) in *items {
            buf.extend(format!(".TP\n\\fB{}\\fR\n{}\n", roff(term), roff(text)).bytes());
        }
    }
    man.render_version_section(&mut buf)?;
    Ok(buf)
}

/// What the tool does, the first line of `--help`: the same words from the binary and from
/// the command the Python package installs (which is compiled in another crate, whose own
/// description is about the bindings).
const ABOUT: &str = "Prove that a set of ML model weights is exactly what its publisher released";

/// Prove that a set of ML model weights is exactly what its publisher released.
#[derive(Parser)]
#[command(name = "weightseal", version, about = ABOUT, long_about = None, after_long_help = more_help_text())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// One value parsed once per run: the size of the largest variant (verify's options) is fine.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Hash a model directory into a manifest (written to DIR/weightseal.manifest by default)
    /// and print the manifest digest.
    Hash(HashArgs),
    /// Print a manifest: a summary, or with --json every field.
    Show(ShowArgs),
    /// Verify a model directory against its manifest: `path: OK` or `path: FAILED (reason)`
    /// per file; exit 0 when everything verifies, 1 when something does not.
    Verify(VerifyArgs),
    /// Download a model with every chunk verified as it arrives: files appear in DEST only
    /// once verified; a rerun resumes. The manifest's attestations are checked first.
    Fetch(FetchArgs),
    /// Generate an ed25519 key pair: KEY (PKCS#8 PEM, mode 0600) and KEY.pub (SPKI PEM).
    Keygen {
        /// Where to write the private key; the public key goes to KEY.pub.
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
        /// The algorithm: ed25519 (default), ecdsa-p256 or ecdsa-p384.
        #[arg(long = "type", value_name = "ALG", default_value = "ed25519", value_parser = parse_alg)]
        alg: weightseal::attest::keys::Algorithm,
    },
    /// Key utilities.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The Hugging Face cache, offline.
    Hf {
        #[command(subcommand)]
        command: HfCommand,
    },
    /// The transparency log of model releases (C2SP tlog-tiles): run one, add releases, serve
    /// it, submit to one, monitor one.
    Log {
        #[command(subcommand)]
        command: log::LogCommand,
    },
    /// A transparency log witness (C2SP tlog-witness): cosigns checkpoints consistent with the
    /// last it cosigned.
    Witness {
        #[command(subcommand)]
        command: log::WitnessCommand,
    },
    /// Your trust store (like ssh's known_hosts): keys you trust for models matching a
    /// pattern. `verify` and `fetch` use it when given no --key and no --policy.
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// Sign a model's manifest: append a DSSE/in-toto attestation to weightseal.intoto.jsonl.
    /// Hashes the directory first when it has no manifest; refuses a manifest that does not
    /// match the directory unless --manifest-only.
    Sign(SignCommandArgs),
    /// Show the signed provenance chain of a model: which models it derives from (finetune,
    /// quantized, ...), per whose attestation, followed into the releases given with --with.
    Lineage(LineageArgs),
    /// Derivations proven by recomputation: re-derive a cast or quantized release from its
    /// signed base, tensor by tensor, and compare (`derive check`); sign that it reproduces
    /// (`derive sign`).
    Derive {
        #[command(subcommand)]
        command: derive::DeriveCommand,
    },
    /// Compare two models, each a manifest file or a directory (hashed on the fly): files
    /// added, removed and changed; tensors added, removed and changed; the same tensors under
    /// different sharding. Exit 0 when every file is the same, 1 when something differs.
    Diff(DiffArgs),
    /// Build a small model in a temporary directory, hash it, verify it, tamper with one byte
    /// and show the detection.
    Demo,
    /// Print a shell completion script, e.g. `weightseal completions bash >
    /// ~/.local/share/bash-completion/completions/weightseal`, or for zsh a `_weightseal` file
    /// on your fpath.
    Completions {
        /// The shell: bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff: `weightseal man > weightseal.1`), or with --dir write one page
    /// per command (weightseal.1, weightseal-verify.1, ...) into DIR.
    Man {
        /// Write weightseal.1 and a page per subcommand into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct HashArgs {
    /// The model directory.
    dir: PathBuf,
    /// Where to write the manifest.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Chunk group size: a power of two from 16K to 1G (e.g. 4M, 65536).
    #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_chunk_size)]
    chunk_size: ChunkSize,
    /// Also record each file's SHA-256 (the Hugging Face LFS oid).
    #[arg(long)]
    sha256: bool,
    /// Model name recorded in the manifest (default: the directory's name).
    #[arg(long)]
    name: Option<String>,
    /// Hash the target of a symlink to a file under the link's path (Hugging Face cache
    /// snapshots). Without it, symlinks are refused.
    #[arg(long)]
    follow_symlinks: bool,
    /// Do not record tensors: hash safetensors and GGUF files as plain files.
    #[arg(long)]
    no_tensors: bool,
    /// Re-hash only the files whose device, inode, size, mtime or ctime changed since the
    /// last `--update`, taking the other entries from the manifest on disk. The stat record
    /// lives in $WEIGHTSEAL_CACHE, $XDG_CACHE_HOME/weightseal or ~/.cache/weightseal, never in
    /// the model directory.
    #[arg(long)]
    update: bool,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// A manifest file, or a directory holding weightseal.manifest.
    file: PathBuf,
    /// Also list every tensor of every tensor file (name, dtype, shape, byte range, digest).
    #[arg(long)]
    tensors: bool,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The model directory, or one model file (a GGUF or lone safetensors file, with its
    /// manifest FILE.weightseal.manifest); or give --url to verify a mirror without
    /// downloading, or --hf for a model in the Hugging Face cache.
    #[arg(required_unless_present_any = ["url", "hf"], conflicts_with_all = ["url", "hf"])]
    dir: Option<PathBuf>,
    /// A model in the Hugging Face cache: ORG/NAME[@REVISION] (default revision: main).
    /// Its snapshot's symlinks are followed only into that repository's blobs/.
    #[arg(long, value_name = "ORG/NAME[@REV]", conflicts_with = "url")]
    hf: Option<String>,
    /// The manifest (default: DIR/weightseal.manifest, or URL/weightseal.manifest); a
    /// path or, with --url, also a URL.
    #[arg(long, value_name = "FILE")]
    manifest: Option<String>,
    /// Mirror validation: stream every file from this URL and check it; store nothing.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// With --url: check only this fraction (0 < F <= 1) of each file's chunks, chosen at
    /// random, with range requests. The report says it is a sample.
    #[arg(long, value_name = "F", requires = "url", value_parser = parse_fraction)]
    sample: Option<f64>,
    /// Do not fail on files the manifest does not list.
    #[arg(long)]
    allow_extra: bool,
    /// Read symlinks to files as those files (see `hash --follow-symlinks`).
    #[arg(long)]
    follow_symlinks: bool,
    /// A copy of the original release (a directory, or the original file of a single-file
    /// model): a modified file is compared with its original byte by byte, and the exact
    /// differing bytes are reported.
    #[arg(long, value_name = "DIR|FILE")]
    original: Option<PathBuf>,
    /// Re-shard tolerant: pass if the directory holds the manifest's tensors (names,
    /// dtypes, shapes, bytes) in any safetensors/GGUF files, and the other files match.
    #[arg(long)]
    tensors: bool,
    /// The attestation bundle (default: weightseal.intoto.jsonl beside the manifest).
    #[arg(long, value_name = "FILE")]
    attestations: Option<PathBuf>,
    /// A signature file: an OpenSSF model signing bundle (`model.sig`, recognised by its
    /// media type; verified with --key against the directory as model_signing
    /// serialized it) or a weightseal bundle.
    #[arg(
        help_heading = "OpenSSF model signing (--signature)",
        long,
        value_name = "FILE"
    )]
    signature: Option<PathBuf>,
    /// With an OpenSSF signature: paths to leave out (relative to the model directory, or
    /// to the current directory when inside the model), as model_signing takes them.
    #[arg(help_heading = "OpenSSF model signing (--signature)", long = "ignore-paths", value_name = "PATH", num_args = 1..)]
    ignore_paths: Vec<PathBuf>,
    /// With an OpenSSF signature: do not leave out .git, .github, .gitattributes and
    /// .gitignore (model_signing leaves them out by default).
    #[arg(help_heading = "OpenSSF model signing (--signature)", long)]
    no_ignore_git_paths: bool,
    /// Accept a release that nobody you trust vouches for, checking only that the files
    /// match its manifest: the result says "integrity only", never "verified". Without it,
    /// a release is refused unless a key, a policy, a trust store entry for its name or a
    /// --digest pin vouches for it.
    #[arg(long)]
    integrity_only: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    oms: OmsArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    net: NetArgs,
}

/// What the user asks of a release (`verify`, `fetch`): the trust, the pins, the log
/// requirement. It becomes the library's one question ([`weightseal::ask::Ask::new`]).
#[derive(clap::Args)]
struct TrustArgs {
    /// Require a valid publisher attestation by this public key (PEM, OpenSSH, GitHub .keys;
    /// an OpenSSF bundle's signer); repeatable: any one of the keys suffices.
    #[arg(long = "key", value_name = "PUB")]
    keys: Vec<PathBuf>,
    /// Require the attestations to meet this trust policy (TOML; its [log] table too).
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// Require the manifest to be this model (its name, as the attestations sign it).
    #[arg(long = "model", value_name = "NAME")]
    pin_model: Option<String>,
    /// Require the manifest to be exactly this one: its BLAKE3 digest in hex, as `hash`
    /// prints it (a digest learned out of band pins the release without any key).
    #[arg(long = "digest", value_name = "HEX", value_parser = parse_digest)]
    pin_digest: Option<weightseal::Digest>,
    #[command(flatten)]
    log: LogArgs,
}

/// How to check an OpenSSF model signing bundle given with `verify --signature`.
#[derive(clap::Args, Default)]
struct OmsArgs {
    /// With an OpenSSF signature made with the certificate method: the trusted
    /// certificates (PEM; roots, and intermediates if wanted), as model_signing verify
    /// certificate --certificate_chain takes them. Repeatable.
    #[arg(help_heading = "OpenSSF model signing (--signature)", long = "certificate-chain", value_name = "PEM", num_args = 1..)]
    certificate_chain: Vec<PathBuf>,
    /// With an OpenSSF signature made by Sigstore keyless signing: the signer's identity
    /// (the certificate's email or URI), checked offline against the Sigstore public-good
    /// trusted root embedded in weightseal (or --trusted-root).
    #[arg(
        help_heading = "OpenSSF model signing (--signature)",
        long,
        value_name = "ID",
        requires = "identity_provider"
    )]
    identity: Option<String>,
    /// With --identity: the OIDC provider that vouched for it (e.g.
    /// https://accounts.google.com, https://token.actions.githubusercontent.com).
    #[arg(
        help_heading = "OpenSSF model signing (--signature)",
        long,
        value_name = "URL",
        requires = "identity"
    )]
    identity_provider: Option<String>,
    /// With --identity: the trusted_root.json of another Sigstore instance.
    #[arg(
        help_heading = "OpenSSF model signing (--signature)",
        long,
        value_name = "FILE",
        requires = "identity"
    )]
    trusted_root: Option<PathBuf>,
}

impl TrustArgs {
    /// The question these flags ask (with `--integrity-only`/`--allow-unsigned` and, for
    /// `verify`, the OpenSSF check), with advice in flag terms when they do not make one.
    fn ask(&self, allow_unsigned: bool, oms: &OmsArgs) -> Result<weightseal::ask::Ask> {
        use weightseal::ask::AskError as E;
        let o = weightseal::ask::AskOptions {
            keys: self.keys.clone(),
            policy: self.policy.clone(),
            trust_store: true,
            certificate_chain: oms.certificate_chain.clone(),
            identity: oms.identity.clone(),
            identity_provider: oms.identity_provider.clone(),
            trusted_root: oms.trusted_root.clone(),
            model: self.pin_model.clone(),
            digest: self.pin_digest,
            log_key: self.log.log_key.clone(),
            witnesses: self.log.witnesses.clone(),
            quorum: self.log.quorum,
            allow_unsigned,
            ..Default::default()
        };
        weightseal::ask::Ask::new(&o).map_err(|e| {
            let advice = match &e {
                E::KeysAndPolicy => "give --key or --policy, not both",
                E::OmsMethods => {
                    "give one of --key, --certificate-chain or --identity/--identity-provider"
                }
                E::TwoLogRequirements => {
                    "give the log requirement once: the policy's [log] table, or --log-key with --witness and --quorum"
                }
                E::WitnessesWithoutLog => "--witness and --quorum need --log-key",
                _ => "",
            };
            let err = anyhow::Error::new(e);
            if advice.is_empty() {
                err
            } else {
                err.context(advice.to_string())
            }
        })
    }
}

#[derive(clap::Args)]
struct FetchArgs {
    /// The URL of the model directory (its weightseal.manifest is at URL/weightseal.manifest).
    url: String,
    /// Where to put the model.
    dest: PathBuf,
    /// Rename files into place without waiting for them to reach the disk (faster; after a
    /// power failure a file could hold bytes that were never written).
    #[arg(long)]
    no_fsync: bool,
    /// The manifest: a path or URL (default: URL/weightseal.manifest).
    #[arg(long, value_name = "PATH|URL")]
    manifest: Option<String>,
    /// The attestations: a path or URL (default: beside a local --manifest, else
    /// URL/weightseal.intoto.jsonl).
    #[arg(long, value_name = "PATH|URL")]
    attestations: Option<String>,
    /// The OpenSSF model signing bundle: a path or URL, which must verify under --key
    /// (default: URL/model.sig when the server has one). It is delivered as DEST/model.sig
    /// once its signature verifies under a key you gave and the files it signs are the files
    /// delivered.
    #[arg(long, value_name = "PATH|URL")]
    signature: Option<String>,
    /// Do not fail on files in DEST that the manifest does not list (as `verify
    /// --allow-extra`); without it, such files fail the fetch, so that a fetch that
    /// succeeds leaves a directory that `verify` accepts.
    #[arg(long)]
    allow_extra: bool,
    /// Download a release that nobody you trust vouches for, checking only that its files
    /// match its manifest (integrity only: the result never says "verified").
    #[arg(long)]
    allow_unsigned: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(clap::Args)]
struct SignCommandArgs {
    /// The model directory.
    dir: PathBuf,
    /// The manifest (default: DIR/weightseal.manifest).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Sign the manifest without checking it against the directory.
    #[arg(long)]
    manifest_only: bool,
    /// The model's name, as `hash --name` records it (e.g. `org/model`, which `org/*` trust
    /// entries and log monitors match); default: the directory's or file's name. With a
    /// manifest already there, it must be the name it records.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    args: attest::SignArgs,
}

#[derive(clap::Args)]
struct LineageArgs {
    /// A model directory or manifest file.
    model: PathBuf,
    /// Another release (directory or manifest) to follow derived_from digests into.
    /// Repeatable.
    #[arg(long = "with", value_name = "DIR")]
    with: Vec<PathBuf>,
    /// Trust these publisher keys (SPKI PEM) when judging attestations.
    #[arg(long = "key", value_name = "PUB")]
    keys: Vec<PathBuf>,
    /// Judge attestations with this trust policy.
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// Print the chain as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The first model: a manifest file or a model directory.
    a: PathBuf,
    /// The second model: a manifest file or a model directory.
    b: PathBuf,
    /// Read symlinks to files as those files when hashing a directory.
    #[arg(long)]
    follow_symlinks: bool,
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also write the comparison as one self-contained HTML page (no network, no script):
    /// layers × tensors coloured by state, changed files drawn to scale, metadata changes.
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
}

impl Command {
    /// Whether the command was asked for JSON output (then errors are JSON on stdout too).
    fn json(&self) -> bool {
        match self {
            Command::Show(a) => a.json,
            Command::Verify(a) => a.json,
            Command::Fetch(a) => a.json,
            Command::Lineage(a) => a.json,
            Command::Derive { command } => command.json(),
            Command::Diff(a) => a.json,
            Command::Hf {
                command: HfCommand::Check { json, .. },
            } => *json,
            Command::Trust {
                command: TrustCommand::List { json },
            } => *json,
            Command::Log {
                command: log::LogCommand::Monitor { json, .. },
            } => *json,
            _ => false,
        }
    }
}

/// Transparency log options of `verify` and `fetch`.
#[derive(clap::Args, Clone, Default)]
#[command(next_help_heading = "Transparency log")]
struct LogArgs {
    /// Require a proof (weightseal.tlog-proof beside the release) that the release is in the
    /// log with this verifier key (NAME+ID+KEY, as `log init` prints it), checked offline.
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// A witness whose cosignature of the log's checkpoint counts (its cosignature/v1
    /// verifier key, as `witness serve` prints it). Repeatable.
    #[arg(long = "witness", value_name = "VKEY", requires = "log_key")]
    witnesses: Vec<String>,
    /// How many of the witnesses must have cosigned (default: every one given).
    #[arg(long, value_name = "N", requires = "log_key")]
    quorum: Option<usize>,
}

/// Network options of `fetch` and `verify --url`.
#[derive(clap::Args, Clone)]
#[command(next_help_heading = "Network (fetch, verify --url)")]
struct NetArgs {
    /// Parallel connections.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Map a manifest path to a URL, e.g. https://host/org/model/resolve/main/{path}.
    #[arg(long, value_name = "TEMPLATE")]
    url_template: Option<String>,
    /// Seconds a connection may stall before it is dropped and retried.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Retries per request (5xx, resets, timeouts, corrupt chunks), with backoff.
    #[arg(long, default_value_t = 4)]
    retries: u32,
    /// Largest manifest downloaded, in MiB (checked before it is decoded or any signature is;
    /// 64 MiB holds the manifest of a model of several TB).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_manifest_size: u64,
    /// Largest attestation bundle downloaded, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 16)]
    max_bundle_size: u64,
    /// Minimum average transfer rate per response, in KiB/s, enforced after --timeout: a
    /// server that trickles is cut off and the request retried (0: no minimum).
    #[arg(long, value_name = "KIB", default_value_t = 32)]
    min_rate: u64,
    /// An extra request header, `NAME: VALUE` (e.g. `Authorization: Bearer TOKEN`), sent only
    /// to the URL's own scheme, host and port (and the --url-template's, and hosts allowed with
    /// --allow-redirect-host), never to another port or a host a redirect leads to; never
    /// shown in messages. Repeatable. HF_TOKEN in the environment is sent only to
    /// https://huggingface.co and https://hf.co, never over plain http.
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Follow redirects to this host too (`cdn.example.com`, or `.example.com` for all its
    /// subdomains). Without it only same-host redirects are followed, plus huggingface.co to
    /// its CDN hosts; an https to http redirect is never followed. Repeatable.
    #[arg(long = "allow-redirect-host", value_name = "HOST")]
    allow_redirect_hosts: Vec<String>,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err("expected NAME: VALUE".to_string()),
    }
}

impl NetArgs {
    fn manifest_limit(&self) -> u64 {
        self.max_manifest_size.saturating_mul(1 << 20)
    }

    fn bundle_limit(&self) -> u64 {
        self.max_bundle_size.saturating_mul(1 << 20)
    }

    fn options(&self) -> weightseal::fetch::FetchOptions {
        weightseal::fetch::FetchOptions {
            jobs: self.jobs,
            url_template: self.url_template.clone(),
            retries: self.retries,
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
            durability: weightseal::fetch::Durability::Fsync,
            min_rate: self.min_rate.saturating_mul(1024),
            headers: self.headers.clone(),
            allow_redirect_hosts: self.allow_redirect_hosts.clone(),
            hf_token: std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()),
            ..Default::default()
        }
    }
}

fn parse_digest(s: &str) -> Result<weightseal::Digest, String> {
    weightseal::Digest::from_hex(s).ok_or_else(|| {
        format!("{s:?} is not a manifest digest (64 hex digits, as `weightseal hash` prints)")
    })
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!("{s:?} is not a fraction in (0, 1]")),
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the key id of a public (or private) key file: SHA-256 of its SPKI DER, in hex
    /// (one line per key for a file of several, such as a GitHub keys file).
    Id {
        /// A key file: PEM, OpenSSH private key or public key lines.
        file: PathBuf,
    },
    /// Print the public key(s) of a key file as SPKI PEM (from a private key, an OpenSSH
    /// public key line or a GitHub keys file).
    Public {
        /// A key file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum HfCommand {
    /// Check every blob of the cache (or of one repository) against its name, offline: an
    /// LFS blob is named by the SHA-256 of its content, a small file by its git blob SHA-1.
    /// Reports corrupt or truncated blobs with the snapshot files that use them, and dangling
    /// or foreign symlinks. Exit 0 when everything checks, 1 when something does not.
    Check {
        /// One repository (ORG/NAME); default: every repository of the cache.
        repo: Option<String>,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Trust the key(s) of a file (PEM, OpenSSH line, GitHub keys file) for models matching
    /// a pattern (`org/*`, `org/llama-*`; `*` matches any characters).
    Add {
        /// The public key file.
        key: PathBuf,
        /// Model names this key is trusted for.
        #[arg(long, value_name = "PATTERN")]
        model: String,
        /// The role the key is trusted to attest.
        #[arg(long, default_value = "publisher")]
        role: String,
        /// A name for the key's owner (default: the key file's name).
        #[arg(long)]
        name: Option<String>,
        /// Require the models this entry matches to be in this transparency log (and cosigned
        /// by the witnesses given): `verify` and `fetch` then ask for its proof with no flag.
        #[command(flatten)]
        log: LogArgs,
    },
    /// List the trusted keys.
    List {
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the entries with this name or key id (or a key id prefix of 8+ characters).
    Remove {
        /// A name or key id.
        what: String,
        /// Only the entry for this model pattern.
        #[arg(long, value_name = "PATTERN")]
        model: Option<String>,
    },
}

fn parse_alg(s: &str) -> Result<weightseal::attest::keys::Algorithm, String> {
    weightseal::attest::keys::Algorithm::from_name(s)
        .ok_or_else(|| format!("{s:?}: expected ed25519, ecdsa-p256 or ecdsa-p384"))
}

fn parse_chunk_size(s: &str) -> Result<ChunkSize, String> {
    ChunkSize::parse(s).map_err(|e| e.to_string())
}

/// What a command found: drives the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Verified,
    /// Exit 1.
    NotVerified,
}

/// Runs the CLI on this process's arguments and returns the exit code.
pub fn run() -> i32 {
    run_from(std::env::args_os())
}

/// Runs the CLI on `args` (the first is the program name) and returns the exit code: the
/// `weightseal` binary, and the same command installed by the Python package.
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // Asked for JSON: a usage error (unknown flag, bad value, missing argument) is the
            // JSON error object on stdout too, as every other exit-2 error is.
            if code == 2 && args.iter().skip(1).any(|a| a == "--json") {
                let message = e.kind().as_str().map(str::to_string).unwrap_or_default();
                let detail = e.render().to_string();
                let first = detail
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string();
                let v = serde_json::json!({
                    "ok": false,
                    "error": {"kind": "usage", "message": if first.is_empty() { message } else { first }}
                });
                let _ = (|| -> std::io::Result<()> {
                    outln!("{}", serde_json::to_string_pretty(&v)?);
                    Ok(())
                })();
            }
            let _ = e.print();
            return code;
        }
    };
    let json = cli.command.json();
    match dispatch(cli.command) {
        Ok(Outcome::Verified) => 0,
        Ok(Outcome::NotVerified) => 1,
        Err(e) => {
            let broken_pipe = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
            if !broken_pipe {
                // Credentials in URLs never reach a message.
                let message = weightseal::net::redact(&error_text(&e));
                if json {
                    let v = serde_json::json!({
                        "ok": false,
                        "error": {"kind": error_kind(&e), "message": message}
                    });
                    let _ = (|| -> std::io::Result<()> {
                        outln!("{}", serde_json::to_string_pretty(&v)?);
                        Ok(())
                    })();
                }
                eprintln!("weightseal: error: {message}");
            }
            2
        }
    }
}

/// A failure the CLI itself diagnoses, with its `--json` kind.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: &'static str,
    message: String,
}

impl Failure {
    pub(crate) fn new(kind: &'static str, message: String) -> Failure {
        Failure { kind, message }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error and its causes, `outer: inner: …`, each said once: a cause whose text the
/// message already holds (a library error that names its I/O cause) is not repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let t = cause.to_string();
        if out.contains(&t) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&t);
    }
    out
}

/// What kind of failure ended a command, for `--json` (`{"ok": false, "error": {"kind",
/// "message"}}`): `manifest`, `key`, `policy`, `attestations`, `network`, `format`, `io` or
/// `usage`.
fn error_kind(e: &anyhow::Error) -> &'static str {
    use weightseal::attest::{bundle::BundleError, keys::KeyError, policy::PolicyError};
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.kind;
        }
        if let Some(t) = cause.downcast_ref::<weightseal::path::TargetError>() {
            return match t {
                weightseal::path::TargetError::Missing { .. } => "io",
                _ => "usage",
            };
        }
        if cause.is::<manifest::ManifestError>() {
            return "manifest";
        }
        if cause.is::<KeyError>() {
            return "key";
        }
        if let Some(r) = cause.downcast_ref::<weightseal::release::ReleaseError>() {
            use weightseal::release::ReleaseError as R;
            return match r {
                R::Fetch(_) => "network",
                R::Verify(_) | R::Destination { .. } => "io",
                R::Oms(_) => "attestations",
                _ => "policy",
            };
        }
        if cause.is::<PolicyError>() || cause.is::<weightseal::attest::trust::TrustError>() {
            return "policy";
        }
        if cause.is::<BundleError>() || cause.is::<weightseal::oms::OmsError>() {
            return "attestations";
        }
        if cause.is::<weightseal::fetch::FetchError>() {
            return "network";
        }
        if let Some(g) = cause.downcast_ref::<GatherError>() {
            return match g {
                GatherError::Manifest { .. } | GatherError::NoManifest { .. } => "manifest",
                GatherError::Bundle(_) | GatherError::Oms(_) | GatherError::NoSignature { .. } => {
                    "attestations"
                }
                GatherError::Fetch(_) => "network",
                GatherError::Target(weightseal::path::TargetError::Missing { .. })
                | GatherError::Io { .. }
                | GatherError::Snapshot(_)
                | GatherError::NoCache => "io",
                _ => "usage",
            };
        }
        if let Some(a) = cause.downcast_ref::<weightseal::ask::AskError>() {
            use weightseal::ask::AskError as A;
            return match a {
                A::Key(_) => "key",
                A::Policy(_) => "policy",
                A::Read { .. } => "io",
                _ => "usage",
            };
        }
        if cause.is::<weightseal::formats::FormatError>() {
            return "format";
        }
        if cause.is::<std::io::Error>()
            || cause.is::<weightseal::walk::WalkError>()
            || cause.is::<weightseal::manifest::BuildError>()
            || cause.is::<weightseal::verify::VerifyError>()
            || cause.is::<weightseal::safedir::SafeDirError>()
        {
            return "io";
        }
    }
    "usage"
}

fn symlinks(follow: bool) -> Symlinks {
    if follow {
        Symlinks::Follow
    } else {
        Symlinks::Refuse
    }
}

fn dispatch(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Hash(a) => hash_cmd(a),
        Command::Show(a) => show_cmd(a),
        Command::Verify(a) => verify_cmd(a),
        Command::Fetch(a) => fetch_cmd(a),
        Command::Diff(a) => diff_cmd(a),
        Command::Keygen { out, alg } => {
            outln!("{}", attest::keygen(&out, alg)?);
            Ok(Outcome::Verified)
        }
        Command::Trust { command } => attest::trust_command(command),
        Command::Log { command } => log::run(command),
        Command::Witness { command } => log::witness(command),
        Command::Hf {
            command: HfCommand::Check { repo, json },
        } => hf_check(repo, json),
        Command::Key {
            command: KeyCommand::Public { file },
        } => {
            out!("{}", attest::key_public(&file)?);
            Ok(Outcome::Verified)
        }
        Command::Key {
            command: KeyCommand::Id { file },
        } => {
            outln!("{}", attest::key_id(&file)?);
            Ok(Outcome::Verified)
        }
        Command::Sign(a) => sign_cmd(a),
        Command::Lineage(a) => lineage_cmd(a),
        Command::Derive { command } => derive::run(command),
        Command::Demo => demo::run(),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "weightseal", &mut buf);
            // Generated from our own definitions: written as is (tabs and all).
            std::io::Write::write_all(&mut std::io::stdout().lock(), &buf)?;
            Ok(Outcome::Verified)
        }
        Command::Man { dir } => {
            match dir {
                Some(d) => {
                    std::fs::create_dir_all(&d)
                        .with_context(|| format!("creating {}", d.display()))?;
                    clap_mangen::generate_to(man_command(), &d)
                        .with_context(|| format!("writing man pages into {}", d.display()))?;
                    std::fs::write(d.join("weightseal.1"), main_man_page()?)
                        .with_context(|| format!("writing {}", d.join("weightseal.1").display()))?;
                    eprintln!("weightseal: wrote the man pages into {}", d.display());
                }
                None => {
                    std::io::Write::write_all(&mut std::io::stdout().lock(), &main_man_page()?)?;
                }
            }
            Ok(Outcome::Verified)
        }
    }
}

/// A single-file model named after its GGUF `general.name` (no `--name` was given, and the
/// name is not the file name): say so, and how to choose another.
fn say_gguf_name(name_given: bool, only: Option<&str>, name: &str) {
    if let (false, Some(file)) = (name_given, only) {
        if file != name {
            eprintln!("weightseal: named the model {name:?} after the GGUF's general.name (give --name to choose another)");
        }
    }
}

fn hash_cmd(a: HashArgs) -> Result<Outcome> {
    let HashArgs {
        dir,
        output,
        chunk_size,
        sha256,
        name,
        follow_symlinks,
        no_tensors,
        update,
    } = a;
    let t = target(&dir, output.as_deref())?;
    let (dir, out) = (t.dir, t.manifest);
    let name_given = name.is_some();
    let opts = BuildOptions {
        only: t.only,
        chunk_size,
        sha256: if sha256 { Sha256::Record } else { Sha256::Skip },
        symlinks: symlinks(follow_symlinks),
        name,
        exclude: vec![out.clone()],
        tensors: if no_tensors {
            Tensors::Skip
        } else {
            Tensors::Record
        },
    };
    let start = std::time::Instant::now();
    let m = if update {
        let cache = manifest::update::cache_dir().context(
            "--update keeps a stat record in the cache directory, and none is known: set WEIGHTSEAL_CACHE, XDG_CACHE_HOME or HOME",
        )?;
        let bar = Bar::new("hashing");
        let u = manifest::update::build_update(&dir, &opts, &out, &cache, bar.progress())
            .with_context(|| format!("hashing {}", dir.display()))?;
        bar.finish();
        for w in &u.built.warnings {
            eprintln!("weightseal: warning: {w}");
        }
        if let Some(r) = &u.full {
            eprintln!("weightseal: hashing everything: {r}");
        }
        if let Some(e) = &u.record_error {
            eprintln!("weightseal: warning: no stat record kept: {e}");
        }
        eprintln!(
            "weightseal: {} file(s) re-hashed, {} unchanged{}",
            u.hashed.len(),
            u.reused.len(),
            match u.hashed.as_slice() {
                [] => String::new(),
                h if h.len() <= 10 => format!(" (re-hashed: {})", h.join(", ")),
                h => format!(" (re-hashed: {}, ...)", h[..10].join(", ")),
            }
        );
        u.built.manifest
    } else {
        build_manifest(&dir, &opts)?
    };
    say_gguf_name(name_given, opts.only.as_deref(), m.name());
    let bytes = m.encode();
    write_atomic(&out, &bytes).with_context(|| format!("writing manifest {}", out.display()))?;
    outln!("{}  {}", m.digest(), out.display());
    eprintln!(
        "weightseal: {} file(s), {} in {:.2} s; manifest {} bytes",
        m.files().len(),
        render::bytes(m.total_size()),
        start.elapsed().as_secs_f64(),
        bytes.len()
    );
    Ok(Outcome::Verified)
}

fn show_cmd(a: ShowArgs) -> Result<Outcome> {
    let ShowArgs {
        file,
        tensors,
        json,
    } = a;
    let path = manifest_path(&file, None);
    let m = read_manifest(&path)?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&render::manifest_json(&m))?
        );
    } else {
        out!("{}", render::manifest_text(&m, tensors));
    }
    Ok(Outcome::Verified)
}

fn verify_cmd(a: VerifyArgs) -> Result<Outcome> {
    let VerifyArgs {
        dir,
        manifest,
        url,
        sample,
        net,
        allow_extra,
        follow_symlinks,
        tensors,
        attestations,
        hf,
        signature,
        ignore_paths,
        no_ignore_git_paths,
        json,
        original,
        integrity_only,
        oms,
        trust,
    } = a;
    if sample.is_some() && url.is_none() {
        anyhow::bail!("--sample checks a random fraction of a mirror's chunks and needs --url; a local directory is always read whole");
    }
    if tensors && url.is_some() {
        anyhow::bail!("--tensors needs a directory, not --url");
    }
    let ask = trust.ask(integrity_only, &oms)?;
    let remote = url
        .as_deref()
        .map(|u| weightseal::fetch::Remote::new(u, net.options()))
        .transpose()?;
    let hf = hf.as_deref().map(weightseal::hf::parse_repo).transpose()?;
    let source = match (&dir, &remote, &hf) {
        (Some(d), _, _) => Source::Local(d),
        (None, Some(r), _) => Source::Remote(r),
        (None, None, Some((repo, rev))) => Source::HfSnapshot {
            repo,
            revision: rev.as_deref(),
            cache: None,
        },
        (None, None, None) => anyhow::bail!("give a directory, --url or --hf"),
    };
    let locators = Locators {
        manifest: manifest.clone(),
        attestations: attestations.map(|p| p.display().to_string()),
        signature: signature.as_ref().map(|p| p.display().to_string()),
        manifest_limit: net.manifest_limit(),
        bundle_limit: net.bundle_limit(),
    };
    let ev = gather(&source, &locators).map_err(gather_failure)?;
    if let (Some((repo, _)), Place::Local { dir, .. }) = (&hf, &ev.place) {
        eprintln!("weightseal: {repo}: snapshot {}", dir.display());
    }
    let how = CheckOptions {
        mode: if tensors { Mode::Tensors } else { Mode::Files },
        extra: if allow_extra {
            ExtraFiles::Allow
        } else {
            ExtraFiles::Reject
        },
        follow_symlinks,
        sample,
        ignore_paths,
        ignore_git: !no_ignore_git_paths,
    };
    let bar = Bar::new("verifying");
    let mut verdict =
        weightseal::release::verify(&ev, &ask, &how, bar.progress()).map_err(release_failure)?;
    bar.finish();
    // With the original at hand: the exact bytes of each modified file.
    if let (Some(orig), Some(model), Some(files)) = (&original, &dir, verdict.files.as_mut()) {
        let (t, o) = (target(model, None)?, target(orig, None)?);
        let locate = |p: &str| {
            let there = match &o.only {
                Some(_) => orig.clone(),
                None => o.dir.join(p),
            };
            (there, t.dir.join(p))
        };
        files.exact = weightseal::verify::exact_bytes(files, &locate)?;
    }
    let shown_signature = match &ev.signed {
        weightseal::evidence::Signed::Oms(s) => Some(s.path.as_path()),
        _ => None,
    };
    render::render_verdict(
        &verdict,
        &render::Shown {
            signature: shown_signature,
        },
        json,
    )
}

/// A gathering failure, with the advice of the command line.
fn gather_failure(e: GatherError) -> anyhow::Error {
    match e {
        // A missing or unreadable local manifest: say what is there and what to do.
        GatherError::NoManifest {
            origin,
            given: false,
        } if !origin.starts_with("http") => match read_manifest(Path::new(&origin)) {
            Err(e) => e,
            Ok(_) => anyhow::anyhow!("no manifest at {origin}"),
        },
        GatherError::NoManifest {
            origin,
            given: true,
        } if !origin.starts_with("http") => Failure::new(
            "manifest",
            format!("cannot read manifest {origin}: no such file"),
        )
        .into(),
        GatherError::NoManifest { origin, .. } => Failure::new(
            "manifest",
            format!("{origin}: the server has no manifest (HTTP 404); give the publisher's with --manifest PATH|URL"),
        )
        .into(),
        GatherError::Manifest {
            path: Some(p),
            source,
            ..
        } => match read_manifest(&p) {
            Err(e) => e,
            Ok(_) => anyhow::Error::new(*source).context(format!("invalid manifest {}", p.display())),
        },
        GatherError::NoCache => Failure::new(
            "io",
            "no Hugging Face cache: set HF_HUB_CACHE or HF_HOME".into(),
        )
        .into(),
        e => e.into(),
    }
}

/// A judging failure, with the advice of the command line.
fn release_failure(e: weightseal::release::ReleaseError) -> anyhow::Error {
    use weightseal::release::ReleaseError as R;
    let advice = match &e {
        R::NoOmsCheck => "pass the signer's public key (--key PUB), the certificates you trust (--certificate-chain CA.pem) or a Sigstore identity (--identity ID --identity-provider URL), or add the publisher with `weightseal trust add`",
        R::PolicyForOms => "--policy judges weightseal attestations; check an OpenSSF bundle with --key, --certificate-chain or --identity",
        R::LogForOms => "--log-key checks the transparency log proof of a weightseal release; an OpenSSF model signing bundle is not logged",
        _ => "",
    };
    if advice.is_empty() {
        e.into()
    } else {
        anyhow::Error::new(e).context(advice)
    }
}

fn fetch_cmd(a: FetchArgs) -> Result<Outcome> {
    let FetchArgs {
        url,
        dest,
        no_fsync,
        manifest,
        attestations,
        signature,
        net,
        allow_extra,
        allow_unsigned,
        json,
        trust,
    } = a;
    let ask = trust.ask(allow_unsigned, &OmsArgs::default())?;
    let mut opts = net.options();
    if no_fsync {
        opts.durability = weightseal::fetch::Durability::PageCache;
    }
    if allow_extra {
        opts.extra = ExtraFiles::Allow;
    }
    let remote = weightseal::fetch::Remote::new(&url, opts)?;
    let locators = Locators {
        manifest,
        attestations,
        signature,
        manifest_limit: net.manifest_limit(),
        bundle_limit: net.bundle_limit(),
    };
    let ev = gather(&Source::Remote(&remote), &locators).map_err(gather_failure)?;
    let bar = Bar::new("fetching");
    let verdict =
        weightseal::release::fetch(&ev, &ask, &dest, bar.progress()).map_err(release_failure)?;
    bar.finish();
    // A single-file model lands as DEST/FILE (with its evidence beside it): say that path, the
    // one `verify` takes.
    let landed = match remote.single_file() {
        Some(name) => dest.join(name),
        None => dest.clone(),
    };
    fetch::render(&verdict, &dest, &landed, ask.trust(), json)
}

fn sign_cmd(a: SignCommandArgs) -> Result<Outcome> {
    let SignCommandArgs {
        dir,
        manifest,
        manifest_only,
        name,
        args,
    } = a;
    let t = target(&dir, manifest.as_deref())?;
    let (dir, path) = (t.dir, t.manifest);
    // The key and every claim are checked before anything is hashed or written.
    let key = weightseal::attest::PrivateKey::read_with(&args.key, &|| {
        attest::passphrase_for(&args.key)
    })?;
    let claims = attest::claims(&args)?;
    let opts = weightseal::publish::PublishOptions {
        build: BuildOptions {
            only: t.only,
            name,
            ..BuildOptions::default()
        },
        attestations: attest::bundle_path(&path, args.attestations.as_deref()),
        manifest_path: path,
        manifest_only,
        format: match args.format {
            attest::SignFormat::Weightseal => weightseal::publish::Format::Weightseal,
            attest::SignFormat::Oms => weightseal::publish::Format::Oms,
            attest::SignFormat::Both => weightseal::publish::Format::Both,
        },
        // Into the model's directory, as its evidence (spec/manifest.md, "Release directory"),
        // as Python's `sign` does.
        oms_signature: args
            .signature
            .clone()
            .unwrap_or_else(|| dir.join(weightseal::path::OMS_SIGNATURE_FILE)),
        stat_cache: manifest::update::cache_dir(),
    };
    let bar = Bar::new("hashing");
    let p =
        weightseal::publish::publish(&dir, &key, &claims, &opts, bar.progress()).map_err(|e| {
            match e {
                weightseal::publish::PublishError::Mismatch { .. } => {
                    anyhow::anyhow!("{e}: run `weightseal verify`, or sign with --manifest-only")
                }
                e => e.into(),
            }
        })?;
    bar.finish();
    for w in &p.warnings {
        eprintln!("weightseal: warning: {w}");
    }
    if let Some(c) = &p.stat_checked {
        eprintln!(
            "weightseal: checked {} against its stat record: {} file(s) re-hashed, {} unchanged{}",
            dir.display(),
            c.rehashed.len(),
            c.unchanged,
            match c.rehashed.as_slice() {
                [] => String::new(),
                h if h.len() <= 10 => format!(" (re-hashed: {})", h.join(", ")),
                h => format!(" (re-hashed: {}, ...)", h[..10].join(", ")),
            }
        );
    }
    if p.manifest_written {
        say_gguf_name(
            opts.build.name.is_some(),
            opts.build.only.as_deref(),
            p.manifest.name(),
        );
        eprintln!(
            "weightseal: hashed {} into {}",
            dir.display(),
            opts.manifest_path.display()
        );
    }
    if let Some(n) = p.oms_files {
        // Where it went, in full: by default `model.sig` lands in the current directory.
        let at = std::path::absolute(&opts.oms_signature).unwrap_or(opts.oms_signature.clone());
        // The key id once: the attestation's line below names it when there is one.
        let key = if p.attestations.is_none() {
            format!(", key {}", p.key_id)
        } else {
            String::new()
        };
        outln!(
            "wrote OpenSSF model signing bundle {} ({n} file(s){key})",
            at.display()
        );
    }
    if let Some(n) = p.attestations {
        outln!(
            "signed {} (manifest {}) as {} with key {}{}\n{n} attestation(s) in {}",
            p.manifest.name(),
            p.manifest.digest(),
            claims.role,
            p.key_id,
            if p.replaced {
                " (replacing this key's earlier attestation for this role)"
            } else {
                ""
            },
            opts.attestations.display()
        );
    }
    Ok(Outcome::Verified)
}

fn lineage_cmd(a: LineageArgs) -> Result<Outcome> {
    let LineageArgs {
        model,
        with,
        keys,
        policy,
        json,
    } = a;
    let trust = attest::load_trust(&keys, policy.as_deref())?;
    let root = attest::load_release(&model, None)?;
    let known = with
        .iter()
        .map(|w| attest::load_release(w, None))
        .collect::<Result<Vec<_>>>()?;
    let tree = weightseal::attest::lineage(
        &root,
        &known,
        trust.as_ref(),
        weightseal::attest::time::Timestamp::now(),
    );
    if json {
        outln!("{}", serde_json::to_string_pretty(&tree)?);
    } else {
        out!("{}", attest::lineage_text(&tree, trust.is_some()));
    }
    Ok(Outcome::Verified)
}

fn diff_cmd(a: DiffArgs) -> Result<Outcome> {
    let DiffArgs {
        a,
        b,
        follow_symlinks,
        json,
        html,
    } = a;
    // A directory is hashed at the other side's chunk size, so chunk ranges compare.
    // A model file (a single-file model) is hashed like a directory.
    let is_model = |p: &Path| p.is_dir() || looks_like_weights(p);
    let a_manifest = (!is_model(&a)).then(|| read_manifest(&a)).transpose()?;
    let b_manifest = (!is_model(&b)).then(|| read_manifest(&b)).transpose()?;
    let cs = a_manifest
        .as_ref()
        .or(b_manifest.as_ref())
        .map(|m| m.chunk_size())
        .unwrap_or_default();
    let load = |p: &Path, m: Option<Manifest>| -> Result<Manifest> {
        match m {
            Some(m) => Ok(m),
            None => {
                let t = target(p, None)?;
                let opts = BuildOptions {
                    chunk_size: cs,
                    symlinks: symlinks(follow_symlinks),
                    only: t.only,
                    ..Default::default()
                };
                build_manifest(&t.dir, &opts)
            }
        }
    };
    let ma = load(&a, a_manifest.clone())?;
    let mb = load(&b, b_manifest.clone())?;
    let single = |p: &Path| !p.is_dir() && looks_like_weights(p);
    let both_single = single(&a) && single(&b);
    let mut d = if both_single {
        // Two model files: compared as one file, whatever their names.
        weightseal::diff::diff_single_files(&ma, &mb)?
    } else {
        weightseal::diff::diff_manifests(&ma, &mb)
    };
    // Both models at hand (not manifests): the exact bytes, and text diffs of small files.
    if a_manifest.is_none() && b_manifest.is_none() {
        let (ta, tb) = (target(&a, None)?, target(&b, None)?);
        if both_single {
            let locate = |_: &str| (a.clone(), b.clone());
            weightseal::diff::detail_changes(&mut d, &locate)
        } else {
            let locate = |p: &str| (ta.dir.join(p), tb.dir.join(p));
            weightseal::diff::detail_changes(&mut d, &locate)
        }
        .context("comparing the changed files byte by byte")?;
    }
    if let Some(out) = &html {
        let page = html::page(
            &ma,
            &mb,
            &d,
            &a.display().to_string(),
            &b.display().to_string(),
        );
        write_atomic(out, page.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("weightseal: wrote {}", out.display());
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        out!("{}", render::diff_text(&d));
    }
    Ok(if d.same_files() {
        Outcome::Verified
    } else {
        Outcome::NotVerified
    })
}

/// `hf check [ORG/NAME]`.
fn hf_check(repo: Option<String>, json: bool) -> Result<Outcome> {
    let cache = weightseal::hf::cache_dir()
        .context("no Hugging Face cache: set HF_HUB_CACHE or HF_HOME")?;
    let repo = repo
        .map(|r| weightseal::hf::parse_repo(&r).map(|x| x.0))
        .transpose()?;
    let r = weightseal::hf::check(&cache, repo.as_deref())?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        for b in &r.blobs {
            let used = if b.used_by.is_empty() {
                String::new()
            } else {
                format!("; used by {}", b.used_by.join(", "))
            };
            match &b.status {
                weightseal::hf::BlobStatus::Ok => {
                    outln!("{} blobs/{}: OK", b.repo, b.blob)
                }
                weightseal::hf::BlobStatus::Unknown if b.passes() => {
                    outln!(
                        "{} blobs/{}: not checked (not named by a hash; no snapshot uses it)",
                        b.repo,
                        b.blob
                    )
                }
                weightseal::hf::BlobStatus::Unknown => outln!(
                    "{} blobs/{}: FAILED (not named by a hash, so its content cannot be checked{used})",
                    b.repo,
                    b.blob
                ),
                weightseal::hf::BlobStatus::Corrupt { algorithm, found } => outln!(
                    "{} blobs/{}: FAILED (corrupt or truncated: its {} bytes have {} {found}, not the hash it is named by{used})",
                    b.repo,
                    b.blob,
                    b.size,
                    match *algorithm {
                        "sha256" => "SHA-256",
                        _ => "the git blob SHA-1",
                    }
                ),
                weightseal::hf::BlobStatus::Unreadable { reason } => outln!(
                    "{} blobs/{}: FAILED (unreadable: {reason}{used})",
                    b.repo,
                    b.blob
                ),
            }
        }
        for l in &r.links {
            outln!(
                "{} {}: FAILED ({} symbolic link to {})",
                l.repo,
                l.path,
                l.problem,
                l.target
            );
        }
    }
    let bad = r.blobs.iter().filter(|b| !b.passes()).count();
    eprintln!(
        "weightseal: Hugging Face cache {}: {} repository(ies), {} blob(s), {bad} bad, {} bad link(s)",
        r.cache,
        r.repos.len(),
        r.blobs.len(),
        r.links.len()
    );
    Ok(if r.ok {
        Outcome::Verified
    } else {
        Outcome::NotVerified
    })
}

/// Resolves a model argument (`hash`, `sign`, `verify`, `diff`).
pub(crate) fn target(path: &Path, manifest: Option<&Path>) -> Result<Target> {
    Ok(Target::resolve(path, manifest)?)
}

/// The manifest a `show`/`diff`/`lineage` argument names: a manifest file, a directory's
/// `weightseal.manifest`, or a single-file model's `FILE.weightseal.manifest`.
fn manifest_path(file: &Path, explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None if file.is_dir() => file.join(MANIFEST_FILE),
        None if looks_like_weights(file)
            || weightseal::path::single_file_manifest(file).exists() =>
        {
            weightseal::path::single_file_manifest(file)
        }
        None => file.to_path_buf(),
    }
}

/// Whether a file is a model file rather than a manifest: a safetensors or GGUF file by name,
/// or one that starts with the GGUF magic.
fn looks_like_weights(file: &Path) -> bool {
    if weightseal::formats::Format::claimed_by(file).is_some() {
        return true;
    }
    let mut magic = [0u8; 4];
    weightseal::fsutil::open_regular(file)
        .and_then(|(mut f, _)| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"GGUF"
}

pub(crate) fn read_manifest(path: &Path) -> Result<Manifest> {
    match Manifest::read_file(path) {
        Ok(m) => Ok(m),
        Err(manifest::ManifestError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound
                && !path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(MANIFEST_FILE)) =>
        {
            Err(Failure::new(
                "io",
                format!(
                    "{}: no such file or directory (a model directory, a model file or a manifest was expected)",
                    path.display()
                ),
            )
            .into())
        }
        Err(manifest::ManifestError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            let model = path
                .to_str()
                .and_then(|p| p.strip_suffix(weightseal::path::SINGLE_FILE_MANIFEST_SUFFIX))
                .map(str::to_string)
                .or_else(|| path.parent().map(|p| p.display().to_string()))
                .unwrap_or_else(|| ".".into());
            // A directory of single-file models (what `fetch URL/FILE.gguf DIR` leaves): name
            // the files that have a manifest of their own.
            let singles: Vec<String> = match path.parent() {
                Some(d) if path.file_name().is_some_and(|n| n == MANIFEST_FILE) => {
                    let mut v: Vec<String> = std::fs::read_dir(d)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter_map(|n| {
                            n.strip_suffix(weightseal::path::SINGLE_FILE_MANIFEST_SUFFIX)
                                .filter(|f| !f.is_empty())
                                .map(|f| d.join(f).display().to_string())
                        })
                        .take(64)
                        .collect();
                    v.sort();
                    v
                }
                _ => Vec::new(),
            };
            if !singles.is_empty() {
                return Err(Failure::new(
                    "manifest",
                    format!(
                        "no manifest at {}; the directory holds single-file models, each with its own manifest: verify {}",
                        path.display(),
                        singles.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
                .into());
            }
            Err(Failure::new(
                "manifest",
                format!(
                    "no manifest at {}: hash the model first (`weightseal hash {model}`), or give the publisher's manifest with --manifest FILE",
                    path.display()
                ),
            )
            .into())
        }
        Err(e @ manifest::ManifestError::Io { .. }) => Err(e.into()),
        Err(e) if looks_like_weights(path) => Err(Failure::new(
            "manifest",
            format!(
                "{} is a model file, not a manifest ({e}); its manifest is {}",
                path.display(),
                weightseal::path::single_file_manifest(path).display()
            ),
        )
        .into()),
        Err(e) => {
            // Not a manifest at all (a key, a config, another format): say what it is.
            let mut head = [0u8; 16];
            let n = weightseal::fsutil::open_regular(path)
                .and_then(|(mut f, _)| std::io::Read::read(&mut f, &mut head))
                .unwrap_or(0);
            if n > 0 && head[0] >> 5 != 5 {
                let text = head[..n]
                    .iter()
                    .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\n');
                let start = if text {
                    format!("{:?}", String::from_utf8_lossy(&head[..n]))
                } else {
                    head[..n.min(8)].iter().map(|b| format!("{b:02x}")).collect()
                };
                return Err(Failure::new(
                    "manifest",
                    format!(
                        "{} is not a weightseal manifest (a manifest is a CBOR map; this file starts with {start}); a manifest is written by `weightseal hash`",
                        path.display()
                    ),
                )
                .into());
            }
            Err(anyhow::Error::new(e).context(format!("invalid manifest {}", path.display())))
        }
    }
}

/// Hashes a directory into a manifest with a progress bar, printing the build warnings
/// (unparsable tensor files, index problems) on stderr.
fn build_manifest(dir: &Path, opts: &BuildOptions) -> Result<Manifest> {
    let bar = Bar::new("hashing");
    let built = manifest::build(dir, opts, bar.progress())
        .with_context(|| format!("hashing {}", dir.display()))?;
    bar.finish();
    for w in &built.warnings {
        eprintln!("weightseal: warning: {w}");
    }
    Ok(built.manifest)
}

/// Writes a published file (manifest, attestations) atomically, readable by all.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(weightseal::fsutil::write_atomic(path, bytes, 0o644)?)
}

/// Progress on stderr, drawn only when stderr is a terminal: a total bar (bytes, rate, ETA)
/// and, for downloads, one bar per file in flight.
pub(crate) struct Bar(Option<BarProgress>);

struct BarProgress {
    multi: indicatif::MultiProgress,
    total: indicatif::ProgressBar,
    files: std::sync::Mutex<std::collections::HashMap<usize, indicatif::ProgressBar>>,
}

const BAR_TEMPLATE: &str = "{msg:24!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {known_eta}";

/// The bar style: no ETA until the rate is known (a second of work and some bytes done), so
/// that the first bursts of a download never show "eta 3h" for a one-second job.
fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(BAR_TEMPLATE)
        .expect("valid template")
        .with_key(
            "known_eta",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let known = state.elapsed() >= std::time::Duration::from_secs(1)
                    && state.pos() > 0
                    && state.len().is_some_and(|l| l > state.pos());
                if known {
                    let _ = write!(w, "eta {}", indicatif::HumanDuration(state.eta()));
                }
            },
        )
        .progress_chars("=> ")
}

impl Progress for BarProgress {
    fn set_total(&self, bytes: u64) {
        self.total.set_length(bytes);
        // Drawn only once there is something to show: no `0 B/0 B` frame.
        if bytes > 0 {
            self.multi
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
    fn advance(&self, bytes: u64) {
        self.total.inc(bytes);
    }
    fn file_started(&self, id: usize, path: &str, size: u64) {
        let pb = self
            .multi
            .insert_before(&self.total, indicatif::ProgressBar::new(size));
        pb.set_style(bar_style());
        pb.set_message(render::terminal_safe(path).into_owned());
        self.files.lock().expect("bars lock").insert(id, pb);
    }
    fn file_advanced(&self, id: usize, bytes: u64) {
        if let Some(pb) = self.files.lock().expect("bars lock").get(&id) {
            pb.inc(bytes);
        }
    }
    fn file_finished(&self, id: usize) {
        if let Some(pb) = self.files.lock().expect("bars lock").remove(&id) {
            pb.finish_and_clear();
            self.multi.remove(&pb);
        }
    }
}

impl Bar {
    pub(crate) fn new(what: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        // Hidden until the total is known (set_total).
        let multi =
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let total = multi.add(indicatif::ProgressBar::new(0));
        total.set_style(bar_style());
        total.set_message(what.to_string());
        Bar(Some(BarProgress {
            multi,
            total,
            files: Default::default(),
        }))
    }

    pub(crate) fn progress(&self) -> &dyn Progress {
        match &self.0 {
            Some(pb) => pb,
            None => &NoProgress,
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.total.finish_and_clear();
        }
    }
}
