//! The known-answer vectors in `testvectors/`: every file in each directory is checked against
//! the implementation (the harness lists the directories; it keeps no list of names), and the
//! checked-in files must equal what the generator produces today.

#[path = "../testvectors/generate.rs"]
mod generate;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use weightseal::digest::{hex, unhex};
use weightseal::formats::{self, Format};
use weightseal::manifest::{self, tensor_set_digest, BuildOptions, Manifest, Sha256, Tensor};
use weightseal::progress::NoProgress;
use weightseal::tree::{self, ChunkSize, FileTree};
use weightseal::verify::{differing_ranges, ByteRange};
use weightseal::Digest;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testvectors")
}

/// A parsed vector: `key: value` lines; repeated keys keep their order.
struct Vector {
    name: String,
    fields: Vec<(String, String)>,
}

impl Vector {
    fn one(&self, key: &str) -> &str {
        let mut it = self.fields.iter().filter(|(k, _)| k == key);
        let v = it
            .next()
            .unwrap_or_else(|| panic!("{}: no {key:?} line", self.name));
        assert!(it.next().is_none(), "{}: {key:?} given twice", self.name);
        &v.1
    }
    fn opt(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, key: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn num(&self, key: &str) -> u64 {
        self.one(key)
            .parse()
            .unwrap_or_else(|_| panic!("{}: {key} is not a number", self.name))
    }
    fn digest(&self, key: &str) -> Digest {
        Digest::from_hex(self.one(key))
            .unwrap_or_else(|| panic!("{}: {key} is not a digest", self.name))
    }
}

fn load(dir: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    for e in fs::read_dir(root().join(dir)).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "txt") {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&p).unwrap();
        let fields = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("{name}: bad line {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        out.push(Vector { name, fields });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!out.is_empty(), "no vectors in testvectors/{dir}");
    out
}

fn input(v: &Vector) -> Vec<u8> {
    assert_eq!(v.one("input"), "pattern", "{}", v.name);
    generate::pattern(v.num("length"), v.num("seed"))
}

#[test]
fn vectors_are_fresh() {
    let want = generate::generate();
    let mut have = BTreeMap::new();
    let dirs: Vec<String> = fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Every directory has its test below: a new one must get one.
    let mut sorted = dirs.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "attestation",
            "derive",
            "fold",
            "formats",
            "index",
            "log",
            "manifest",
            "policy",
            "tensorset",
            "tree"
        ],
        "a vector directory without a test in tests/vectors.rs"
    );
    for dir in &dirs {
        for e in fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            have.insert(name, fs::read_to_string(&p).unwrap());
        }
    }
    let stale: std::collections::BTreeSet<&String> = want
        .keys()
        .chain(have.keys())
        .filter(|k| want.get(*k) != have.get(*k))
        .collect();
    assert!(
        stale.is_empty(),
        "testvectors/ is stale ({} file(s) differ, e.g. {:?}); run `cargo run --example generate-vectors`",
        stale.len(),
        stale.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn tree_vectors() {
    let vectors = load("tree");
    let mut sizes = std::collections::BTreeSet::new();
    for v in &vectors {
        let data = input(v);
        let cs = ChunkSize::new(v.num("chunk_size")).unwrap();
        sizes.insert(cs.get());
        let expected = FileTree {
            size: v.num("length"),
            root: v.digest("root"),
            chunks: v
                .all("chunk")
                .iter()
                .map(|c| Digest::from_hex(c).unwrap())
                .collect(),
        };
        // The root is the standard BLAKE3 hash (b3sum), independent of weightseal's code.
        assert_eq!(
            expected.root,
            Digest::from(blake3::hash(&data)),
            "{}",
            v.name
        );
        match v.one("expect") {
            "success" => {
                assert_eq!(
                    tree::hash_bytes(&data, cs),
                    expected,
                    "{}: hash_bytes",
                    v.name
                );
                let mut s = tree::TreeHasher::new(cs);
                for piece in data.chunks(1000) {
                    s.update(piece);
                }
                assert_eq!(s.finalize(), expected, "{}: streaming", v.name);
                let mut f = tempfile::tempfile().unwrap();
                f.write_all(&data).unwrap();
                assert_eq!(
                    tree::hash_file(&f, data.len() as u64, cs, &NoProgress).unwrap(),
                    expected,
                    "{}: file",
                    v.name
                );
                if expected.chunks.len() >= 2 {
                    assert_eq!(
                        tree::root_from_chunks(&expected.chunks),
                        Some(expected.root),
                        "{}",
                        v.name
                    );
                }
                for (i, g) in data.chunks(cs.get() as usize).enumerate() {
                    assert_eq!(
                        tree::verify_chunk(cs, &expected, i as u64, g),
                        Ok(()),
                        "{}: chunk {i}",
                        v.name
                    );
                }
            }
            "digest mismatch" => {
                // `tamper:` flips one byte; `resize:` is the same pattern at another length.
                let mut bad = data.clone();
                match v.opt("resize") {
                    Some(_) => bad = generate::pattern(v.num("resize"), v.num("seed")),
                    None => bad[v.num("tamper") as usize] ^= 1,
                }
                let found = tree::hash_bytes(&bad, cs);
                assert_ne!(found.root, expected.root, "{}", v.name);
                let (s, e) = v.one("range").split_once("..").unwrap();
                let want = ByteRange {
                    start: s.parse().unwrap(),
                    end: e.parse().unwrap(),
                };
                assert_eq!(
                    differing_ranges(cs, &expected, &found),
                    vec![want],
                    "{}",
                    v.name
                );
                let (a, b) = (want.start as usize, want.end as usize);
                let index = want.start / cs.get();
                if v.opt("resize").is_some() {
                    continue;
                }
                assert!(
                    matches!(
                        tree::verify_chunk(cs, &expected, index, &bad[a..b]),
                        Err(tree::ChunkError::Mismatch { .. })
                    ),
                    "{}",
                    v.name
                );
            }
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
    assert!(
        sizes.len() >= 2,
        "tree vectors must cover at least two chunk sizes"
    );
}

#[test]
fn manifest_vectors() {
    let vectors = load("manifest");
    let (mut ok, mut bad) = (0, 0);
    for v in &vectors {
        let bytes =
            unhex(v.one("manifest")).unwrap_or_else(|| panic!("{}: manifest is not hex", v.name));
        match v.one("expect") {
            "success" => {
                ok += 1;
                let digest = v.digest("digest");
                assert_eq!(Digest::from(blake3::hash(&bytes)), digest, "{}", v.name);
                let decoded =
                    Manifest::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", v.name));
                assert_eq!(decoded.digest(), digest, "{}", v.name);
                // Build the described directory and hash it: the same bytes must come out.
                let dir = tempfile::tempdir().unwrap();
                for line in v.all("file") {
                    let mut parts = line.splitn(3, ' ');
                    let len: u64 = parts.next().unwrap().parse().unwrap();
                    let seed: u64 = parts.next().unwrap().parse().unwrap();
                    let path = dir.path().join(parts.next().unwrap());
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    fs::write(path, generate::pattern(len, seed)).unwrap();
                }
                for line in v.all("file-hex") {
                    let (path, h) = line.split_once(' ').unwrap();
                    fs::write(dir.path().join(path), unhex(h).unwrap()).unwrap();
                }
                let opts = BuildOptions {
                    chunk_size: ChunkSize::new(v.num("chunk_size")).unwrap(),
                    sha256: if v.one("sha256") == "yes" {
                        Sha256::Record
                    } else {
                        Sha256::Skip
                    },
                    name: Some(v.one("name").to_string()),
                    ..Default::default()
                };
                let built = manifest::build(dir.path(), &opts, &NoProgress)
                    .unwrap()
                    .manifest;
                assert_eq!(
                    hex(&built.encode()),
                    v.one("manifest"),
                    "{}: encoding",
                    v.name
                );
                assert_eq!(built, decoded, "{}", v.name);
            }
            "manifest invalid" => {
                bad += 1;
                let err = Manifest::decode(&bytes).expect_err(&v.name);
                assert_eq!(err.code(), v.one("error"), "{}: got {err}", v.name);
                if let Some(reason) = v.opt("reason") {
                    match &err {
                        manifest::ManifestError::BadPath { reason: r, .. } => {
                            assert_eq!(r.code(), reason, "{}", v.name)
                        }
                        other => panic!("{}: expected a path error, got {other}", v.name),
                    }
                }
            }
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
    assert!(
        ok >= 5 && bad >= 30,
        "too few manifest vectors: {ok} ok, {bad} bad"
    );
}

#[test]
fn index_vectors() {
    let vectors = load("index");
    for v in &vectors {
        let mut files: weightseal::index::FileTensors = std::collections::HashMap::new();
        for line in v.all("file") {
            let (p, t) = line.split_once(' ').unwrap();
            files.insert(p, (t != "-").then(|| t.split(',').collect()));
        }
        let json = unhex(v.one("index")).unwrap();
        let codes: Vec<&str> = weightseal::index::check(v.one("index_path"), &json, &files)
            .iter()
            .map(|p| p.issue.code())
            .collect();
        match v.one("expect") {
            "success" => assert!(codes.is_empty(), "{}: {codes:?}", v.name),
            "index problems" => assert_eq!(codes.join(" "), v.one("problems"), "{}", v.name),
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
}

/// The folding table of `testvectors/fold/table.txt`, read as spec/manifest.md ("Folding
/// table") says, and the folded form computed from it alone.
struct FoldTable {
    upper: std::collections::HashMap<char, Vec<char>>,
    lower: std::collections::HashMap<char, Vec<char>>,
    decomp: std::collections::HashMap<char, Vec<char>>,
    compose: std::collections::HashMap<(char, char), char>,
    ccc: std::collections::HashMap<char, u8>,
    cased: std::collections::HashSet<char>,
    ignorable: std::collections::HashSet<char>,
}

impl FoldTable {
    fn read(v: &Vector) -> FoldTable {
        let cp = |s: &str| char::from_u32(u32::from_str_radix(s, 16).unwrap()).unwrap();
        let range = |s: &str| -> Vec<char> {
            let (a, b) = s.split_once("..").unwrap_or((s, s));
            (cp(a) as u32..=cp(b) as u32)
                .filter_map(char::from_u32)
                .collect()
        };
        let mut t = FoldTable {
            upper: Default::default(),
            lower: Default::default(),
            decomp: Default::default(),
            compose: Default::default(),
            ccc: Default::default(),
            cased: Default::default(),
            ignorable: Default::default(),
        };
        let mut excluded = std::collections::HashSet::new();
        for (k, val) in &v.fields {
            let mut it = val.split(' ');
            let first = it.next().unwrap();
            match k.as_str() {
                "upper" => drop(t.upper.insert(cp(first), it.map(cp).collect())),
                "lower" => drop(t.lower.insert(cp(first), it.map(cp).collect())),
                "decomp" => drop(t.decomp.insert(cp(first), it.map(cp).collect())),
                "ccc" => {
                    let class: u8 = it.next().unwrap().parse().unwrap();
                    t.ccc.extend(range(first).into_iter().map(|c| (c, class)));
                }
                "exclude" => excluded.extend(range(first)),
                "cased" => t.cased.extend(range(first)),
                "ignorable" => t.ignorable.extend(range(first)),
                "expect" | "unicode" => {}
                other => panic!("table: unknown key {other:?}"),
            }
        }
        for (c, d) in &t.decomp {
            if !excluded.contains(c) {
                assert_eq!(d.len(), 2, "table: U+{:04X} composes from one", *c as u32);
                t.compose.insert((d[0], d[1]), *c);
            }
        }
        t
    }

    fn class(&self, c: char) -> u8 {
        self.ccc.get(&c).copied().unwrap_or(0)
    }

    fn decompose(&self, c: char, out: &mut Vec<char>) {
        let s = (c as u32).wrapping_sub(0xAC00);
        if s < 11172 {
            out.push(char::from_u32(0x1100 + s / 588).unwrap());
            out.push(char::from_u32(0x1161 + (s % 588) / 28).unwrap());
            if !s.is_multiple_of(28) {
                out.push(char::from_u32(0x11A7 + s % 28).unwrap());
            }
        } else if let Some(d) = self.decomp.get(&c) {
            for &x in d {
                self.decompose(x, out);
            }
        } else {
            out.push(c);
        }
    }

    fn primary(&self, a: char, b: char) -> Option<char> {
        let (a32, b32) = (a as u32, b as u32);
        if (0x1100..0x1113).contains(&a32) && (0x1161..0x1176).contains(&b32) {
            return char::from_u32(0xAC00 + ((a32 - 0x1100) * 21 + b32 - 0x1161) * 28);
        }
        if (0xAC00..0xD7A4).contains(&a32)
            && (a32 - 0xAC00) % 28 == 0
            && (0x11A8..0x11C3).contains(&b32)
        {
            return char::from_u32(a32 + b32 - 0x11A7);
        }
        self.compose.get(&(a, b)).copied()
    }

    /// UAX #15 NFC: full canonical decomposition, canonical ordering, canonical composition.
    fn nfc(&self, s: &[char]) -> Vec<char> {
        let mut d = Vec::new();
        for &c in s {
            self.decompose(c, &mut d);
        }
        let mut sorted = false;
        while !sorted {
            sorted = true;
            for i in 1..d.len() {
                let (a, b) = (self.class(d[i - 1]), self.class(d[i]));
                if b != 0 && a > b {
                    d.swap(i - 1, i);
                    sorted = false;
                }
            }
        }
        let mut out: Vec<char> = Vec::new();
        let (mut starter, mut last): (Option<usize>, Option<u8>) = (None, None);
        for c in d {
            let cc = self.class(c);
            if let Some(sp) = starter {
                let blocked = last.is_some_and(|l| l == 0 || l >= cc);
                if !blocked {
                    if let Some(p) = self.primary(out[sp], c) {
                        out[sp] = p;
                        continue;
                    }
                }
            }
            if cc == 0 {
                starter = Some(out.len());
                last = None;
            } else {
                last = Some(cc);
            }
            out.push(c);
        }
        out
    }

    fn lowercase(&self, s: &[char]) -> Vec<char> {
        // Skipping case-ignorable characters, is the first one found cased?
        let cased_after = |mut it: Box<dyn Iterator<Item = &char> + '_>| {
            it.find(|c| !self.ignorable.contains(c))
                .is_some_and(|c| self.cased.contains(c))
        };
        let mut out = Vec::new();
        for (i, &c) in s.iter().enumerate() {
            if c == '\u{3a3}' {
                let final_ = cased_after(Box::new(s[..i].iter().rev()))
                    && !cased_after(Box::new(s[i + 1..].iter()));
                out.push(if final_ { '\u{3c2}' } else { '\u{3c3}' });
            } else if let Some(l) = self.lower.get(&c) {
                out.extend(l);
            } else {
                out.push(c);
            }
        }
        out
    }

    fn uppercase(&self, s: &[char]) -> Vec<char> {
        s.iter()
            .flat_map(|c| self.upper.get(c).cloned().unwrap_or_else(|| vec![*c]))
            .collect()
    }

    fn fold(&self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        self.nfc(&self.lowercase(&self.uppercase(&self.nfc(&chars))))
            .into_iter()
            .collect()
    }
}

#[test]
fn fold_vectors() {
    let vectors = load("fold");
    let table = vectors.iter().find(|v| v.one("expect") == "table").unwrap();
    assert_eq!(table.one("unicode"), "17.0.0");
    let t = FoldTable::read(table);
    let mut n = 0;
    for v in &vectors {
        match v.one("expect") {
            "table" => {}
            "success" => {
                n += 1;
                let input = String::from_utf8(unhex(v.one("input")).unwrap()).unwrap();
                let folded = String::from_utf8(unhex(v.one("folded")).unwrap()).unwrap();
                assert_eq!(weightseal::path::fold(&input), folded, "{}", v.name);
                assert_eq!(t.fold(&input), folded, "{}: from the table", v.name);
            }
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
    assert!(n >= 10, "{n} fold vectors");
    // The table alone gives the implementation's folded form of every code point the table
    // names (and of every 64th other one), alone and between a letter and a mark or a sigma.
    let named: std::collections::HashSet<char> = (t.lower.keys())
        .chain(t.decomp.values().flatten())
        .chain(t.decomp.keys())
        .chain(t.ccc.keys())
        .chain(&t.cased)
        .chain(&t.ignorable)
        .copied()
        .collect();
    for c in (0..=0x10FFFFu32)
        .filter_map(char::from_u32)
        .filter(|c| named.contains(c) || (*c as u32).is_multiple_of(64))
    {
        for s in [
            c.to_string(),
            format!("e{c}\u{301}"),
            format!("A{c}\u{3a3}"),
        ] {
            assert_eq!(t.fold(&s), weightseal::path::fold(&s), "{s:?}");
        }
    }
}

#[test]
fn format_vectors() {
    let vectors = load("formats");
    let (mut ok, mut bad) = (0, 0);
    for v in &vectors {
        // `file:`, or `file-run: COUNT HEX` lines (each HEX repeated COUNT times, in order).
        let bytes = match v.opt("file") {
            Some(h) => unhex(h).unwrap(),
            None => v
                .all("file-run")
                .iter()
                .flat_map(|l| {
                    let (n, h) = l.split_once(' ').unwrap();
                    unhex(h).unwrap().repeat(n.parse().unwrap())
                })
                .collect(),
        };
        let format = Format::from_name(v.one("format")).unwrap();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&bytes).unwrap();
        let parsed = formats::parse(&f, bytes.len() as u64, format);
        match v.one("expect") {
            "success" => {
                ok += 1;
                let l = parsed.unwrap_or_else(|e| panic!("{}: {e}", v.name));
                assert_eq!(l.header_len, v.num("header_len"), "{}", v.name);
                let want = v.all("tensor");
                assert_eq!(l.tensors.len(), want.len(), "{}", v.name);
                for (t, line) in l.tensors.iter().zip(want) {
                    let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
                    // The digest is recomputed here from the bytes the range names.
                    let digest =
                        hex(blake3::hash(&bytes[t.start as usize..t.end as usize]).as_bytes());
                    let got = format!(
                        "{} {} [{}] {}..{} {digest}",
                        t.name,
                        t.dtype,
                        shape.join(","),
                        t.start,
                        t.end
                    );
                    assert_eq!(got, line, "{}", v.name);
                }
                let meta: Vec<String> = l
                    .metadata
                    .iter()
                    .map(|m| format!("{} {}", m.key, m.digest))
                    .collect();
                assert_eq!(meta, v.all("metadata"), "{}: metadata", v.name);
            }
            "format invalid" => {
                bad += 1;
                let e = parsed.expect_err(&v.name);
                assert_eq!(e.code(), v.one("error"), "{}: {e}", v.name);
            }
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
    assert!(ok >= 4 && bad >= 20, "{ok} ok, {bad} bad");
}

#[test]
fn tensor_set_vectors() {
    for v in &load("tensorset") {
        assert_eq!(v.one("expect"), "success");
        let tensors: Vec<Tensor> = v
            .all("tensor")
            .iter()
            .map(|line| {
                let p: Vec<&str> = line.split(' ').collect();
                let shape = p[2].trim_matches(|c| c == '[' || c == ']');
                Tensor {
                    name: p[0].to_string(),
                    dtype: p[1].to_string(),
                    shape: if shape.is_empty() {
                        vec![]
                    } else {
                        shape.split(',').map(|x| x.parse().unwrap()).collect()
                    },
                    start: 0,
                    end: 0,
                    digest: Digest::from_hex(p[3]).unwrap(),
                }
            })
            .collect();
        assert_eq!(
            tensor_set_digest(&tensors),
            v.digest("tensor_digest"),
            "{}",
            v.name
        );
        // Order of input does not matter.
        let rev: Vec<Tensor> = tensors.iter().rev().cloned().collect();
        assert_eq!(
            tensor_set_digest(&rev),
            v.digest("tensor_digest"),
            "{}",
            v.name
        );
    }
}

#[test]
fn attestation_vectors() {
    use weightseal::attest::bundle;
    use weightseal::attest::policy::{evaluate, Policy, State, TrustedKey};
    use weightseal::attest::time::Timestamp;
    use weightseal::attest::{PrivateKey, PublicKey};
    let vectors = load("attestation");
    let mut expects = std::collections::BTreeSet::new();
    for v in &vectors {
        let keys: Vec<TrustedKey> = v
            .all("key")
            .iter()
            .map(|line| {
                let p: Vec<&str> = line.split(' ').collect();
                let key = match p[1].split_once(':') {
                    // A key with no seed (a small-order point): taken as given.
                    None if p[1] == "-" => {
                        let raw: [u8; 32] = unhex(p[2]).unwrap().try_into().unwrap();
                        PublicKey::from_bytes(&raw).unwrap()
                    }
                    // ECDSA: ALG:SCALAR and ALG:SEC1-POINT.
                    Some((alg, scalar)) => {
                        let alg = weightseal::attest::keys::Algorithm::from_name(alg).unwrap();
                        let point = p[2].split_once(':').unwrap().1;
                        let key = PublicKey::from_sec1(alg, &unhex(point).unwrap()).unwrap();
                        let private =
                            PrivateKey::from_ecdsa_scalar(alg, &unhex(scalar).unwrap()).unwrap();
                        assert_eq!(private.public(), key, "{}", v.name);
                        key
                    }
                    None => {
                        let seed: [u8; 32] = unhex(p[1]).unwrap().try_into().unwrap();
                        let raw: [u8; 32] = unhex(p[2]).unwrap().try_into().unwrap();
                        let key = PublicKey::from_bytes(&raw).unwrap();
                        // The seed reproduces the public key (RFC 8032).
                        assert_eq!(PrivateKey::from_seed(&seed).public(), key, "{}", v.name);
                        key
                    }
                };
                let window = |field: &str| {
                    p[4..]
                        .iter()
                        .find_map(|w| w.strip_prefix(field))
                        .map(|t| Timestamp::parse(t).unwrap())
                };
                TrustedKey {
                    name: p[0].to_string(),
                    key,
                    roles: p[3].split(',').map(str::to_string).collect(),
                    not_before: window("not_before="),
                    not_after: window("not_after="),
                }
            })
            .collect();
        let thresholds = v
            .all("threshold")
            .iter()
            .map(|l| {
                let (r, t) = l.split_once(' ').unwrap();
                (r.to_string(), t.parse().unwrap())
            })
            .collect();
        let mut policy = Policy::publisher_keys(Vec::new());
        policy.keys = keys;
        policy.thresholds = thresholds;
        if let Some(a) = v.opt("max_age") {
            policy.max_age = Some(Timestamp::parse_duration(a).unwrap());
        }
        if let Some(r) = v.opt("version_roles") {
            policy.version_roles = r.split(',').map(str::to_string).collect();
        }
        if let Some(s) = v.opt("separation_of_duties") {
            policy.separation_of_duties = s.parse().unwrap();
        }
        policy.revoked = v.all("revoked").iter().map(|s| s.to_string()).collect();
        policy.model = v.opt("policy_model").map(str::to_string);
        // `state: -` is a state file in force that records nothing yet.
        let state = v.opt("state").map(|l| match l.split_once(' ') {
            None if l == "-" => State {
                versions: Default::default(),
            },
            None => panic!("{}: state: {l:?}", v.name),
            Some((m, ver)) => State {
                versions: [(m.to_string(), ver.parse().unwrap())].into(),
            },
        });
        // `bundle:` gives the bundle's exact bytes (base64) where a text line cannot hold them.
        let lines = match v.opt("bundle") {
            Some(b) => bundle::parse_bytes(
                &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).unwrap(),
            ),
            None => {
                let text: String = v.all("envelope").iter().map(|e| format!("{e}\n")).collect();
                bundle::parse(&text)
            }
        };
        let now = Timestamp::parse(v.one("now")).unwrap();
        let r = evaluate(
            &policy,
            v.one("model"),
            v.digest("manifest_digest"),
            &lines,
            now,
            state.as_ref(),
        );
        let codes: Vec<&str> = r.attestations.iter().map(|a| a.code.as_str()).collect();
        assert_eq!(
            codes.join(" "),
            v.one("codes"),
            "{}: {:?}",
            v.name,
            r.attestations
        );
        let problems: Vec<&str> = r.problems.iter().map(|p| p.code).collect();
        let want = v.one("problems");
        assert_eq!(
            if problems.is_empty() {
                "none".to_string()
            } else {
                problems.join(" ")
            },
            want,
            "{}",
            v.name
        );
        if let Some(want) = v.opt("version") {
            let got = r.version.map(|x| x.to_string());
            assert_eq!(got.as_deref().unwrap_or("none"), want, "{}", v.name);
        }
        if let Some(want) = v.opt("unmet") {
            let got: Vec<&str> = r
                .roles
                .iter()
                .filter(|x| !x.met)
                .map(|x| x.role.as_str())
                .collect();
            assert_eq!(got.join(" "), want, "{}", v.name);
        }
        let expect = v.one("expect");
        assert_eq!(r.ok, expect == "success", "{}", v.name);
        // The category follows from the codes (spec/attestation.md, "Test vectors"): success
        // when no problem; else "signature invalid" when some attestation failed at steps
        // 1-5 (the envelope, a signature or the statement); else "policy unmet".
        const STEPS_1_TO_5: [&str; 13] = [
            "malformed-envelope",
            "unknown-payload-type",
            "bad-base64",
            "no-signatures",
            "signature-length",
            "duplicate-signature",
            "bad-signature",
            "untrusted",
            "too-many-lines",
            "too-many-signatures",
            "payload-too-large",
            "too-many-trials",
            "bad-statement",
        ];
        let category = if r.problems.is_empty() {
            "success"
        } else if codes.iter().any(|c| STEPS_1_TO_5.contains(c)) {
            "signature invalid"
        } else {
            "policy unmet"
        };
        assert_eq!(category, expect, "{}: the expect rule", v.name);
        if let Some(after) = v.opt("state_after") {
            let (m, ver) = after.split_once(' ').unwrap();
            let before = state.clone().unwrap_or_default();
            let next = if r.ok {
                weightseal::attest::policy::next_state(&before, m, &r)
            } else {
                before
            };
            assert_eq!(
                next.versions.get(m).copied(),
                Some(ver.parse::<u64>().unwrap()),
                "{}",
                v.name
            );
        }
        expects.insert(expect.to_string());
    }
    assert_eq!(
        expects.into_iter().collect::<Vec<_>>(),
        vec!["policy unmet", "signature invalid", "success"]
    );
}

#[test]
fn policy_vectors() {
    use weightseal::attest::Policy;
    let vectors = load("policy");
    assert!(vectors.len() >= 10);
    for v in &vectors {
        // Trust store patterns (spec/attestation.md, "Trust store"): pattern and name folded.
        if let Some(pattern) = v.opt("pattern") {
            let got = weightseal::attest::trust::pattern_matches(
                &weightseal::path::fold(pattern),
                &weightseal::path::fold(v.one("name")),
            );
            let want = match v.one("expect") {
                "match" => true,
                "no match" => false,
                other => panic!("{}: unknown expect {other:?}", v.name),
            };
            assert_eq!(got, want, "{}", v.name);
            continue;
        }
        let text: String = v.all("policy").iter().map(|l| format!("{l}\n")).collect();
        let got = Policy::parse(&text, Path::new("policy.toml"), Path::new("/nonexistent"));
        match v.one("expect") {
            "valid" => {
                let p = got.unwrap_or_else(|e| panic!("{}: {e}", v.name));
                let summary: Vec<String> = p
                    .thresholds
                    .iter()
                    .map(|(r, t)| format!("{r}={t}"))
                    .collect();
                assert_eq!(summary.join(" "), v.one("thresholds"), "{}", v.name);
                let want_keys = v.all("keys");
                if !want_keys.is_empty() {
                    let window = |t: Option<weightseal::attest::time::Timestamp>| {
                        t.map_or("-".to_string(), |t| t.to_string())
                    };
                    let got: Vec<String> = p
                        .keys
                        .iter()
                        .map(|k| {
                            format!(
                                "{} {} {} {}",
                                k.name,
                                k.key.id(),
                                window(k.not_before),
                                window(k.not_after)
                            )
                        })
                        .collect();
                    assert_eq!(got, want_keys, "{}", v.name);
                }
            }
            "policy invalid" => {
                let e = got.err().unwrap_or_else(|| panic!("{}: accepted", v.name));
                assert_eq!(e.code(), v.one("error"), "{}: {e}", v.name);
            }
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
}

#[test]
fn log_vectors() {
    use base64::Engine as _;
    use weightseal::log::{LogEntry, LogPolicy, TlogProof, VerifierKey};
    let b64 = base64::engine::general_purpose::STANDARD;
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    // Re-signs a checkpoint's text with the vector's seeds (the log's Ed25519 note signature,
    // then the witness's cosignature/v1 at `cosigned-at`): the bytes must come back.
    let resign = |v: &Vector, note: &[u8]| {
        use weightseal::log::keys::LogSigner;
        let seed = |k: &str| -> [u8; 32] { unhex(v.one(k)).try_into().unwrap() };
        let log_vkey = VerifierKey::parse(v.one("log-vkey")).unwrap();
        let w_vkey = VerifierKey::parse(v.one("witness-vkey")).unwrap();
        let key =
            |k: &str| std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(&seed(k)));
        let log = LogSigner::log(&log_vkey.name, key("log-seed")).unwrap();
        let w =
            LogSigner::cosigner(&w_vkey.name, key("witness-seed"), v.num("cosigned-at")).unwrap();
        assert_eq!(log.verifier(), &log_vkey, "{}", v.name);
        assert_eq!(w.verifier(), &w_vkey, "{}", v.name);
        let text = signed_note::Note::from_bytes(note).unwrap().text().to_vec();
        let mut n = signed_note::Note::new(&text, &[]).unwrap();
        n.add_sigs(&[&log, &w]).unwrap();
        assert_eq!(n.to_bytes(), note, "{}: re-signed", v.name);
    };
    let vectors = load("log");
    let mut seen = std::collections::BTreeSet::new();
    for v in &vectors {
        let kind = v.one("kind");
        let ok = match v.one("expect") {
            "success" => true,
            "entry invalid" | "proof invalid" | "submission refused" => false,
            other => panic!("{}: expect {other:?}", v.name),
        };
        seen.insert(format!("{kind}/{ok}"));
        match kind {
            "submission" => {
                // spec/log.md, "Submission API", rules 1-3 (no operator keys required).
                let bytes = unhex(v.one("entry"));
                let e = LogEntry::decode(&bytes).unwrap_or_else(|err| panic!("{}: {err}", v.name));
                let stated = match e.stated_versions() {
                    Ok(vs) if vs.is_empty() => "none".to_string(),
                    Ok(vs) => vs.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
                    Err(_) => "invalid".to_string(),
                };
                assert_eq!(stated, v.one("stated-versions"), "{}", v.name);
                let r = LogEntry::admit(&bytes, None, weightseal::attest::time::Timestamp::now());
                if ok {
                    assert_eq!(r.unwrap_or_else(|err| panic!("{}: {err}", v.name)), e);
                } else {
                    let err = r.err().unwrap_or_else(|| panic!("{}: admitted", v.name));
                    assert!(
                        err.to_string().contains(v.one("error")),
                        "{}: {err}",
                        v.name
                    );
                }
            }
            "entry" => {
                let bytes = unhex(v.one("entry"));
                let r = LogEntry::decode(&bytes);
                if !ok {
                    assert!(r.is_err(), "{}: accepted", v.name);
                    continue;
                }
                let e = r.unwrap_or_else(|err| panic!("{}: {err}", v.name));
                assert_eq!(e.encode(), bytes, "{}", v.name);
                let model: String = serde_json::from_str(v.one("model")).unwrap();
                assert_eq!(e.model, model, "{}", v.name);
                assert_eq!(e.manifest, v.digest("manifest"), "{}", v.name);
                assert_eq!(
                    e.version.map(|x| x.to_string()).unwrap_or("none".into()),
                    v.one("version")
                );
                assert_eq!(e.attestations, v.all("attestation"), "{}", v.name);
                assert_eq!(
                    weightseal::digest::hex(&e.leaf_hash().0),
                    v.one("leaf-hash"),
                    "{}",
                    v.name
                );
            }
            "tree" => {
                // The library's log, built from the same entries, has the vector's root.
                let n = v.num("size");
                let d = tempfile::tempdir().unwrap();
                let log = weightseal::log::store::LogDir::new(d.path());
                let key = std::sync::Arc::new(weightseal::attest::PrivateKey::from_seed(&[1; 32]));
                let vk = log.init("example.test/vectors", key.clone()).unwrap();
                let entries: Vec<Vec<u8>> =
                    (0..n).map(|i| generate::log_entry(i).encode()).collect();
                // The vector's leaves are those entries' leaf hashes, so the root below is the
                // library's root of the vector's leaves.
                let leaves: Vec<String> = entries
                    .iter()
                    .map(|e| weightseal::digest::hex(&tlog_tiles::record_hash(e).0))
                    .collect();
                assert_eq!(leaves, v.all("leaf"), "{}", v.name);
                if n > 0 {
                    log.add(key, &entries, &[]).unwrap();
                }
                let (_, cp) = log.checkpoint(&vk).unwrap();
                assert_eq!(
                    weightseal::digest::hex(&cp.hash().0),
                    v.one("root"),
                    "{}",
                    v.name
                );
            }
            "release" => {
                // spec/log.md, "Entry": the entry a writer makes of a bundle, which a log
                // admits as it is.
                let text = String::from_utf8(unhex(v.one("bundle"))).unwrap();
                let model: String = serde_json::from_str(v.one("model")).unwrap();
                let lines = weightseal::attest::bundle::parse(&text);
                let e = LogEntry::of_bundle(&model, v.digest("manifest"), &lines)
                    .unwrap_or_else(|err| panic!("{}: {err}", v.name));
                let bytes = e.encode();
                assert_eq!(hex(&bytes), v.one("entry"), "{}", v.name);
                assert_eq!(
                    weightseal::digest::hex(&e.leaf_hash().0),
                    v.one("leaf-hash"),
                    "{}",
                    v.name
                );
                let raw: Vec<&str> = text.lines().collect();
                let kept: Vec<&str> = match v.one("kept") {
                    "none" => vec![],
                    k => k
                        .split(' ')
                        .map(|n| raw[n.parse::<usize>().unwrap() - 1])
                        .collect(),
                };
                assert_eq!(e.attestations, kept, "{}", v.name);
                assert_eq!(
                    e.version.map_or("none".to_string(), |x| x.to_string()),
                    v.one("version"),
                    "{}",
                    v.name
                );
                let admitted =
                    LogEntry::admit(&bytes, None, weightseal::attest::time::Timestamp::now());
                assert_eq!(admitted.ok().as_ref(), Some(&e), "{}", v.name);
            }
            "proof" => {
                if ok {
                    resign(
                        v,
                        &TlogProof::parse(&b64.decode(v.one("proof")).unwrap())
                            .unwrap()
                            .checkpoint,
                    );
                }
                let policy = LogPolicy::new(
                    VerifierKey::parse(v.one("log-vkey")).unwrap(),
                    vec![VerifierKey::parse(v.one("witness-vkey")).unwrap()],
                    v.num("quorum") as usize,
                )
                .unwrap();
                let model: String = serde_json::from_str(v.one("model")).unwrap();
                let bytes = b64.decode(v.one("proof")).unwrap();
                let r = TlogProof::parse(&bytes)
                    .and_then(|p| p.verify(&policy, &model, v.digest("manifest")));
                assert_eq!(r.is_ok(), ok, "{}: {r:?}", v.name);
            }
            "checkpoint" => {
                let log = VerifierKey::parse(v.one("log-vkey")).unwrap();
                let w = VerifierKey::parse(v.one("witness-vkey")).unwrap();
                let note = b64.decode(v.one("note")).unwrap();
                let (n, _) = weightseal::log::store::open_checkpoint(&note, &log).unwrap();
                let known = signed_note::VerifierList::new(vec![Box::new(w)]);
                assert!(n.verify(&known).is_ok(), "{}", v.name);
                resign(v, &note);
            }
            other => panic!("{}: kind {other:?}", v.name),
        }
    }
    for need in [
        "entry/true",
        "entry/false",
        "tree/true",
        "proof/true",
        "proof/false",
        "checkpoint/true",
        "submission/true",
        "submission/false",
        "release/true",
    ] {
        assert!(seen.contains(need), "no {need} vector");
    }
}

#[test]
fn derive_recipe_and_permute_vectors() {
    use weightseal::derive::{source_row, Recipe};
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    let (mut recipes, mut permutes) = (0, 0);
    for v in load("derive") {
        if v.name.starts_with("recipe-") || v.name.starts_with("bad-recipe-") {
            recipes += 1;
            let text = String::from_utf8(unhex(v.one("recipe"))).unwrap();
            match v.one("expect") {
                "success" => {
                    let r = Recipe::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", v.name));
                    let names: Vec<String> = v
                        .all("tensor")
                        .iter()
                        .map(|t| String::from_utf8(unhex(t)).unwrap())
                        .collect();
                    let names = || names.iter().map(String::as_str);
                    assert_eq!(r.canonical(names()), v.one("canonical"), "{}", v.name);
                    assert_eq!(r.digest(names()), v.digest("digest"), "{}", v.name);
                }
                "recipe invalid" => {
                    let e = Recipe::parse(&text)
                        .err()
                        .unwrap_or_else(|| panic!("{}: accepted", v.name));
                    assert_eq!(e.code(), v.one("error"), "{}: {e}", v.name);
                }
                other => panic!("{}: expect {other:?}", v.name),
            }
        } else if v.name.starts_with("permute-") {
            permutes += 1;
            let (rows, heads) = (v.num("rows"), v.num("heads"));
            let got: Vec<String> = (0..rows)
                .map(|o| source_row(o, rows, heads).to_string())
                .collect();
            assert_eq!(got.join(" "), v.one("order"), "{}", v.name);
        }
    }
    assert!(
        recipes >= 10 && permutes >= 5,
        "{recipes} recipes, {permutes} permutations"
    );
}

/// `derive/kernel-*`: the cast and quantization kernels give `output` for `input` (other
/// `derive/` vectors belong to other tests).
#[test]
fn derive_vectors() {
    use weightseal::derive::float::{cast, Float, NanRule};
    use weightseal::derive::quant::{quantize, Quant};
    let mut n = 0;
    for v in load("derive") {
        if !v.name.starts_with("kernel-") {
            continue;
        }
        assert_eq!(v.one("expect"), "success", "{}", v.name);
        let input = unhex(v.one("input")).unwrap_or_else(|| panic!("{}: input hex", v.name));
        let want = unhex(v.one("output")).unwrap_or_else(|| panic!("{}: output hex", v.name));
        let op: Vec<&str> = v.one("op").split(' ').collect();
        let got = match op.as_slice() {
            ["quantize", t] => {
                let q = Quant::from_name(t).unwrap_or_else(|| panic!("{}: type {t}", v.name));
                assert_eq!(
                    input.len() % (4 * q.block_len()),
                    0,
                    "{}: whole blocks",
                    v.name
                );
                let x: Vec<f32> = input
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let mut out = vec![0u8; x.len() / q.block_len() * q.block_bytes()];
                quantize(q, &x, &mut out);
                out
            }
            ["cast", f, t, rule] => {
                let (from, to) = (Float::from_name(f).unwrap(), Float::from_name(t).unwrap());
                let nan = match *rule {
                    "keep" => NanRule::Keep,
                    "canonical" => NanRule::Canonical,
                    r => panic!("{}: NaN rule {r}", v.name),
                };
                assert_eq!(input.len() % from.size(), 0, "{}: whole values", v.name);
                let mut out = vec![0u8; input.len() / from.size() * to.size()];
                cast(from, to, nan, &input, &mut out);
                out
            }
            _ => panic!("{}: unknown op {:?}", v.name, v.one("op")),
        };
        assert_eq!(hex(&got), hex(&want), "{}", v.name);
        n += 1;
    }
    assert!(n > 0, "no derive/kernel-* vectors");
}

/// `testvectors/README.md` documents every key any vector uses: each directory's section has a
/// `Keys:` line naming them (each in backticks), and a vector using a key its directory's line
/// does not name fails here, as does a directory without a section.
#[test]
fn every_vector_key_is_documented() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let mut documented: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut described: BTreeMap<String, String> = BTreeMap::new();
    let mut section: Option<String> = None;
    for line in readme.lines() {
        if let Some(rest) = line.strip_prefix("## `") {
            section = rest.split_once("/`").map(|(d, _)| d.to_string());
        } else if let (Some(d), Some(keys)) = (&section, line.strip_prefix("Keys: ")) {
            documented
                .entry(d.clone())
                .or_default()
                .extend(keys.split('`').skip(1).step_by(2).map(str::to_string));
        } else if let Some(d) = &section {
            let text = described.entry(d.clone()).or_default();
            text.push_str(line);
            text.push('\n');
        }
    }
    // Every key a `Keys:` line names is described in its section's text, not only listed.
    for (dir, keys) in &documented {
        for k in keys {
            assert!(
                described[dir].contains(&format!("`{k}")),
                "testvectors/README.md: {dir}/ lists the key {k:?} but its text does not describe it"
            );
        }
    }
    let mut dirs = 0;
    for e in fs::read_dir(root()).unwrap() {
        let p = e.unwrap().path();
        if !p.is_dir() {
            continue;
        }
        let dir = p.file_name().unwrap().to_string_lossy().into_owned();
        let keys = documented
            .get(&dir)
            .unwrap_or_else(|| panic!("testvectors/README.md has no `Keys:` line for {dir}/"));
        for v in load(&dir) {
            for (k, _) in &v.fields {
                assert!(
                    keys.contains(k),
                    "testvectors/{dir}/{}: the key {k:?} is not documented (README.md, the `Keys:` line of {dir}/)",
                    v.name
                );
            }
        }
        dirs += 1;
    }
    assert!(dirs >= 8, "{dirs} vector directories");
}
