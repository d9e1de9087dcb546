//! The TypeScript bindings of every type the UI exchanges with the shell, checked against the
//! committed ones in `ui/src/lib/bindings/`.
//!
//! ts-rs renders each type from its Rust definition and serde attributes. The test fails naming
//! each committed file that differs, is missing, or belongs to no type any more, and says how to
//! regenerate: `scripts/bindings`, which runs it with `MODELBENCH_UPDATE_BINDINGS=1` so it writes
//! instead of comparing. ts-rs's own `#[ts(export)]` tests write under `target/` (see
//! `.cargo/config.toml`), so a plain `cargo test` never rewrites the committed files and a drift
//! cannot pass unnoticed.
//!
//! Conventions on the Rust side: a type the UI sees derives `ts_rs::TS` with `#[ts(export)]`, and
//! an `Option` field that serde skips when `None` also gets `#[ts(optional)]`, so it is an absent
//! field (`field?: T`) as in the JSON rather than ts-rs's default `field?: T | null`.
//!
//! It lives in the shell, under `run`, because the shell is the one crate that sees every type the
//! UI exchanges: the engine's, the workbench's (`RunRequest`, `RunMessage`) and its own.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use modelbench_engine::diff::{
    Diff, DiffContent, DiffMode, DiffStats, JsonChange, JsonChangeKind, LineKind, LineOp, SimilarityMatrix, Span,
    SpanKind,
};
use modelbench_engine::event::WarningKind;
use modelbench_engine::report::Format;
use modelbench_engine::request::{PARAMETER_RANGES, ParameterRange};
use modelbench_engine::store::SearchHitKind;
use modelbench_engine::target::{
    AzureAuth, DeploymentType, FieldError, FieldSpec, FieldTable, ProviderFields, Publisher, TimeoutOverrides,
    field_table,
};
use modelbench_engine::{
    Api, ErrorKind, FinishReason, Message, Metrics, Parameters, Prompt, ProviderError, ProviderKind, ResponseKey,
    ResponseMeta, ResponseRecord, Role, RunId, RunRecord, RunStatus, RunSummary, SearchHit, StampedEvent, StoredEvent,
    StoredRun, StreamEvent, Target, ToolCall, Usage,
};
use ts_rs::{Config, TS};

use crate::error::{CommandError, CommandErrorKind};
use modelbench_engine::accumulate::LiveMetrics;
use modelbench_engine::panel::{PacketAnswer, PacketPrompt, PacketTurn, PanelKind};
use modelbench_engine::session::{
    Analysis, BaseModelDecision, CostFigures, Distribution, Estimate, Failure, Leader, Parity, ParityMetric, Rate,
    TargetEstimate, TargetFigures, TestFigures, TestTarget,
};
use modelbench_engine::store::SessionSummary;
use modelbench_engine::suite::Margins;
use modelbench_workbench::panel::rate::{
    Choice, GivenRating, Leaderboard, LeaderboardRow, PositionNote, RatingCriterion, RatingItem,
};
use modelbench_workbench::panel::{PanelStatus, RaterProgress};
use modelbench_workbench::session::answers::{CheckResult, TestAnswer, TestAnswers};
use modelbench_workbench::session::live::{SessionMessage, SessionProgress, TargetProgress};
use modelbench_workbench::session::suites::{SessionRequest, SuiteInfo};
use modelbench_workbench::{LiveResponse, RunMessage, RunRequest};

const UPDATE_VARIABLE: &str = "MODELBENCH_UPDATE_BINDINGS";
const REGENERATE: &str = "scripts/bindings";

/// One type's file: where it goes under the bindings folder, what it holds, and the files of the
/// types it imports.
struct Binding {
    path: PathBuf,
    contents: String,
    imports: Vec<PathBuf>,
}

fn binding<T: TS + 'static>(config: &Config) -> Binding {
    let name = std::any::type_name::<T>();
    Binding {
        path: T::output_path().unwrap_or_else(|| panic!("{name} has no binding file")),
        contents: T::export_to_string(config).unwrap_or_else(|error| panic!("{name}: {error}")),
        imports: T::dependencies(config)
            .into_iter()
            .map(|dependency| dependency.output_path)
            .collect(),
    }
}

