//! The rating packet: one self-contained HTML file per rater that opens in any browser with no
//! server and no network. Its Content-Security-Policy allows only its own inline script and
//! stylesheet (by hash): no request can leave the page. What it shows is the prompt and the
//! normalised answers under neutral labels (A/B, or 1..N); nothing in it (text, ids, classes,
//! file name) names a target, provider, model, region, cost or timing.
//!
//! The ratings file the packet saves, and `panel import` reads:
//!
//! ```json
//! {"format": "modelbench-ratings/1", "payload": "<JSON text>", "signature": "<hex>"}
//! ```
//!
//! `signature` is the lowercase hex HMAC-SHA256 of the payload's UTF-8 bytes under the packet's
//! token (64 hex digits, decoded to 32 bytes). The payload is a JSON object:
//! `{"format": "modelbench-ratings/1", "panel": ID, "packet": ID, "rater": NAME, "kind":
//! "pairwise"|"rubric", "saved_at": ISO-8601, "ratings": [...]}` where each rating is
//! `{"n": ITEM NUMBER (1-based, the packet's order), "choice": "A"|"B"|"tie", "reason"?: TEXT,
//! "rated_at"?: ISO-8601}` in a pairwise packet and `{"n": N, "scores": {"1": {"CRITERION": 1-5,
//! ...}, "2": {...}}, "reason"?: TEXT}` in a rubric packet (the keys are the answers' labels).

use base64::Engine as _;
use ring::hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use super::plan::{Criterion, PanelKind};

/// The version tag of packets' data and of ratings files.
pub const RATINGS_FORMAT: &str = "modelbench-ratings/1";

const SCRIPT: &str = include_str!("../../../../assets/panel/packet.js");
const STYLE: &str = include_str!("../../../../assets/panel/packet.css");

/// A turn of the prompt as the rater sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PacketTurn {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PacketPrompt {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub system: Option<String>,
    pub messages: Vec<PacketTurn>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PacketAnswer {
    /// `A`, `B`, … (pairwise) or `1`, `2`, … (rubric).
    pub label: String,
    /// The answer normalised for blind display.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PacketItem {
    /// 1-based position in this packet.
    pub n: u32,
    pub prompt: PacketPrompt,
    pub answers: Vec<PacketAnswer>,
}

/// Everything a packet holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PacketContent {
    pub format: String,
    pub panel: String,
    pub packet: String,
    pub rater: String,
    pub kind: PanelKind,
    pub criteria: Vec<Criterion>,
    pub title: String,
    /// 64 hex digits: the key of the ratings file's signature.
    pub token: String,
    pub items: Vec<PacketItem>,
}

/// The label of the answer shown at `position` (0-based).
pub fn label(kind: PanelKind, position: usize) -> String {
    match kind {
        PanelKind::Pairwise => char::from(b'A' + (position % 26) as u8).to_string(),
        PanelKind::Rubric => (position + 1).to_string(),
    }
}

fn csp_hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The packet as one HTML file. The data is a JSON block whose `<`, `>` and `&` are escaped as
/// `\u003c`… so no answer can close the block or open a tag, and the page writes every text with
/// `textContent`, never as markup.
pub fn render_packet(content: &PacketContent) -> String {
    let data = serde_json::to_string(content)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'none'; connect-src 'none'; font-src 'none'; \
         media-src 'none'; object-src 'none'; frame-src 'none'; worker-src 'none'; form-action 'none'; base-uri 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    );
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{title}</h1><span>Rater: <strong id="rater"></strong></span><span id="progress"></span><span class="spacer"></span><button type="button" id="previous">&larr; Previous</button><button type="button" id="next">Next &rarr;</button><button type="button" id="save">Save ratings file</button></header>
<main><p id="help"></p><div id="item"></div><p id="status" role="status"></p><textarea id="ratings-text" readonly hidden></textarea></main>
<footer><span>Answers are shown under neutral labels in a shuffled order; nothing here says where an answer came from. Progress is kept in this browser. When done, save the ratings file and send it back.</span></footer>
<script type="application/json" id="packet-data">{data}</script>
<script>{SCRIPT}</script>
</body>
</html>
"#,
        title = escape_html(&content.title),
    )
}

/// The signature of `payload` under `token` (hex), as the packet computes it.
pub fn sign(payload: &str, token_hex: &str) -> Result<String, String> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &decode_token(token_hex)?);
    Ok(to_hex(hmac::sign(&key, payload.as_bytes()).as_ref()))
}

/// Whether `signature_hex` is `payload`'s signature under `token_hex` (compared in constant time).
pub fn verify(payload: &str, signature_hex: &str, token_hex: &str) -> bool {
    let (Ok(key), Ok(signature)) = (decode_token(token_hex), from_hex(signature_hex.trim())) else {
        return false;
    };
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &key), payload.as_bytes(), &signature).is_ok()
}

fn decode_token(token_hex: &str) -> Result<Vec<u8>, String> {
    match from_hex(token_hex) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err("a packet token is 64 hex digits".to_owned()),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Result<Vec<u8>, ()> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return Err(());
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).map_err(|_| ()))
        .collect()
}

/// A new packet token: 32 random bytes from the operating system, as hex.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the operating system's random source failed".to_owned())?;
    Ok(to_hex(&bytes))
}

/// A new random id for a panel or a packet (a version-4 UUID from the operating system's
/// random source): it says nothing of the session, the targets or the time.
pub fn new_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the operating system's random source failed".to_owned())?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string())
}

/// A ratings file as saved by a packet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingsFile {
    pub format: String,
    pub payload: String,
    pub signature: String,
}

