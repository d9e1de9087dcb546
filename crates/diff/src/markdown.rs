//! Markdown formatting taken out, so two answers that say the same thing in different dress
//! compare equal in normalized mode.
//!
//! This is not a Markdown parser: it removes the marks models vary most between runs and clouds
//! (emphasis, headings, bullets and numbering, quotes, code fences and backticks, link syntax,
//! rules, backslash escapes) line by line. Tables and HTML are left as they are. Whitespace is
//! not touched here: normalized mode ignores whitespace differences when it compares tokens.

use super::tokens::lines;

/// `text` without its Markdown formatting: link and image syntax becomes the link text or alt
/// text, list markers of any style and numbering go, and so do fence lines, rules, heading hashes,
/// quote markers, backticks, emphasis and strikethrough markers (`*`, `_` not inside a word,
/// `~~`), and the backslashes of escapes. Lines stay lines.
pub fn normalize_markdown(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    for line in lines(text) {
        let Some(content) = line_content(line) else {
            continue;
        };
        if !normalized.is_empty() {
            normalized.push('\n');
        }
        let characters: Vec<char> = content.chars().collect();
        inline(&characters, &mut normalized);
    }
    normalized
}

/// The line without its block markers, or `None` for a line that is only formatting.
fn line_content(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    if rest.starts_with("```") || rest.starts_with("~~~") || is_rule(rest) || is_link_definition(rest) {
        return None;
    }
    while let Some(quoted) = rest.strip_prefix('>') {
        rest = quoted.trim_start();
    }
    let hashes = rest.chars().take_while(|&character| character == '#').count();
    if (1..=6).contains(&hashes) && rest[hashes..].chars().next().is_none_or(char::is_whitespace) {
        rest = rest[hashes..].trim_start();
        // A closing sequence of hashes: `## Title ##`.
        rest = rest.trim_end().trim_end_matches('#').trim_end();
    }
    Some(strip_list_marker(rest))
}

/// `---`, `***`, `___` (thematic breaks) and `===` (setext underlines), spaces allowed between.
fn is_rule(line: &str) -> bool {
    let marks: Vec<char> = line.chars().filter(|character| !character.is_whitespace()).collect();
    marks.len() >= 3
        && ['-', '*', '_', '=']
            .iter()
            .any(|&mark| marks.iter().all(|&character| character == mark))
}

/// `[label]: https://…`, a reference link's target.
fn is_link_definition(line: &str) -> bool {
    line.starts_with('[') && line.find("]:").is_some_and(|end| !line[1..end].contains(['[', ']']))
}

/// Removes `-`, `*`, `+`, `1.` or `1)` (and a task box `[ ]`/`[x]`) at the start of a line.
fn strip_list_marker(line: &str) -> &str {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let marker = if line.starts_with(['-', '*', '+']) {
        1
    } else if (1..=9).contains(&digits) && line[digits..].starts_with(['.', ')']) {
        digits + 1
    } else {
        return line;
    };
    let rest = &line[marker..];
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return line;
    }
    let rest = rest.trim_start();
    for task in ["[ ]", "[x]", "[X]"] {
        if let Some(after) = rest.strip_prefix(task) {
            return after.trim_start();
        }
    }
    rest
}