/// Every type the UI exchanges with the shell, and every type those use.
fn bindings() -> BTreeMap<PathBuf, Binding> {
    // u64 and i64 as `number`, not `bigint`: token counts, milliseconds and sequence numbers stay
    // far below 2^53, and JSON.parse gives numbers anyway.
    let config = Config::new().with_large_int("number");
    let renderers: [fn(&Config) -> Binding; 92] = [
        binding::<ProviderKind>,
        binding::<Api>,
        binding::<Publisher>,
        binding::<DeploymentType>,
        binding::<AzureAuth>,
        binding::<TimeoutOverrides>,
        binding::<Target>,
        binding::<Role>,
        binding::<Message>,
        binding::<Prompt>,
        binding::<Parameters>,
        binding::<ErrorKind>,
        binding::<ProviderError>,
        binding::<ResponseMeta>,
        binding::<Usage>,
        binding::<serde_json::Value>,
        binding::<FinishReason>,
        binding::<WarningKind>,
        binding::<StreamEvent>,
        binding::<ResponseKey>,
        binding::<StampedEvent>,
        binding::<RunId>,
        binding::<RunRecord>,
        binding::<ToolCall>,
        binding::<Metrics>,
        binding::<ResponseRecord>,
        binding::<RunStatus>,
        binding::<RunSummary>,
        binding::<StoredRun>,
        binding::<StoredEvent>,
        binding::<SearchHitKind>,
        binding::<SearchHit>,
        binding::<RunRequest>,
        binding::<RunMessage>,
        binding::<CommandErrorKind>,
        binding::<CommandError>,
        binding::<Format>,
        binding::<DiffMode>,
        binding::<SpanKind>,
        binding::<Span>,
        binding::<LineKind>,
        binding::<LineOp>,
        binding::<JsonChangeKind>,
        binding::<JsonChange>,
        binding::<DiffContent>,
        binding::<DiffStats>,
        binding::<Diff>,
        binding::<SimilarityMatrix>,
        binding::<FieldError>,
        binding::<FieldSpec>,
        binding::<ProviderFields>,
        binding::<FieldTable>,
        binding::<ParameterRange>,
        binding::<LiveMetrics>,
        binding::<LiveResponse>,
        binding::<SuiteInfo>,
        binding::<SessionRequest>,
        binding::<TargetEstimate>,
        binding::<Estimate>,
        binding::<TargetProgress>,
        binding::<SessionProgress>,
        binding::<SessionMessage>,
        binding::<SessionSummary>,
        binding::<Margins>,
        binding::<Rate>,
        binding::<Distribution>,
        binding::<CostFigures>,
        binding::<TargetFigures>,
        binding::<ParityMetric>,
        binding::<Parity>,
        binding::<TestTarget>,
        binding::<TestFigures>,
        binding::<Leader>,
        binding::<BaseModelDecision>,
        binding::<Failure>,
        binding::<Analysis>,
        binding::<CheckResult>,
        binding::<TestAnswer>,
        binding::<TestAnswers>,
        binding::<PanelKind>,
        binding::<RaterProgress>,
        binding::<PanelStatus>,
        binding::<PacketTurn>,
        binding::<PacketPrompt>,
        binding::<PacketAnswer>,
        binding::<Choice>,
        binding::<GivenRating>,
        binding::<RatingCriterion>,
        binding::<RatingItem>,
        binding::<LeaderboardRow>,
        binding::<PositionNote>,
        binding::<Leaderboard>,
    ];
    renderers
        .iter()
        .map(|render| render(&config))
        .chain(editor_bindings(&config))
        .chain([commands(), rules()])
        .map(|binding| (binding.path.clone(), binding))
        .collect()
}

/// The Suites editor's types (`session::editor`, `suite::document`).
fn editor_bindings(config: &Config) -> Vec<Binding> {
    use modelbench_engine::suite::{DocumentCheck, DocumentEntry, DocumentTest, SuiteDocument, SuiteFieldError};
    use modelbench_workbench::session::editor::{DryCase, DryCheck, DryCheckOutcome, DryCheckRequest, SuiteDraft};
    vec![
        binding::<DocumentEntry>(config),
        binding::<DocumentCheck>(config),
        binding::<DocumentTest>(config),
        binding::<SuiteDocument>(config),
        binding::<SuiteFieldError>(config),
        binding::<SuiteDraft>(config),
        binding::<DryCheckRequest>(config),
        binding::<DryCheckOutcome>(config),
        binding::<DryCase>(config),
        binding::<DryCheck>(config),
    ]
}

const GENERATED: &str = "// Generated by src-tauri/src/run/bindings.rs (`scripts/bindings`). Do not edit.";

