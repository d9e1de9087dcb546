//! PDF reports: a report's JSON document, typeset by Typst as a library.
//!
//! A [`Template`] is a Typst file shipped in `assets/report/` that reads its whole input from one
//! virtual file, `/data.json`, so what a model wrote reaches the page only as a string value and
//! is never read as markup. The fonts are Typst's own (Libertinus Serif for the text, DejaVu Sans
//! Mono for answers), embedded in the binary and in every PDF, so a report looks the same on
//! every machine and its text stays selectable. Nothing reads the clock, the file system or the
//! network: the same document, template and [`Options`] give byte-identical PDFs.

use std::sync::OnceLock;

use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;

/// A report layout: Typst markup that reads `/data.json`.
#[derive(Clone, Copy, Debug)]
pub struct Template {
    /// Named in errors.
    pub name: &'static str,
    pub source: &'static str,
}

/// The evaluation session report (`session export --format pdf`): the `--format json` document
/// plus `meta`.
pub const SESSION: Template = Template {
    name: "session.typ",
    source: include_str!("../../../assets/report/session.typ"),
};

/// A run's report (`export RUN --format pdf`): the `--format json` document plus `meta`.
pub const RUN: Template = Template {
    name: "run.typ",
    source: include_str!("../../../assets/report/run.typ"),
};

/// What the PDF says about itself.
#[derive(Clone, Debug)]
pub struct Options {
    /// A stable identifier of what the document reports on (a session or run id): the PDF's
    /// document identifier is derived from it, so the same report keeps one across exports.
    pub ident: String,
    /// The `/Creator` metadata, e.g. "ModelBench 0.3.0".
    pub creator: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template did not typeset: a defect in a shipped template or a document missing a field
    /// the template reads. Each message names the template and where.
    #[error("the PDF template {template} failed: {}", messages.join("; "))]
    Typeset {
        template: &'static str,
        messages: Vec<String>,
    },
    #[error("the document for {template} is not JSON: {source}")]
    Document {
        template: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Typesets `document` (any JSON the template reads) with `template`.
pub fn render(template: Template, document: &serde_json::Value, options: &Options) -> Result<Vec<u8>, Error> {
    let data = serde_json::to_vec(document).map_err(|source| Error::Document {
        template: template.name,
        source,
    })?;
    let world = Report::new(template, data);
    let typeset = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(|diagnostics| Error::Typeset {
            template: template.name,
            messages: describe(&world, &diagnostics),
        })?;
    let pdf_options = typst_pdf::PdfOptions {
        ident: Smart::Custom(options.ident.clone()),
        creator: Smart::Custom(Some(options.creator.clone())),
        // No creation date: the document says when its session ran, and a clock would make two
        // exports of one report differ.
        timestamp: None,
        ..typst_pdf::PdfOptions::default()
    };
    typst_pdf::pdf(&typeset, &pdf_options).map_err(|diagnostics| Error::Typeset {
        template: template.name,
        messages: describe(&world, &diagnostics),
    })
}

fn describe(world: &Report, diagnostics: &[SourceDiagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .map(|diagnostic| {
            let line = (diagnostic.span.id() == Some(world.main.id()))
                .then(|| world.range(diagnostic.span))
                .flatten()
                .and_then(|range| world.main.lines().byte_to_line(range.start))
                .map(|line| format!("line {}: ", line + 1))
                .unwrap_or_default();
            format!("{line}{}", diagnostic.message)
        })
        .collect()
}

/// The fonts every report uses, parsed once per process.
fn fonts() -> &'static (Vec<Font>, LazyHash<FontBook>) {
    static FONTS: OnceLock<(Vec<Font>, LazyHash<FontBook>)> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        let book = LazyHash::new(FontBook::from_fonts(&fonts));
        (fonts, book)
    })
}

fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::default()))
}

fn file_id(path: &str) -> FileId {
    let path = VirtualPath::new(path).expect("a fixed, valid virtual path");
    FileId::new(RootedPath::new(VirtualRoot::Project, path))
}

/// The one-document world Typst compiles in: the template as `/main.typ`, the data as
/// `/data.json`, and nothing else.
struct Report {
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl Report {
    fn new(template: Template, data: Vec<u8>) -> Self {
        Self {
            main: Source::new(file_id("/main.typ"), template.source.to_owned()),
            data_id: file_id("/data.json"),
            data: Bytes::new(data),
        }
    }

    fn not_found(id: FileId) -> FileError {
        FileError::NotFound(id.get().vpath().get_with_slash().to_owned().into())
    }
}

impl World for Report {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().1
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(Self::not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(Self::not_found(id))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts().0.get(index).cloned()
    }

    /// Templates show the dates their document gives; `datetime.today()` has none to give.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROBE: Template = Template {
        name: "probe.typ",
        source: "#let data = json(\"/data.json\")\n= #data.title\n#raw(data.answer, block: true)\n",
    };

    fn options() -> Options {
        Options {
            ident: "probe".into(),
            creator: "ModelBench test".into(),
        }
    }

    #[test]
    fn the_same_document_gives_the_same_bytes() {
        let document = json!({"title": "Report", "answer": "hello"});
        let first = render(PROBE, &document, &options()).expect("render");
        let second = render(PROBE, &document, &options()).expect("render");
        assert!(first.starts_with(b"%PDF-"), "not a PDF");
        assert_eq!(first, second);
        let other = render(PROBE, &json!({"title": "Report", "answer": "hello!"}), &options()).expect("render");
        assert_ne!(first, other, "the answer is not in the PDF");
    }

    #[test]
    fn a_missing_field_names_the_template_and_line() {
        let error = render(PROBE, &json!({"title": "Report"}), &options()).expect_err("no answer");
        let message = error.to_string();
        assert!(message.contains("probe.typ"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("answer"), "{message}");
    }

    #[test]
    fn the_template_reads_no_other_file() {
        let reader = Template {
            name: "reader.typ",
            source: "#read(\"/etc/passwd\")",
        };
        let error = render(reader, &json!({}), &options()).expect_err("no such file");
        assert!(error.to_string().contains("reader.typ"), "{error}");
    }
}
