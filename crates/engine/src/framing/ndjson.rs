//! Newline-delimited JSON framing (Ollama): bytes in, complete lines out. One leading UTF-8 BOM
//! is stripped, as for SSE.

use crate::framing::sse::ByteOrderMark;

#[derive(Debug, Default)]
pub struct NdjsonDecoder {
    buffer: Vec<u8>,
    start: ByteOrderMark,
}

impl NdjsonDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds raw bytes; each complete non-blank line (without its `\n` or `\r\n`) goes to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<String>) {
        let bytes = self.start.strip(bytes);
        let mut line_start = self.buffer.len();
        self.buffer.extend_from_slice(&bytes);
        let mut start = 0;
        while let Some(offset) = self.buffer[line_start..].iter().position(|&byte| byte == b'\n') {
            let end = line_start + offset;
            push_line(&self.buffer[start..end], out);
            start = end + 1;
            line_start = start;
        }
        self.buffer.drain(..start);
    }

    /// Ends the stream; a last line without its newline is still delivered.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        let held = self.start.finish();
        self.buffer.extend_from_slice(held);
        let rest = std::mem::take(&mut self.buffer);
        push_line(&rest, out);
    }
}

fn push_line(line: &[u8], out: &mut Vec<String>) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().any(|byte| !byte.is_ascii_whitespace()) {
        // `from_utf8` validates a word at a time; the lossy reading only for a line that needs it.
        out.push(match std::str::from_utf8(line) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(line).into_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `body`, fed in two pieces split at every byte boundary: the same each time.
    fn lines_however_split(body: &str) -> Vec<String> {
        let bytes = body.as_bytes();
        let mut first = None;
        for cut in 0..=bytes.len() {
            let mut decoder = NdjsonDecoder::new();
            let mut out = Vec::new();
            decoder.feed(&bytes[..cut], &mut out);
            decoder.feed(&bytes[cut..], &mut out);
            decoder.finish(&mut out);
            assert_eq!(first.get_or_insert_with(|| out.clone()), &out, "cut at {cut}");
        }
        first.unwrap_or_default()
    }

    #[test]
    fn splits_anywhere_including_inside_utf8() {
        let body = "{\"a\":\"\u{1f60a}\"}\n\r\n{\"b\":2}\r\n{\"c\":3}";
        assert_eq!(
            lines_however_split(body),
            ["{\"a\":\"\u{1f60a}\"}", "{\"b\":2}", "{\"c\":3}"]
        );
    }

    #[test]
    fn a_leading_byte_order_mark_is_stripped() {
        assert_eq!(
            lines_however_split("\u{feff}{\"a\":1}\n{\"b\":2}"),
            ["{\"a\":1}", "{\"b\":2}"]
        );
    }
}