/// The command names the UI invokes, from the shell's one list (`declare_commands!`), keyed by
/// their camelCase names.
fn commands() -> Binding {
    let mut contents =
        format!("{GENERATED}\n\n/** The shell's commands, by the UI's name for each. */\nexport const COMMANDS = {{\n");
    for name in crate::COMMAND_NAMES {
        let mut camel = String::new();
        let mut upper = false;
        for character in name.chars() {
            if character == '_' {
                upper = true;
            } else if upper {
                camel.extend(character.to_uppercase());
                upper = false;
            } else {
                camel.push(character);
            }
        }
        contents.push_str(&format!("  {camel}: '{name}',\n"));
    }
    contents.push_str("} as const;\n");
    Binding {
        path: PathBuf::from("commands.ts"),
        contents,
        imports: Vec::new(),
    }
}

/// The engine's rules as data: the provider field table and the parameter ranges. Validation
/// itself is a command (`validate_target`); these only say what a form shows and accepts.
fn rules() -> Binding {
    let json = |value: serde_json::Value| serde_json::to_string_pretty(&value).expect("serialisable rules");
    let table = json(serde_json::to_value(field_table()).expect("a serialisable field table"));
    let ranges = json(serde_json::to_value(PARAMETER_RANGES).expect("serialisable ranges"));
    let contents = format!(
        "{GENERATED}\n\nimport type {{ FieldTable }} from './FieldTable';\nimport type {{ ParameterRange }} from './ParameterRange';\n\n\
         /** Which fields each provider's targets take (the engine's `field_table`). */\n\
         export const FIELD_TABLE: FieldTable = {table};\n\n\
         /** What each numeric parameter accepts (the engine's `PARAMETER_RANGES`). */\n\
         export const PARAMETER_RANGES: ParameterRange[] = {ranges};\n"
    );
    Binding {
        path: PathBuf::from("rules.ts"),
        contents,
        imports: vec![PathBuf::from("FieldTable.ts"), PathBuf::from("ParameterRange.ts")],
    }
}

fn bindings_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings")
}

/// The files under `folder`, by path relative to it.
fn committed_files(folder: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(folder: &Path, relative: &Path, files: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = fs::read_dir(folder) else {
            return;
        };
        for entry in entries {
            let entry = entry.expect("a readable bindings folder");
            let path = entry.path();
            let relative = relative.join(entry.file_name());
            if path.is_dir() {
                walk(&path, &relative, files);
            } else {
                // A file that is not UTF-8 cannot match any binding: compare it as empty.
                files.insert(relative, fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(folder, Path::new(""), &mut files);
    files
}

fn shown(path: &Path) -> String {
    Path::new("ui/src/lib/bindings").join(path).display().to_string()
}

/// Where the committed file first differs, so the failure points at the line.
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for number in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (Some(left), Some(right)) if left == right => {}
            (None, None) => break,
            (left, right) => {
                return format!(
                    "line {number}:\n      committed: {}\n      generated: {}",
                    left.unwrap_or("(end of file)"),
                    right.unwrap_or("(end of file)")
                );
            }
        }
    }
    "line endings or the final newline".to_owned()
}

fn write(folder: &Path, bindings: &BTreeMap<PathBuf, Binding>, committed: &BTreeMap<PathBuf, String>) {
    for stale in committed.keys().filter(|path| !bindings.contains_key(*path)) {
        fs::remove_file(folder.join(stale)).expect("a removable stale binding");
    }
    for (path, binding) in bindings {
        if committed.get(path) != Some(&binding.contents) {
            let file = folder.join(path);
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent).expect("a creatable bindings folder");
            }
            fs::write(&file, &binding.contents).expect("a writable bindings folder");
        }
    }
}

#[test]
fn committed_bindings_match_the_rust_types() {
    let bindings = bindings();
    for binding in bindings.values() {
        for import in &binding.imports {
            assert!(
                bindings.contains_key(import),
                "{} imports {}, which is not listed in bindings(): add its type there",
                shown(&binding.path),
                shown(import)
            );
        }
    }
    let folder = bindings_folder();
    let committed = committed_files(&folder);
    if std::env::var_os(UPDATE_VARIABLE).is_some() {
        write(&folder, &bindings, &committed);
        return;
    }
    let mut drifted = Vec::new();
    for (path, binding) in &bindings {
        match committed.get(path) {
            None => drifted.push(format!("{} is missing", shown(path))),
            Some(contents) if *contents != binding.contents => drifted.push(format!(
                "{} differs from its Rust type, at {}",
                shown(path),
                first_difference(contents, &binding.contents)
            )),
            Some(_) => {}
        }
    }
    for path in committed.keys().filter(|path| !bindings.contains_key(*path)) {
        drifted.push(format!("{} belongs to no Rust type", shown(path)));
    }
    assert!(
        drifted.is_empty(),
        "the TypeScript bindings have drifted from the Rust types:\n  {}\nRegenerate them with `{REGENERATE}` and commit the result.",
        drifted.join("\n  ")
    );
}
