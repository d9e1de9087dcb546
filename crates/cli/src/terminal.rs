//! The one gate between what the CLI prints and the terminal: control characters are shown,
//! never obeyed.
//!
//! Answers, cloud error messages, response headers and search snippets come from the network,
//! and a model (or a prompt injection in what it read) can emit escape sequences that set the
//! window title (OSC 0), write the clipboard (OSC 52), plant disguised links (OSC 8), clear the
//! screen (CSI 2J) or overwrite earlier lines (`\r\x1b[K`) to fake output. Every byte the CLI
//! writes to stdout and stderr passes through [`Sanitized`]: C0 controls other than `\n` and `\t`
//! become their visible Control Pictures (`\x1b` shows as `␛`, `\r` as `␍`), DEL and the C1
//! controls become `\u007f`…`\u009f` (which is also what JSON would write, so `--json` output
//! stays valid JSON). The database and files written with `export -o` keep the bytes verbatim.
//!
//! The CLI's own styling (the colours of `diff`) is written with [`Sanitized::write_styled`],
//! after the text inside it went through [`neutralise`].
//!
//! Left out: other Unicode that can mislead a reader (bidirectional overrides); they move text
//! but cannot command the terminal.

use std::borrow::Cow;
use std::io::{self, Write};

/// `text` with every control character but `\n` and `\t` replaced by a visible stand-in.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_replacing) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        match stand_in(character) {
            Some(replacement) => out.push_str(&replacement),
            None => out.push(character),
        }
    }
    Cow::Owned(out)
}

fn needs_replacing(character: char) -> bool {
    character.is_control() && !matches!(character, '\n' | '\t')
}

/// The visible stand-in for a control character, or `None` if it may be printed.
fn stand_in(character: char) -> Option<String> {
    if !needs_replacing(character) {
        return None;
    }
    let code = u32::from(character);
    Some(match char::from_u32(0x2400 + code) {
        // C0: U+2400 CONTROL PICTURE FOR NULL onwards, one column like the character it stands for.
        Some(picture) if code < 0x20 => picture.to_string(),
        // DEL and C1 have no pictures that read well; JSON's escape is unambiguous.
        _ => format!("\\u{code:04x}"),
    })
}

/// A writer that neutralises control characters in everything written through it (see the
/// module docs). Works on bytes, so a UTF-8 character split across two writes is still seen.
pub struct Sanitized<W: Write> {
    inner: W,
    /// The lead byte of a two-byte UTF-8 character whose second byte has not arrived yet.
    pending: Option<u8>,
}

impl<W: Write> Sanitized<W> {
    pub fn new(inner: W) -> Self {
        Self { inner, pending: None }
    }

    /// Writes the CLI's own styled text as is. Whatever it holds from elsewhere must have been
    /// through [`neutralise`].
    pub fn write_styled(&mut self, text: &str) -> io::Result<()> {
        self.flush_pending()?;
        self.inner.write_all(text.as_bytes())
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        if let Some(byte) = self.pending.take() {
            self.inner.write_all(&[byte])?;
        }
        Ok(())
    }
}

/// The UTF-8 lead byte of U+0080..=U+00BF; the C1 controls are U+0080..=U+009F.
const C1_LEAD: u8 = 0xC2;

impl<W: Write> Write for Sanitized<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buffer.len());
        let mut bytes = buffer.iter().copied().peekable();
        let mut lead = self.pending.take();
        loop {
            let byte = match lead.take() {
                Some(byte) => byte,
                None => match bytes.next() {
                    Some(byte) => byte,
                    None => break,
                },
            };
            if byte == C1_LEAD {
                match bytes.peek().copied() {
                    None => {
                        self.pending = Some(byte);
                        break;
                    }
                    // U+0080..=U+009F are 0xC2 0x80..=0xC2 0x9F: the second byte is the code point.
                    Some(next @ 0x80..=0x9F) => {
                        bytes.next();
                        out.extend_from_slice(format!("\\u{:04x}", u32::from(next)).as_bytes());
                        continue;
                    }
                    Some(_) => {}
                }
            }
            match stand_in(char::from(byte)).filter(|_| byte < 0x80) {
                Some(replacement) => out.extend_from_slice(replacement.as_bytes()),
                None => out.push(byte),
            }
        }
        self.inner.write_all(&out)?;
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Sanitized<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Standard output, sanitized.
pub fn stdout() -> Stdout {
    Stdout(io::stdout())
}

/// Standard error, sanitized (also the writer of log lines).
pub fn stderr() -> Sanitized<io::Stderr> {
    Sanitized::new(io::stderr())
}

pub struct Stdout(io::Stdout);

impl Stdout {
    pub fn lock(&self) -> Sanitized<io::StdoutLock<'static>> {
        Sanitized::new(self.0.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACKS: &str = "a\x1b]0;pwned\x07 b\x1b[2J\x1b[H c\x1b]8;;http://evil/\x1b\\x\x1b]8;;\x1b\\ \
                           d\x1b]52;c;Y2FsYw==\x07 e\r\x1b[Kfake\u{9b}31m\u{7f}\u{85} ok\n\tnext é ü";

    fn forbidden(text: &str) -> Option<char> {
        text.chars().find(|&character| needs_replacing(character))
    }

    #[test]
    fn controls_are_shown_not_obeyed() {
        let shown = neutralise(ATTACKS);
        assert_eq!(forbidden(&shown), None, "{shown}");
        assert!(shown.contains("a␛]0;pwned␇ b␛[2J␛[H"), "{shown}");
        assert!(
            shown.contains("e␍␛[Kfake\\u009b31m\\u007f\\u0085 ok\n\tnext é ü"),
            "{shown}"
        );
        assert!(matches!(neutralise("plain\ttext\né"), Cow::Borrowed(_)));
        assert_eq!(neutralise(&shown), shown, "neutralising twice changes nothing");
    }

    #[test]
    fn the_writer_agrees_with_neutralise_however_the_bytes_are_split() {
        let bytes = ATTACKS.as_bytes();
        for piece in 1..=bytes.len() {
            let mut writer = Sanitized::new(Vec::new());
            for chunk in bytes.chunks(piece) {
                writer.write_all(chunk).expect("write");
            }
            writer.flush().expect("flush");
            let written = std::mem::take(&mut writer.inner);
            assert_eq!(
                String::from_utf8(written).expect("utf8"),
                neutralise(ATTACKS),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn json_stays_json() {
        let value = serde_json::json!({"text": ATTACKS});
        let mut writer = Sanitized::new(Vec::new());
        serde_json::to_writer_pretty(&mut writer, &value).expect("write");
        writer.flush().expect("flush");
        let written = std::mem::take(&mut writer.inner);
        let parsed: serde_json::Value = serde_json::from_slice(&written).expect("still JSON");
        assert_eq!(parsed, value, "and the same value");
        assert_eq!(forbidden(&String::from_utf8(written).expect("utf8")), None);
    }

    #[test]
    fn styled_text_passes() {
        let mut writer = Sanitized::new(Vec::new());
        writer.write_styled("\x1b[32mgreen\x1b[0m").expect("write");
        writer.write_all(b"\x1b").expect("write");
        writer.flush().expect("flush");
        assert_eq!(std::mem::take(&mut writer.inner), "\x1b[32mgreen\x1b[0m␛".as_bytes());
    }
}
