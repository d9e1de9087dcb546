//! Every way a request is refused before streaming starts, rendered in each
//! cloud's own error envelope, status and headers.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::json::{JsonObject, array, google_pretty};
use crate::server::Provider;
use crate::server::auth::{AuthFailure, mask_key};
use crate::server::headers::{self, insert, provider_headers, retry_after_headers};
use crate::server::sigv4::SignatureFailure;
use crate::server::validate::Invalid;
use crate::wire::anthropic::error_envelope;
use crate::wire::openai_chat::azure_prompt_filter_results;

#[derive(Clone, Debug)]
pub(crate) enum Rejection {
    Unauthorized(AuthFailure),
    /// Azure classic path without `?api-version=`.
    MissingApiVersion,
    /// A malformed or invalid body, a bad scenario spec or a missing fixture.
    Invalid(Invalid),
    RateLimited {
        retry_after: Option<Duration>,
    },
    Quota,
    ContentFilter,
    /// Any other simulated status (5xx, 403, 404, …).
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
}

/// What the error body may mention about the request.
pub(crate) struct RejectionContext<'a> {
    pub request_id: &'a str,
    pub model: &'a str,
}

const OPENAI_QUOTA_MESSAGE: &str = "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.";
const OPENAI_SERVER_ERROR_MESSAGE: &str = "The server had an error while processing your request. Sorry about that!";
const AZURE_UNAUTHORIZED_MESSAGE: &str = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
const CONTENT_FILTER_MESSAGE: &str = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766";

impl Rejection {
    /// The HTTP status this rejection gets from `provider`.
    pub(crate) fn status(&self, provider: Provider) -> u16 {
        match (self, provider) {
            (Rejection::Unauthorized(AuthFailure::Signature(SignatureFailure::Incomplete(_))), _) => 400,
            // AWS answers every other credential problem with 403.
            (Rejection::Unauthorized(_), Provider::Bedrock) => 403,
            // The Gemini API: no key is 403, a wrong key 400 (API_KEY_INVALID).
            (Rejection::Unauthorized(AuthFailure::Missing), Provider::Gemini) => 403,
            (Rejection::Unauthorized(_), Provider::Gemini) => 400,
            (Rejection::Unauthorized(_), _) => 401,
            (Rejection::MissingApiVersion | Rejection::Invalid(_) | Rejection::ContentFilter, _) => 400,
            (Rejection::RateLimited { .. }, _) => 429,
            // Anthropic reports an empty balance as a bad request, Bedrock
            // a ServiceQuotaExceededException as one.
            (Rejection::Quota, Provider::Anthropic | Provider::Bedrock) => 400,
            (Rejection::Quota, _) => 429,
            (Rejection::Status { status, .. }, _) => *status,
        }
    }

    pub(crate) fn into_response(self, provider: Provider, context: &RejectionContext<'_>) -> Response {
        let status = self.status(provider);
        let exhausted = matches!(self, Rejection::RateLimited { .. });
        let mut headers = provider_headers(provider, context.request_id, exhausted);
        let retry_after = match &self {
            Rejection::RateLimited { retry_after } | Rejection::Status { retry_after, .. } => *retry_after,
            _ => None,
        };
        // Bedrock sends no retry hint; Google puts its own in the body
        // (RetryInfo).
        let sends_retry_after = matches!(
            provider,
            Provider::OpenAi | Provider::Azure | Provider::Anthropic | Provider::Ollama | Provider::Oci
        );
        if let Some(delay) = retry_after.filter(|_| sends_retry_after) {
            retry_after_headers(&mut headers, delay);
        }
        let (body, content_type) = match provider {
            Provider::OpenAi => (self.openai_body(context, status), headers::JSON),
            Provider::Azure => (self.azure_body(context, status), headers::JSON),
            Provider::Anthropic => (self.anthropic_body(context, status), headers::JSON),
            Provider::Ollama => (self.ollama_body(context, status), headers::OLLAMA_JSON),
            Provider::Bedrock => {
                let (error_type, body) = self.bedrock_error(status);
                insert(&mut headers, "x-amzn-errortype", error_type);
                (body, headers::JSON)
            }
            Provider::Gemini | Provider::Vertex => (self.google_body(provider, context, status), headers::GOOGLE_JSON),
            Provider::Oci => (self.oci_body(context, status), headers::JSON),
            // Auth and quota are Vertex's own; the rest is Claude's answer,
            // passed through.
            Provider::VertexAnthropic => match &self {
                Rejection::Unauthorized(_) | Rejection::RateLimited { .. } | Rejection::Quota => {
                    (self.google_body(provider, context, status), headers::GOOGLE_JSON)
                }
                Rejection::Status { status: 401, .. } => {
                    (self.google_body(provider, context, status), headers::GOOGLE_JSON)
                }
                _ => (self.anthropic_body(context, status), headers::JSON),
            },
        };
        insert(&mut headers, "content-type", content_type);
        build(status, headers, body)
    }

