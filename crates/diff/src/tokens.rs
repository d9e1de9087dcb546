//! Texts cut into tokens and interned to `u32` ids, so diffs compare integers, not strings.
//!
//! Words mode cuts at Unicode word boundaries (UAX #29): a word, a run of spaces, one punctuation
//! mark, one CJK ideograph, one emoji sequence each make a token. Whitespace is kept beside the
//! token it precedes rather than matched on its own: spaces are in every text, and matching them
//! would make unrelated answers look half alike (and slow the diff down).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

/// A text as the diff sees it: tokens (ids and where they are), each with the whitespace before
/// it, and the whitespace at the end.
pub(super) struct Tokens<'t> {
    pub source: &'t str,
    pub ids: Vec<u32>,
    /// Byte range of each token in `source`.
    pub spans: Vec<Range<usize>>,
    /// Byte offset where the whitespace before each token starts (it ends at the token).
    pub whitespace_starts: Vec<usize>,
    /// Byte offset of the whitespace after the last token (it ends at the end of `source`).
    pub trailing_whitespace: usize,
}

impl<'t> Tokens<'t> {
    pub fn token(&self, index: usize) -> &'t str {
        &self.source[self.spans[index].clone()]
    }

    pub fn whitespace_before(&self, index: usize) -> &'t str {
        &self.source[self.whitespace_starts[index]..self.spans[index].start]
    }

    pub fn trailing_whitespace(&self) -> &'t str {
        &self.source[self.trailing_whitespace..]
    }

    /// Tokens `range` with the whitespace before each, as one slice of the source.
    pub fn text_of(&self, range: Range<usize>) -> &'t str {
        match (range.start < range.end).then(|| (self.whitespace_starts[range.start], self.spans[range.end - 1].end)) {
            Some((start, end)) => &self.source[start..end],
            None => "",
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

/// FxHash (rustc's): tokens are short and not attacker-chosen in a way that matters here, and
/// SipHash would be a fifth of the whole diff's time.
#[derive(Default)]
pub(super) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Gives each distinct string one id, shared by every text interned with it.
#[derive(Default)]
pub(super) struct Interner<'t> {
    ids: HashMap<&'t str, u32, BuildHasherDefault<FxHasher>>,
}

impl<'t> Interner<'t> {
    pub fn intern(&mut self, text: &'t str) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        *self.ids.entry(text).or_insert(next)
    }

    /// How many distinct strings have ids: every id is below this.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// `text` cut at Unicode word boundaries, whitespace set aside.
    pub fn words(&mut self, text: &'t str) -> Tokens<'t> {
        let mut tokens = Tokens {
            source: text,
            ids: Vec::new(),
            spans: Vec::new(),
            whitespace_starts: Vec::new(),
            trailing_whitespace: 0,
        };
        let mut whitespace_start = 0;
        for (start, piece) in text.split_word_bound_indices() {
            if piece.chars().all(char::is_whitespace) {
                continue;
            }
            tokens.ids.push(self.intern(piece));
            tokens.spans.push(start..start + piece.len());
            tokens.whitespace_starts.push(whitespace_start);
            whitespace_start = start + piece.len();
        }
        tokens.trailing_whitespace = whitespace_start;
        tokens
    }

    /// One id per line, line endings (`\n`, `\r\n`) not part of it.
    pub fn lines(&mut self, text: &'t str) -> Vec<u32> {
        lines(text).map(|line| self.intern(line)).collect()
    }
}

/// The lines of `text` without their endings; a final line ending starts no empty line.
pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n').map(|line| {
        let line = line.strip_suffix('\n').unwrap_or(line);
        line.strip_suffix('\r').unwrap_or(line)
    })
}

#[cfg(test)]
mod tests {
    use super::Interner;

    fn words(text: &str) -> Vec<String> {
        let mut interner = Interner::default();
        let tokens = interner.words(text);
        (0..tokens.len()).map(|index| tokens.token(index).to_owned()).collect()
    }

    #[test]
    fn cuts_at_unicode_word_boundaries() {
        assert_eq!(
            words("Crème brûlée, s'il vous plaît!"),
            ["Crème", "brûlée", ",", "s'il", "vous", "plaît", "!"]
        );
        // Ideographs are one token each; kana runs and emoji sequences stay whole.
        assert_eq!(words("東京は晴れ"), ["東", "京", "は", "晴", "れ"]);
        assert_eq!(words("hi 👩‍👩‍👧 there 👍🏽"), ["hi", "👩‍👩‍👧", "there", "👍🏽"]);
    }

    #[test]
    fn keeps_whitespace_beside_the_next_token() {
        let mut interner = Interner::default();
        let tokens = interner.words("  a \n\tb  ");
        assert_eq!(tokens.whitespace_before(0), "  ");
        assert_eq!(tokens.whitespace_before(1), " \n\t");
        assert_eq!(tokens.trailing_whitespace(), "  ");
        assert_eq!(tokens.text_of(0..2), "  a \n\tb");
    }

    #[test]
    fn same_strings_share_an_id_across_texts() {
        let mut interner = Interner::default();
        let first = interner.words("the cat");
        let second = interner.words("the dog");
        assert_eq!(first.ids[0], second.ids[0]);
        assert_ne!(first.ids[1], second.ids[1]);
        assert_eq!(interner.len(), 3);
        assert_eq!(interner.lines("x\r\ny\n"), [3, 4]);
    }
}