/// Appends `characters` to `out` without inline formatting.
fn inline(characters: &[char], out: &mut String) {
    let at = |index: usize| characters.get(index).copied();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        match character {
            '\\' if at(index + 1).is_some_and(|next| next.is_ascii_punctuation()) => {
                out.extend(at(index + 1));
                index += 2;
            }
            '`' => index += 1,
            '!' if at(index + 1) == Some('[') => index += 1,
            '[' => match link(characters, index) {
                Some((text, next)) => {
                    inline(text, out);
                    index = next;
                }
                None => {
                    out.push('[');
                    index += 1;
                }
            },
            '<' => match autolink(characters, index) {
                Some((url, next)) => {
                    out.extend(url);
                    index = next;
                }
                None => {
                    out.push('<');
                    index += 1;
                }
            },
            '*' | '_' | '~' => {
                let run = characters[index..]
                    .iter()
                    .take_while(|&&other| other == character)
                    .count();
                let before = index.checked_sub(1).and_then(at);
                let after = at(index + run);
                let is_space = |neighbour: Option<char>| neighbour.is_none_or(char::is_whitespace);
                let is_word = |neighbour: Option<char>| neighbour.is_some_and(char::is_alphanumeric);
                let emphasis = match character {
                    // `2 * 3` is arithmetic, not emphasis.
                    '*' => !(is_space(before) && is_space(after)),
                    // `snake_case` keeps its underscores.
                    '_' => !(is_space(before) && is_space(after) || is_word(before) && is_word(after)),
                    // `~` alone is "about"; strikethrough is `~~`.
                    _ => run == 2,
                };
                if !emphasis {
                    out.extend(&characters[index..index + run]);
                }
                index += run;
            }
            _ => {
                out.push(character);
                index += 1;
            }
        }
    }
}

/// At a `[`: `[text](url)` or `[text][label]` gives the text and the index after the link.
fn link(characters: &[char], open: usize) -> Option<(&[char], usize)> {
    let close = matching(characters, open, '[', ']')?;
    let text = &characters[open + 1..close];
    match characters.get(close + 1) {
        Some('(') => Some((text, matching(characters, close + 1, '(', ')')? + 1)),
        Some('[') => Some((text, matching(characters, close + 1, '[', ']')? + 1)),
        _ => None,
    }
}

/// The index of the bracket closing the one at `open`, counting nested pairs.
fn matching(characters: &[char], open: usize, opening: char, closing: char) -> Option<usize> {
    let mut depth = 0usize;
    for (index, &character) in characters.iter().enumerate().skip(open) {
        if character == opening {
            depth += 1;
        } else if character == closing {
            depth -= 1;
            if depth == 0 {
                return Some(index);
            }
        }
    }
    None
}

/// At a `<`: `<https://…>` or `<mailto:…>` gives the address and the index after it.
fn autolink(characters: &[char], open: usize) -> Option<(&[char], usize)> {
    let length = characters[open + 1..]
        .iter()
        .take_while(|&&character| character != '>' && !character.is_whitespace())
        .count();
    let close = open + 1 + length;
    let address: String = characters[open + 1..close].iter().collect();
    let is_address = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| address.starts_with(scheme));
    (is_address && characters.get(close) == Some(&'>')).then(|| (&characters[open + 1..close], close + 1))
}

#[cfg(test)]
mod tests {
    use super::normalize_markdown;

    #[test]
    fn removes_block_markers() {
        let text =
            "# Title ##\n\n> quoted\n- one\n* two\n+ three\n1. four\n2) five\n- [x] done\n---\n```rust\ncode\n```";
        assert_eq!(
            normalize_markdown(text),
            "Title\n\nquoted\none\ntwo\nthree\nfour\nfive\ndone\ncode"
        );
        assert_eq!(normalize_markdown("Title\n====="), "Title");
        assert_eq!(
            normalize_markdown("[docs]: https://example.com\nsee [it][docs]"),
            "see it"
        );
    }

    #[test]
    fn removes_inline_formatting_but_not_text() {
        assert_eq!(
            normalize_markdown("**bold**, *it*, __u__, _e_, ~~gone~~, `code`"),
            "bold, it, u, e, gone, code"
        );
        assert_eq!(
            normalize_markdown("see [the docs](https://x.y/(z)) and ![a cat](cat.png) at <https://a.b>"),
            "see the docs and a cat at https://a.b"
        );
        // Not formatting: arithmetic, identifiers, "about", an escaped star, a plain bracket.
        assert_eq!(
            normalize_markdown(r"2 * 3, snake_case, ~5 min, \*, [sic], -1, 3.5"),
            "2 * 3, snake_case, ~5 min, *, [sic], -1, 3.5"
        );
    }
}