    /// `x-amzn-ErrorType` and the `{"message": …}` body Bedrock sends.
    fn bedrock_error(&self, status: u16) -> (String, String) {
        const CORAL: &str = "com.amazon.coral.service";
        const BEDROCK: &str = "com.amazon.bedrock";
        let (name, namespace, message): (&str, &str, String) = match self {
            Rejection::Unauthorized(AuthFailure::Signature(failure)) => match failure {
                SignatureFailure::MissingToken => (
                    "MissingAuthenticationTokenException",
                    CORAL,
                    "Missing Authentication Token".to_owned(),
                ),
                SignatureFailure::Incomplete(message) => ("IncompleteSignatureException", CORAL, message.clone()),
                SignatureFailure::UnrecognizedClient => (
                    "UnrecognizedClientException",
                    CORAL,
                    BEDROCK_UNRECOGNIZED_CLIENT.to_owned(),
                ),
                SignatureFailure::InvalidSignature(message) => ("InvalidSignatureException", CORAL, message.clone()),
                SignatureFailure::InvalidApiKey => {
                    // The API-key front end capitalises `Message`.
                    let body = JsonObject::new()
                        .value("Message", "Authentication failed: Please make sure your API Key is valid.")
                        .finish();
                    return (aws_error_type("AccessDeniedException", CORAL), body);
                }
            },
            // A scenario's forced 401: AWS has no 401, an unknown key is 403.
            Rejection::Unauthorized(_) => (
                "UnrecognizedClientException",
                CORAL,
                BEDROCK_UNRECOGNIZED_CLIENT.to_owned(),
            ),
            Rejection::MissingApiVersion => (
                "ValidationException",
                BEDROCK,
                "Malformed input request, please reformat your input and try again.".to_owned(),
            ),
            Rejection::Invalid(invalid) => ("ValidationException", BEDROCK, invalid.message.clone()),
            Rejection::RateLimited { .. } => (
                "ThrottlingException",
                BEDROCK,
                "Too many requests, please wait before trying again.".to_owned(),
            ),
            Rejection::Quota => (
                "ServiceQuotaExceededException",
                BEDROCK,
                "Your request exceeds the service quota for your account. You can view your quotas at https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html.".to_owned(),
            ),
            Rejection::ContentFilter => (
                "ValidationException",
                BEDROCK,
                "Output blocked by content filtering policy".to_owned(),
            ),
            Rejection::Status { .. } => match status {
                403 => (
                    "AccessDeniedException",
                    BEDROCK,
                    "You don't have access to the model with the specified model ID.".to_owned(),
                ),
                404 => (
                    "ResourceNotFoundException",
                    BEDROCK,
                    "Could not resolve the foundation model from the provided model identifier.".to_owned(),
                ),
                408 => (
                    "ModelTimeoutException",
                    BEDROCK,
                    "Model has timed out in processing the request. Try your request again.".to_owned(),
                ),
                424 => (
                    "ModelErrorException",
                    BEDROCK,
                    "The model returned an error. Try your request again.".to_owned(),
                ),
                429 => (
                    "ThrottlingException",
                    BEDROCK,
                    "Too many requests, please wait before trying again.".to_owned(),
                ),
                503 => (
                    "ServiceUnavailableException",
                    BEDROCK,
                    "Bedrock is unable to process your request.".to_owned(),
                ),
                500.. => (
                    "InternalServerException",
                    BEDROCK,
                    "The system encountered an unexpected error during processing. Try your request again.".to_owned(),
                ),
                _ => (
                    "ValidationException",
                    BEDROCK,
                    format!("fakecloud: simulated HTTP {status}"),
                ),
            },
        };
        let body = JsonObject::new().value("message", message).finish();
        (aws_error_type(name, namespace), body)
    }

