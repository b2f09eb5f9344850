//! The small part of CBOR (RFC 8949) that manifests use, read and written without an
//! intermediate value tree.
//!
//! Reading: after the structural pass of the manifest decoder has checked every head, length
//! and UTF-8 string, an [`Item`] is a *view* into the input: arrays and maps are walked lazily,
//! one item at a time, so a decoder that meets an item of the wrong type stops there, having
//! allocated nothing for the rest. Memory never depends on a count the input declares, only on
//! the values actually accepted. Writing: [`Writer`] emits canonical (shortest-form,
//! definite-length) heads directly into a byte vector.

/// A CBOR item inside a checked input: unsigned integers, byte and text strings, arrays and
/// maps. Other major types never get here (the structural pass rejects them).
#[derive(Clone, Copy, Debug)]
pub enum Item<'a> {
    Uint(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(Seq<'a>),
    Map(Seq<'a>),
}

impl Item<'_> {
    /// "an integer", "a map", … for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Uint(_) => "an integer",
            Item::Bytes(_) => "a byte string",
            Item::Text(_) => "a text string",
            Item::Array(_) => "an array",
            Item::Map(_) => "a map",
        }
    }
}

/// The items of an array, or the keys and values of a map (alternating), not yet read.
#[derive(Clone, Copy, Debug)]
pub struct Seq<'a> {
    input: &'a [u8],
    /// Offset of the first item.
    start: usize,
    /// Items in an array; key-value pairs in a map.
    len: u64,
}

impl<'a> Seq<'a> {
    /// Declared number of items (arrays) or pairs (maps). Never use it to size an
    /// allocation: it is what the input claims.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items, in order (for a map: key, value, key, value, …).
    pub fn items(&self, pairs: bool) -> Items<'a> {
        Items {
            input: self.input,
            pos: self.start,
            left: if pairs {
                self.len.saturating_mul(2)
            } else {
                self.len
            },
        }
    }
}

/// A lazy iterator over the items of a [`Seq`]. Yields `Err(offset)` where the input is not
/// what the structural pass promised (which it never is for checked input).
pub struct Items<'a> {
    input: &'a [u8],
    pos: usize,
    left: u64,
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, usize>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.pos;
        let r = read_item(self.input, start).map(|(item, end)| {
            self.pos = end;
            item
        });
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

/// One head: (major type, argument, offset after the head).
fn head(b: &[u8], pos: usize) -> Result<(u8, u64, usize), usize> {
    let first = *b.get(pos).ok_or(pos)?;
    let (major, ai) = (first >> 5, first & 0x1f);
    let width = match ai {
        0..=23 => return Ok((major, ai as u64, pos + 1)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return Err(pos),
    };
    let bytes = b.get(pos + 1..pos + 1 + width).ok_or(pos)?;
    let arg = bytes.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64);
    Ok((major, arg, pos + 1 + width))
}

/// Reads the item at `pos`: returns it and the offset just past it (its whole subtree).
pub fn read_item(b: &[u8], pos: usize) -> Result<(Item<'_>, usize), usize> {
    let (major, arg, after) = head(b, pos)?;
    match major {
        0 => Ok((Item::Uint(arg), after)),
        2 | 3 => {
            let end = usize::try_from(arg)
                .ok()
                .and_then(|n| after.checked_add(n))
                .filter(|&e| e <= b.len())
                .ok_or(pos)?;
            let raw = &b[after..end];
            let item = if major == 2 {
                Item::Bytes(raw)
            } else {
                Item::Text(std::str::from_utf8(raw).map_err(|_| pos)?)
            };
            Ok((item, end))
        }
        4 | 5 => {
            let seq = Seq {
                input: b,
                start: after,
                len: arg,
            };
            let end = skip_items(
                b,
                after,
                if major == 5 {
                    arg.saturating_mul(2)
                } else {
                    arg
                },
            )?;
            Ok((
                if major == 4 {
                    Item::Array(seq)
                } else {
                    Item::Map(seq)
                },
                end,
            ))
        }
        _ => Err(pos),
    }
}

/// The offset after `count` items starting at `pos` (iterative: no recursion on input depth).
fn skip_items(b: &[u8], mut pos: usize, count: u64) -> Result<usize, usize> {
    let mut pending: Vec<u64> = vec![count];
    while let Some(top) = pending.last_mut() {
        if *top == 0 {
            pending.pop();
            continue;
        }
        *top -= 1;
        let (major, arg, after) = head(b, pos)?;
        pos = after;
        match major {
            0 => {}
            2 | 3 => {
                pos = usize::try_from(arg)
                    .ok()
                    .and_then(|n| pos.checked_add(n))
                    .filter(|&e| e <= b.len())
                    .ok_or(pos)?;
            }
            4 => pending.push(arg),
            5 => pending.push(arg.saturating_mul(2)),
            _ => return Err(pos),
        }
        if pending.len() > 64 {
            return Err(pos);
        }
    }
    Ok(pos)
}

/// Writes canonical CBOR: shortest heads, definite lengths.
#[derive(Default)]
pub struct Writer {
    pub out: Vec<u8>,
}

impl Writer {
    pub fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if arg < 24 {
            self.out.push(m | arg as u8);
        } else if arg <= 0xff {
            self.out.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= 0xffff {
            self.out.push(m | 25);
            self.out.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= 0xffff_ffff {
            self.out.push(m | 26);
            self.out.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.out.push(m | 27);
            self.out.extend_from_slice(&arg.to_be_bytes());
        }
    }

    pub fn uint(&mut self, v: u64) {
        self.head(0, v);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.head(2, b.len() as u64);
        self.out.extend_from_slice(b);
    }

    pub fn text(&mut self, s: &str) {
        self.head(3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    pub fn array(&mut self, len: usize) {
        self.head(4, len as u64);
    }

    pub fn map(&mut self, pairs: usize) {
        self.head(5, pairs as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_shortest_heads() {
        let mut w = Writer::default();
        for v in [0u64, 23, 24, 255, 256, 65535, 65536, u32::MAX as u64 + 1] {
            w.uint(v);
        }
        assert_eq!(
            w.out,
            [
                0x00, 0x17, 0x18, 0x18, 0x18, 0xff, 0x19, 0x01, 0x00, 0x19, 0xff, 0xff, 0x1a, 0x00,
                0x01, 0x00, 0x00, 0x1b, 0, 0, 0, 1, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn reads_lazily_and_skips_subtrees() {
        let mut w = Writer::default();
        w.array(3);
        w.map(1);
        w.text("k");
        w.array(2);
        w.uint(1);
        w.bytes(b"xy");
        w.text("after");
        w.uint(7);
        let (item, end) = read_item(&w.out, 0).unwrap();
        assert_eq!(end, w.out.len());
        let Item::Array(s) = item else { panic!() };
        let items: Vec<Item> = s.items(false).map(Result::unwrap).collect();
        assert!(matches!(items[0], Item::Map(m) if m.len() == 1));
        assert!(matches!(items[1], Item::Text("after")));
        assert!(matches!(items[2], Item::Uint(7)));
    }

    #[test]
    fn a_declared_count_beyond_the_input_is_an_error_not_an_allocation() {
        // An array that claims 2^32 items, with one present.
        let b = [0x9a, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(read_item(&b, 0).is_err());
    }
}
