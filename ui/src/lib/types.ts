// The data the UI exchanges with the shell: the engine's and the shell's serde types.
//
// They are generated from the Rust definitions by ts-rs into `./bindings/` (one file per type),
// never written by hand: a Rust test (src-tauri/src/run/bindings.rs, run by `cargo test`) fails
// when those files drift from the Rust types, and `scripts/bindings` regenerates them. So every
// name is the Rust type's name and every field the serde field name (snake_case); optionality
// follows serde:
//   - `field?: T`        the Rust field is `skip_serializing_if` (omitted when None/empty);
//   - `field: T | null`  the Rust field is a plain `Option<T>` (always present, `null` when None).
// Rust integers (u32, u64, i64) are `number`: the values involved stay far below 2^53.
//
// Closed sets of names (a run's status, an error's kind, a report format) are Rust enums too, so
// they arrive here as string unions: the UI never types one by hand.
//
// This module re-exports them, so the UI imports from one place.

export type { Api } from './bindings/Api';
export type { FieldError } from './bindings/FieldError';
export type { CommandError } from './bindings/CommandError';
export type { CommandErrorKind } from './bindings/CommandErrorKind';
export type { AzureAuth } from './bindings/AzureAuth';
export type { DeploymentType } from './bindings/DeploymentType';
export type { Diff } from './bindings/Diff';
export type { DiffContent } from './bindings/DiffContent';
export type { DiffMode } from './bindings/DiffMode';
export type { DiffStats } from './bindings/DiffStats';
export type { JsonChange } from './bindings/JsonChange';
export type { LineOp } from './bindings/LineOp';
export type { SimilarityMatrix } from './bindings/SimilarityMatrix';
export type { Span } from './bindings/Span';
export type { ErrorKind } from './bindings/ErrorKind';
export type { FinishReason } from './bindings/FinishReason';
export type { Message } from './bindings/Message';
export type { Metrics } from './bindings/Metrics';
export type { Parameters } from './bindings/Parameters';
export type { Prompt } from './bindings/Prompt';
export type { ProviderError } from './bindings/ProviderError';
export type { ProviderKind } from './bindings/ProviderKind';
export type { Publisher } from './bindings/Publisher';
export type { ResponseKey } from './bindings/ResponseKey';
export type { ResponseMeta } from './bindings/ResponseMeta';
export type { ReportFormat } from './bindings/ReportFormat';
export type { ResponseRecord } from './bindings/ResponseRecord';
export type { Role } from './bindings/Role';
export type { RunId } from './bindings/RunId';
export type { RunMessage } from './bindings/RunMessage';
export type { RunRecord } from './bindings/RunRecord';
export type { RunRequest } from './bindings/RunRequest';
export type { RunStatus } from './bindings/RunStatus';
export type { RunSummary } from './bindings/RunSummary';
export type { SearchHit } from './bindings/SearchHit';
export type { SearchHitKind } from './bindings/SearchHitKind';
export type { StampedEvent } from './bindings/StampedEvent';
export type { StoredEvent } from './bindings/StoredEvent';
export type { StoredRun } from './bindings/StoredRun';
export type { StreamEvent } from './bindings/StreamEvent';
export type { Target } from './bindings/Target';
export type { TimeoutOverrides } from './bindings/TimeoutOverrides';
export type { ToolCall } from './bindings/ToolCall';
export type { Usage } from './bindings/Usage';
export type { JsonValue } from './bindings/serde_json/JsonValue';
export type { LiveMetrics } from './bindings/LiveMetrics';
export type { LiveResponse } from './bindings/LiveResponse';
export type { Analysis } from './bindings/Analysis';
export type { BaseModelDecision } from './bindings/BaseModelDecision';
export type { Distribution } from './bindings/Distribution';
export type { Estimate } from './bindings/Estimate';
export type { Parity } from './bindings/Parity';
export type { ParityMetric } from './bindings/ParityMetric';
export type { Rate } from './bindings/Rate';
export type { SessionMessage } from './bindings/SessionMessage';
export type { SessionProgress } from './bindings/SessionProgress';
export type { SessionRequest } from './bindings/SessionRequest';
export type { SessionSummary } from './bindings/SessionSummary';
export type { SuiteInfo } from './bindings/SuiteInfo';
export type { TargetFigures } from './bindings/TargetFigures';
export type { TargetProgress } from './bindings/TargetProgress';
export type { DocumentCheck } from './bindings/DocumentCheck';
export type { DocumentEntry } from './bindings/DocumentEntry';
export type { DocumentTest } from './bindings/DocumentTest';
export type { DryCase } from './bindings/DryCase';
export type { DryCheck } from './bindings/DryCheck';
export type { DryCheckOutcome } from './bindings/DryCheckOutcome';
export type { DryCheckRequest } from './bindings/DryCheckRequest';
export type { SuiteDocument } from './bindings/SuiteDocument';
export type { SuiteDraft } from './bindings/SuiteDraft';
export type { SuiteFieldError } from './bindings/SuiteFieldError';
export type { CheckResult } from './bindings/CheckResult';
export type { TestAnswer } from './bindings/TestAnswer';
export type { TestAnswers } from './bindings/TestAnswers';
export type { TestFigures } from './bindings/TestFigures';
export type { Choice } from './bindings/Choice';
export type { GivenRating } from './bindings/GivenRating';
export type { Leaderboard } from './bindings/Leaderboard';
export type { LeaderboardRow } from './bindings/LeaderboardRow';
export type { PanelKind } from './bindings/PanelKind';
export type { PanelStatus } from './bindings/PanelStatus';
export type { RatingItem } from './bindings/RatingItem';