/// One rating in a ratings file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawRating {
    pub n: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u8>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rated_at: Option<String>,
}

/// A ratings file's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingsPayload {
    pub format: String,
    pub panel: String,
    pub packet: String,
    pub rater: String,
    pub kind: PanelKind,
    #[serde(default)]
    pub saved_at: Option<String>,
    pub ratings: Vec<RawRating>,
}

/// Reads a ratings file (not yet checked against its packet: the caller looks the packet's
/// token up by `payload.packet` and calls [`verify`]). Errors say what is wrong with the file.
pub fn read_ratings(text: &str) -> Result<(RatingsFile, RatingsPayload), String> {
    let file: RatingsFile = serde_json::from_str(text.trim_start_matches('\u{FEFF}'))
        .map_err(|error| format!("not a ModelBench ratings file ({error})"))?;
    if file.format != RATINGS_FORMAT {
        return Err(format!(
            "not a ModelBench ratings file: its format is '{}', not '{RATINGS_FORMAT}'",
            file.format
        ));
    }
    let payload: RatingsPayload = serde_json::from_str(&file.payload)
        .map_err(|error| format!("the ratings file's payload is damaged ({error})"))?;
    if payload.format != RATINGS_FORMAT {
        return Err("the ratings file's payload has another format".to_owned());
    }
    Ok((file, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> PacketContent {
        PacketContent {
            format: RATINGS_FORMAT.to_owned(),
            panel: "p".to_owned(),
            packet: "k".to_owned(),
            rater: "alice".to_owned(),
            kind: PanelKind::Pairwise,
            criteria: Vec::new(),
            title: "Panel <1>".to_owned(),
            token: "00".repeat(32),
            items: vec![PacketItem {
                n: 1,
                prompt: PacketPrompt {
                    system: None,
                    messages: vec![PacketTurn {
                        role: "user".to_owned(),
                        content: "Say </script><script>alert(1)</script>".to_owned(),
                    }],
                },
                answers: vec![
                    PacketAnswer {
                        label: "A".to_owned(),
                        text: "<img src=x onerror=alert(1)> & more".to_owned(),
                    },
                    PacketAnswer {
                        label: "B".to_owned(),
                        text: "plain\u{2028}line".to_owned(),
                    },
                ],
            }],
        }
    }

    #[test]
    fn a_packet_is_one_file_with_a_policy_that_allows_only_its_own_script_and_style() {
        let html = render_packet(&content());
        assert!(html.contains("default-src 'none'"));
        assert!(html.contains("connect-src 'none'"));
        assert!(html.contains(&csp_hash(SCRIPT)), "the script's hash is in the policy");
        assert!(
            html.contains(&format!("<script>{SCRIPT}</script>")),
            "the hashed script is inlined exactly"
        );
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        for external in ["http://", "https://", "src=\"", "href=\"", "@import", "url("] {
            assert!(
                !html
                    .replace(&*content().items[0].answers[0].text, "")
                    .contains(external),
                "{external}"
            );
        }
    }

    #[test]
    fn answers_and_prompts_cannot_break_out_of_the_data_block() {
        let html = render_packet(&content());
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "only the two real script blocks close"
        );
        assert!(!html.contains("<img"));
        assert!(html.contains("Panel &lt;1&gt;"));
        let start = html.find("id=\"packet-data\">").expect("a value") + "id=\"packet-data\">".len();
        let end = start + html[start..].find("</script>").expect("a value");
        let data: PacketContent = serde_json::from_str(&html[start..end]).expect("a value");
        assert_eq!(data, content(), "the escaped block reads back as the same content");
    }

    #[test]
    fn a_signature_verifies_only_with_its_token_and_payload() {
        let token = "1f".repeat(32);
        let payload = r#"{"a":1}"#;
        let signature = sign(payload, &token).expect("a value");
        // Pinned to an independent HMAC: `printf '{"a":1}' | openssl dgst -sha256 -mac HMAC
        // -macopt hexkey:1f1f…1f` (OpenSSL 3).
        assert_eq!(
            signature,
            "7d46eb3605018d0441180c2e4c0f9354f9ab8fec23d425d4e49320a4bd035558"
        );
        assert!(verify(payload, &signature, &token));
        assert!(!verify(r#"{"a":2}"#, &signature, &token));
        assert!(!verify(payload, &signature, &"2f".repeat(32)));
        assert!(!verify(payload, "zz", &token));
        assert!(sign(payload, "short").is_err());
        assert_ne!(new_token().expect("a value"), new_token().expect("a value"));
    }

    #[test]
    fn a_ratings_file_reads_back_and_bad_files_say_why() {
        let payload = serde_json::json!({"format": RATINGS_FORMAT, "panel": "p", "packet": "k", "rater": "alice",
            "kind": "pairwise", "saved_at": "2026-12-07T10:00:00Z", "ratings": [{"n": 1, "choice": "A"}]})
        .to_string();
        let file = serde_json::json!({"format": RATINGS_FORMAT, "payload": payload, "signature": "00"}).to_string();
        let (_, read) = read_ratings(&file).expect("a value");
        assert_eq!(read.ratings[0].choice.as_deref(), Some("A"));
        assert!(
            read_ratings("{}")
                .expect_err("an error")
                .contains("not a ModelBench ratings file")
        );
        let other = serde_json::json!({"format": "x", "payload": payload, "signature": "00"}).to_string();
        assert!(read_ratings(&other).expect_err("an error").contains("format is 'x'"));
        let damaged = serde_json::json!({"format": RATINGS_FORMAT, "payload": "{", "signature": "00"}).to_string();
        assert!(read_ratings(&damaged).expect_err("an error").contains("damaged"));
    }
}
