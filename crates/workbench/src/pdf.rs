//! Reports as PDF documents to sign off: a run's or a session's JSON report, with a title and a
//! sign-off block, typeset by `modelbench-pdf` (Typst as a library; no browser).
//!
//! The document is the same JSON the `json` export writes, so the PDF shows exactly the numbers
//! of the other formats, plus `meta`: the title, the generator and who signs. Its dates are the
//! run's or session's own (never the export time), so exporting the same report twice with the
//! same sign-off gives byte-identical files.

use modelbench_engine::StoredRun;
use modelbench_engine::report::Report;
use modelbench_engine::session::Analysis;
use modelbench_engine::session::report::{Method, json_document};
use serde::Serialize;
use serde_json::Value;

use crate::Workbench;
use crate::error::{Error, Result};

/// One person who signs: their name and role, printed above the date and signature lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Signer {
    pub name: String,
    pub role: String,
}

impl Signer {
    /// `"Name, Role"` (the role may itself hold commas: `"Ana Ruiz, Head of Procurement, EMEA"`),
    /// or a name alone.
    pub fn parse(text: &str) -> Result<Self> {
        let (name, role) = text.split_once(',').unwrap_or((text, ""));
        let (name, role) = (name.trim(), role.trim());
        if name.is_empty() {
            return Err(Error::Report(format!(
                "a sign-off needs a name, as \"Name, Role\" (got \"{text}\")"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            role: role.to_owned(),
        })
    }
}

/// "ModelBench 0.3.0": the PDF's creator and its footer.
fn generator() -> String {
    format!("ModelBench {}", env!("CARGO_PKG_VERSION"))
}

fn with_meta(mut document: Value, title: &str, signers: &[Signer]) -> Value {
    if let Value::Object(fields) = &mut document {
        fields.insert(
            "meta".to_owned(),
            serde_json::json!({
                "title": title,
                "generator": generator(),
                "signoff": signers,
            }),
        );
    }
    document
}

fn typeset(template: modelbench_pdf::Template, document: &Value, ident: String) -> Result<Vec<u8>> {
    let options = modelbench_pdf::Options {
        ident,
        creator: generator(),
    };
    modelbench_pdf::render(template, document, &options).map_err(|error| Error::Report(error.to_string()))
}

/// A stored run's report as a PDF, dated by the run (its end, or its start while unfinished).
pub fn run_pdf(run: &StoredRun, signers: &[Signer]) -> Result<Vec<u8>> {
    let record = &run.record;
    let dated = run.finished_at_ms.unwrap_or(record.started_at_ms);
    let report = Report::from_run(run, env!("CARGO_PKG_VERSION"), dated);
    let document = serde_json::to_value(&report).map_err(|error| Error::Report(error.to_string()))?;
    let document = with_meta(document, "Run report", signers);
    typeset(modelbench_pdf::RUN, &document, format!("run {}", record.id))
}

/// A session's report as a PDF.
pub fn session_pdf(analysis: &Analysis, method: &Method, signers: &[Signer]) -> Result<Vec<u8>> {
    let document = with_meta(json_document(analysis, method), "Evaluation report", signers);
    typeset(
        modelbench_pdf::SESSION,
        &document,
        format!("session {}", analysis.session_id),
    )
}

impl Workbench {
    /// The report of session `id` (or a unique prefix) as a PDF with `signers`' sign-off block.
    pub fn export_session_pdf(&self, id: &str, signers: &[Signer]) -> Result<Vec<u8>> {
        let (session, analysis) = self.analyse_session(id)?;
        let method = crate::session::method(&session, &analysis);
        session_pdf(&analysis, &method, signers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signer_is_a_name_and_everything_after_the_first_comma() {
        assert_eq!(
            Signer::parse(" Ana Ruiz , Head of Procurement, EMEA ").expect("signer"),
            Signer {
                name: "Ana Ruiz".into(),
                role: "Head of Procurement, EMEA".into()
            }
        );
        assert_eq!(Signer::parse("Bo").expect("signer").role, "");
        let error = Signer::parse(" , CTO").expect_err("no name");
        assert!(error.to_string().contains("Name, Role"), "{error}");
    }
}