    /// A google.rpc.Status body, as the Gemini API and Vertex AI send it.
    fn google_body(&self, provider: Provider, context: &RejectionContext<'_>, status: u16) -> String {
        let vertex = provider != Provider::Gemini;
        let service = if vertex {
            "aiplatform.googleapis.com"
        } else {
            "generativelanguage.googleapis.com"
        };
        let error_info = |reason: &str| {
            let mut metadata = JsonObject::new().value("service", service);
            if vertex {
                metadata = metadata.value(
                    "method",
                    "google.cloud.aiplatform.v1.PredictionService.StreamGenerateContent",
                );
            }
            JsonObject::new()
                .value("@type", "type.googleapis.com/google.rpc.ErrorInfo")
                .value("reason", reason)
                .value("domain", "googleapis.com")
                .object("metadata", metadata)
                .finish()
        };
        let retry_info = |delay: Option<Duration>| {
            let seconds = delay.map_or(1, |delay| delay.as_millis().div_ceil(1000));
            JsonObject::new()
                .value("@type", "type.googleapis.com/google.rpc.RetryInfo")
                .value("retryDelay", format!("{seconds}s"))
                .finish()
        };
        let (message, details): (String, Vec<String>) = match self {
            Rejection::Unauthorized(AuthFailure::Missing) if vertex => (
                GOOGLE_CREDENTIALS_MISSING.to_owned(),
                vec![error_info("CREDENTIALS_MISSING")],
            ),
            Rejection::Unauthorized(_) if vertex => (
                GOOGLE_CREDENTIALS_INVALID.to_owned(),
                vec![error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED")],
            ),
            Rejection::Unauthorized(AuthFailure::Missing) => (
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.".to_owned(),
                Vec::new(),
            ),
            Rejection::Unauthorized(_) => {
                let message = "API key not valid. Please pass a valid API key.";
                let localized = JsonObject::new()
                    .value("@type", "type.googleapis.com/google.rpc.LocalizedMessage")
                    .value("locale", "en-US")
                    .value("message", message)
                    .finish();
                (message.to_owned(), vec![error_info("API_KEY_INVALID"), localized])
            }
            Rejection::MissingApiVersion => ("Invalid request.".to_owned(), Vec::new()),
            Rejection::Invalid(invalid) => (invalid.message.clone(), Vec::new()),
            Rejection::RateLimited { retry_after } if vertex => {
                let details = retry_after.map(|delay| retry_info(Some(delay))).into_iter().collect();
                (
                    "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.".to_owned(),
                    details,
                )
            }
            Rejection::RateLimited { retry_after } => (
                GEMINI_QUOTA_MESSAGE.to_owned(),
                vec![
                    gemini_quota_failure(context.model, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", 10),
                    gemini_help(),
                    retry_info(*retry_after),
                ],
            ),
            Rejection::Quota if vertex => (
                format!(
                    "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: {}. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
                    context.model
                ),
                Vec::new(),
            ),
            Rejection::Quota => (
                GEMINI_QUOTA_MESSAGE.to_owned(),
                vec![
                    gemini_quota_failure(context.model, "GenerateRequestsPerDayPerProjectPerModel-FreeTier", 250),
                    gemini_help(),
                ],
            ),
            Rejection::ContentFilter => (
                "The request was blocked because it violates the safety policy.".to_owned(),
                Vec::new(),
            ),
            Rejection::Status { retry_after, .. } => match status {
                401 => (GOOGLE_CREDENTIALS_INVALID.to_owned(), vec![error_info("ACCESS_TOKEN_EXPIRED")]),
                403 => (
                    "The caller does not have permission".to_owned(),
                    Vec::new(),
                ),
                404 if vertex => (
                    format!(
                        "Publisher Model `{}` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
                        context.model
                    ),
                    Vec::new(),
                ),
                404 => (
                    format!(
                        "models/{} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.",
                        context.model
                    ),
                    Vec::new(),
                ),
                429 => (GEMINI_QUOTA_MESSAGE.to_owned(), vec![retry_info(*retry_after)]),
                503 => ("The model is overloaded. Please try again later.".to_owned(), Vec::new()),
                504 => ("Deadline expired before operation could complete.".to_owned(), Vec::new()),
                500.. => (
                    "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting".to_owned(),
                    Vec::new(),
                ),
                _ => (format!("fakecloud: simulated HTTP {status}"), Vec::new()),
            },
        };
        google_error(status, &message, &details)
    }

    /// OCI's `{"code", "message"}`, whichever surface was called.
    fn oci_body(&self, context: &RejectionContext<'_>, status: u16) -> String {
        let (code, message) = match self {
            Rejection::Unauthorized(AuthFailure::Oci(failure)) => ("NotAuthenticated", failure.message.clone()),
            Rejection::Unauthorized(_) => (
                "NotAuthenticated",
                "The required information to complete authentication was not provided or was incorrect.".to_owned(),
            ),
            Rejection::Invalid(invalid) => (invalid.code.unwrap_or("InvalidParameter"), invalid.message.clone()),
            Rejection::MissingApiVersion => ("InvalidParameter", "Missing API version.".to_owned()),
            Rejection::RateLimited { .. } => ("TooManyRequests", "Too many requests for the user.".to_owned()),
            Rejection::Quota => (
                "TooManyRequests",
                "The tenancy's limit for this model is exhausted.".to_owned(),
            ),
            Rejection::ContentFilter => ("InvalidParameter", "Inappropriate content detected!!!".to_owned()),
            Rejection::Status { .. } => match status {
                401 => (
                    "NotAuthenticated",
                    "The required information to complete authentication was not provided or was incorrect.".to_owned(),
                ),
                403 | 404 => (
                    "NotAuthorizedOrNotFound",
                    format!(
                        "Authorization failed or requested resource not found: model {} (is it served in this region?)",
                        context.model
                    ),
                ),
                500.. => ("InternalServerError", "Internal error occurred".to_owned()),
                _ => ("InvalidParameter", format!("fakecloud: simulated HTTP {status}")),
            },
        };
        JsonObject::new().value("code", code).value("message", message).finish()
    }

    fn openai_body(&self, context: &RejectionContext<'_>, status: u16) -> String {
        match self {
            Rejection::Unauthorized(AuthFailure::Wrong(key)) => openai_error(
                &format!(
                    "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    mask_key(key)
                ),
                Some("invalid_request_error"),
                None,
                Some("invalid_api_key"),
            ),
            // Signature failures are Bedrock's and never reach this body.
            Rejection::Unauthorized(AuthFailure::Missing | AuthFailure::Signature(_) | AuthFailure::Oci(_)) => {
                openai_error(
                    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
                    Some("invalid_request_error"),
                    None,
                    None,
                )
            }
            Rejection::MissingApiVersion => openai_error(
                "The api-version query parameter (?api-version=) is required for all requests.",
                Some("invalid_request_error"),
                None,
                None,
            ),
            Rejection::Invalid(invalid) => openai_error(
                &invalid.message,
                Some("invalid_request_error"),
                invalid.param.as_deref(),
                invalid.code,
            ),
            Rejection::RateLimited { retry_after } => openai_error(
                &format!(
                    "Rate limit reached for {} in organization org-fakecloud on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in {}s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    context.model,
                    retry_after.map_or(1, |delay| delay.as_millis().div_ceil(1000))
                ),
                Some("requests"),
                None,
                Some("rate_limit_exceeded"),
            ),
            Rejection::Quota => openai_error(
                OPENAI_QUOTA_MESSAGE,
                Some("insufficient_quota"),
                None,
                Some("insufficient_quota"),
            ),
            Rejection::ContentFilter => content_filter_error(false),
            Rejection::Status { .. } => match status {
                403 => openai_error(
                    &format!(
                        "Project `proj_fakecloud` does not have access to model `{}`",
                        context.model
                    ),
                    Some("invalid_request_error"),
                    None,
                    Some("model_not_found"),
                ),
                404 => openai_error(
                    &format!(
                        "The model `{}` does not exist or you do not have access to it.",
                        context.model
                    ),
                    Some("invalid_request_error"),
                    None,
                    Some("model_not_found"),
                ),
                503 => openai_error(
                    "The engine is currently overloaded, please try again later",
                    Some("server_error"),
                    None,
                    None,
                ),
                500.. => openai_error(OPENAI_SERVER_ERROR_MESSAGE, Some("server_error"), None, None),
                _ => openai_error(
                    &format!("fakecloud: simulated HTTP {status}"),
                    Some("invalid_request_error"),
                    None,
                    None,
                ),
            },
        }
    }

    fn azure_body(&self, context: &RejectionContext<'_>, status: u16) -> String {
        match self {
            Rejection::Unauthorized(_) => azure_error("401", AZURE_UNAUTHORIZED_MESSAGE),
            Rejection::MissingApiVersion => azure_error(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            ),
            // Azure passes OpenAI's own validation errors through.
            Rejection::Invalid(_) => self.openai_body(context, status),
            Rejection::RateLimited { retry_after } => {
                let seconds = retry_after.map_or(1, |delay| delay.as_millis().div_ceil(1000));
                azure_error(
                    "429",
                    &format!(
                        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after {seconds} second{}. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
                        if seconds == 1 { "" } else { "s" }
                    ),
                )
            }
            Rejection::Quota => azure_error("insufficient_quota", OPENAI_QUOTA_MESSAGE),
            Rejection::ContentFilter => content_filter_error(true),
            Rejection::Status { .. } => match status {
                403 => azure_error("403", "Access denied due to Virtual Network/Firewall rules."),
                404 => azure_error(
                    "DeploymentNotFound",
                    "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
                ),
                503 => azure_error(
                    "ServiceUnavailable",
                    "The service is temporarily unable to process your request. Please try again later.",
                ),
                500.. => azure_error(
                    "InternalServerError",
                    "Backend returned unexpected response. Please contact Microsoft for help.",
                ),
                _ => azure_error(&status.to_string(), &format!("fakecloud: simulated HTTP {status}")),
            },
        }
    }

    fn anthropic_body(&self, context: &RejectionContext<'_>, status: u16) -> String {
        let (error_type, message): (&str, String) = match self {
            Rejection::Unauthorized(AuthFailure::Wrong(_)) => {
                ("authentication_error", "invalid x-api-key".to_owned())
            }
            Rejection::Unauthorized(AuthFailure::Missing | AuthFailure::Signature(_) | AuthFailure::Oci(_)) => {
                ("authentication_error", "x-api-key header is required".to_owned())
            }
            Rejection::MissingApiVersion => (
                "invalid_request_error",
                "anthropic-version: header is required".to_owned(),
            ),
            Rejection::Invalid(invalid) => ("invalid_request_error", invalid.message.clone()),
            Rejection::RateLimited { .. } => (
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.".to_owned(),
            ),
            Rejection::Quota => (
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.".to_owned(),
            ),
            Rejection::ContentFilter => (
                "invalid_request_error",
                "Output blocked by content filtering policy".to_owned(),
            ),
            Rejection::Status { .. } => match status {
                403 => (
                    "permission_error",
                    "Your API key does not have permission to use the specified resource.".to_owned(),
                ),
                404 => ("not_found_error", format!("model: {}", context.model)),
                413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes.".to_owned()),
                529 => ("overloaded_error", "Overloaded".to_owned()),
                500.. => ("api_error", "Internal server error".to_owned()),
                _ => (
                    "invalid_request_error",
                    format!("fakecloud: simulated HTTP {status}"),
                ),
            },
        };
        error_envelope(error_type, &message, context.request_id, false)
    }

    fn ollama_body(&self, context: &RejectionContext<'_>, status: u16) -> String {
        let message = match self {
            Rejection::Unauthorized(_) => "unauthorized".to_owned(),
            Rejection::MissingApiVersion => "api-version is required".to_owned(),
            Rejection::Invalid(invalid) => invalid.message.clone(),
            Rejection::RateLimited { .. } => "too many requests, please try again later".to_owned(),
            Rejection::Quota => "you have reached your usage limit, please upgrade your plan to continue".to_owned(),
            Rejection::ContentFilter => "the request was blocked by the content safety filter".to_owned(),
            Rejection::Status { .. } => match status {
                404 => format!("model \"{}\" not found, try pulling it first", context.model),
                503 => "server busy, please try again.  maximum pending requests exceeded".to_owned(),
                500.. => "llama runner process has terminated: exit status 2".to_owned(),
                _ => format!("fakecloud: simulated HTTP {status}"),
            },
        };
        JsonObject::new().value("error", message).finish()
    }
}

const BEDROCK_UNRECOGNIZED_CLIENT: &str = "The security token included in the request is invalid.";
const GOOGLE_CREDENTIALS_MISSING: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const GOOGLE_CREDENTIALS_INVALID: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const GEMINI_QUOTA_MESSAGE: &str = "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.";

/// `Name:http://internal.amazon.com/coral/namespace/`, AWS's
/// `x-amzn-ErrorType`.
fn aws_error_type(name: &str, namespace: &str) -> String {
    format!("{name}:http://internal.amazon.com/coral/{namespace}/")
}

/// The canonical google.rpc.Code name for an HTTP status.
fn google_status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500.. => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

/// `{"error": {"code", "message", "status", "details"?}}`, pretty-printed
/// as Google's front end writes it.
pub(crate) fn google_error(status: u16, message: &str, details: &[String]) -> String {
    let mut error = JsonObject::new()
        .value("code", status)
        .value("message", message)
        .value("status", google_status_name(status));
    if !details.is_empty() {
        error = error.raw("details", &array(details));
    }
    google_pretty(&JsonObject::new().object("error", error).finish())
}

fn gemini_quota_failure(model: &str, quota_id: &str, limit: u32) -> String {
    let dimensions = JsonObject::new().value("location", "global").value("model", model);
    let violation = JsonObject::new()
        .value(
            "quotaMetric",
            "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        )
        .value("quotaId", quota_id)
        .object("quotaDimensions", dimensions)
        .value("quotaValue", limit.to_string())
        .finish();
    JsonObject::new()
        .value("@type", "type.googleapis.com/google.rpc.QuotaFailure")
        .raw("violations", &array([violation]))
        .finish()
}

fn gemini_help() -> String {
    let link = JsonObject::new()
        .value("description", "Learn more about Gemini API quotas")
        .value("url", "https://ai.google.dev/gemini-api/docs/rate-limits")
        .finish();
    JsonObject::new()
        .value("@type", "type.googleapis.com/google.rpc.Help")
        .raw("links", &array([link]))
        .finish()
}

fn openai_error(message: &str, error_type: Option<&str>, param: Option<&str>, code: Option<&str>) -> String {
    let error = JsonObject::new()
        .value("message", message)
        .value("type", error_type)
        .value("param", param)
        .value("code", code);
    JsonObject::new().object("error", error).finish()
}

fn azure_error(code: &str, message: &str) -> String {
    let error = JsonObject::new().value("code", code).value("message", message);
    JsonObject::new().object("error", error).finish()
}

/// A blocked prompt: Azure's envelope (OpenAI gets the same shape, without
/// the `status` field Azure adds).
fn content_filter_error(azure: bool) -> String {
    let inner = JsonObject::new()
        .value("code", "ResponsibleAIPolicyViolation")
        .raw("content_filter_result", &azure_prompt_filter_results(true));
    let mut error = JsonObject::new()
        .value("message", CONTENT_FILTER_MESSAGE)
        .null("type")
        .value("param", "prompt")
        .value("code", "content_filter");
    if azure {
        error = error.value("status", 400);
    }
    let error = error.object("innererror", inner);
    JsonObject::new().object("error", error).finish()
}

/// A complete non-streaming response.
pub(crate) fn build(status: u16, headers: HeaderMap, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    response
}
