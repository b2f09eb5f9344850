//! The attestation bundle of a release: `weightseal.intoto.jsonl`, one DSSE envelope per line
//! (the in-toto bundle convention). Signing appends a line; reading keeps each line's own
//! parse result so one bad line does not hide the others.

use std::path::{Path, PathBuf};

use super::dsse::{DsseError, Envelope};

/// Largest bundle read.
pub const MAX_BUNDLE_LEN: u64 = 64 << 20;
/// Most envelopes read from one bundle; lines beyond are refused as one.
pub const MAX_BUNDLE_LINES: usize = 1024;

/// One non-empty line of a bundle.
#[derive(Clone, Debug)]
pub struct BundleLine {
    /// 1-based line number.
    pub line: usize,
    /// The line as it appears in the bundle, without its line ending (the `\n` and a `\r`
    /// before it): what a log entry records (spec/log.md, "Entry").
    pub text: String,
    pub envelope: Result<Envelope, DsseError>,
}

/// Why a bundle could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read attestations {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("attestations {}: {len} bytes, more than the {MAX_BUNDLE_LEN} allowed", path.display())]
    TooLarge { path: PathBuf, len: u64 },
}

/// Parses bundle text: at most [`MAX_BUNDLE_LINES`] envelopes; if there are more, one more
/// line reports the rest as refused.
pub fn parse(text: &str) -> Vec<BundleLine> {
    parse_bytes(text.as_bytes())
}

/// Parses a bundle's bytes as [`parse`] does text. A line that is not UTF-8 is
/// `malformed-envelope`, judged on its own as any other bad line (spec/attestation.md,
/// "Lines"): it does not hide the other lines.
pub fn parse_bytes(bytes: &[u8]) -> Vec<BundleLine> {
    let mut out = Vec::new();
    // Lines end at "\n" or "\r\n"; a blank line holds only spaces and tabs
    // (spec/attestation.md, "Lines"). Any other line is judged as it is: JSON allows spaces,
    // tabs and CRs around the object, nothing else.
    let ends_with_lf = bytes.ends_with(b"\n");
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if ends_with_lf {
        // The piece after the last line ending is no line.
        pieces.pop();
    }
    let count = pieces.len();
    for (i, l) in pieces.into_iter().enumerate() {
        // A CR just before a LF belongs to the line ending; a CR at the very end of the
        // bundle, with no LF after it, belongs to the line.
        let followed_by_lf = i + 1 < count || ends_with_lf;
        let l = match l.strip_suffix(b"\r") {
            Some(rest) if followed_by_lf => rest,
            _ => l,
        };
        if l.iter().all(|&b| b == b' ' || b == b'\t') {
            continue;
        }
        if out.len() == MAX_BUNDLE_LINES {
            out.push(BundleLine {
                line: i + 1,
                text: String::from_utf8_lossy(l).into_owned(),
                envelope: Err(DsseError::TooManyLines {
                    max: MAX_BUNDLE_LINES,
                }),
            });
            break;
        }
        out.push(BundleLine {
            line: i + 1,
            // The line as written, without its line ending (a line that is not UTF-8 is
            // malformed and never recorded anywhere, so its lossy text is only shown).
            text: String::from_utf8_lossy(l).into_owned(),
            envelope: match std::str::from_utf8(l) {
                Ok(text) => Envelope::parse(text),
                Err(e) => Err(DsseError::Json(format!(
                    "the line is not UTF-8 (byte {})",
                    e.valid_up_to() + 1
                ))),
            },
        });
    }
    out
}

/// Reads a bundle file; a missing file is an empty bundle.
pub fn read(path: &Path) -> Result<Vec<BundleLine>, BundleError> {
    let io = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A regular file only (a named pipe is refused, never waited on), at most the bound.
    let b = match crate::fsutil::read_regular(path, MAX_BUNDLE_LEN) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return Err(BundleError::TooLarge {
                path: path.to_path_buf(),
                len: std::fs::metadata(path)
                    .map(|m| m.len())
                    .unwrap_or(MAX_BUNDLE_LEN + 1),
            })
        }
        Err(e) => return Err(io(e)),
    };
    Ok(parse_bytes(&b))
}

/// The bundle text with `envelope` appended as a new line.
pub fn appended(existing: &str, envelope: &Envelope) -> String {
    let mut s = existing.to_string();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&envelope.to_line());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_utf8_is_one_bad_line() {
        let key = crate::attest::PrivateKey::from_seed(&[0x11; 32]);
        let line = Envelope::sign(b"{}", &key).to_line();
        let mut bytes = line.clone().into_bytes();
        bytes.extend_from_slice(b"\n\xff\xfe\r\n\r");
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r");
        let got: Vec<(usize, Result<(), &'static str>)> = parse_bytes(&bytes)
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.envelope.as_ref().map(|_| ()).map_err(|e| e.code()),
                )
            })
            .collect();
        // A CR at the very end (no LF after it) belongs to the line: JSON whitespace.
        assert_eq!(
            got,
            vec![(1, Ok(())), (2, Err("malformed-envelope")), (3, Ok(()))]
        );
    }

    #[test]
    fn blank_lines_are_spaces_and_tabs_only_and_crlf_is_a_line_ending() {
        let key = crate::attest::PrivateKey::from_seed(&[0x11; 32]);
        let line = Envelope::sign(b"{}", &key).to_line();
        let text = format!(" \t\r\n{line}\r\n\r\n\u{a0}\n\r\r\n {line} \n");
        let got: Vec<(usize, Result<(), &'static str>)> = parse(&text)
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.envelope.as_ref().map(|_| ()).map_err(|e| e.code()),
                )
            })
            .collect();
        // Line 1 (spaces and a tab) and line 3 (CRLF alone) are blank; a no-break space and a
        // lone CR are not blank and not JSON; spaces around an envelope are JSON whitespace.
        assert_eq!(
            got,
            vec![
                (2, Ok(())),
                (4, Err("malformed-envelope")),
                (5, Err("malformed-envelope")),
                (6, Ok(()))
            ]
        );
    }
}
