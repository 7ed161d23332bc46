//! Every refusal of the reseller API, mapped in one place to a stable snake_case code and an
//! HTTP status (and, for the XUI-compatible API, to XUI's status string). The message is core's
//! sentence, the one the bot shows.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reseller_core::CoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request was refused.
#[derive(Debug)]
pub(crate) enum ApiError {
    Core(CoreError),
    /// No `Authorization: Bearer` header (or no `api_key` for the XUI API).
    MissingKey,
    /// The key's own request rate (this instance's governor limiter).
    RateLimited {
        wait_secs: u64,
    },
    /// A body or parameter that does not parse.
    BadRequest(String),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::TooFast { wait_secs, .. } => ApiError::RateLimited {
                wait_secs: wait_secs.max(1) as u64,
            },
            e => ApiError::Core(e),
        }
    }
}

/// `{"error": {"code": "insufficient_credits", "message": "You need 90 credits ..."}}`
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, for programs to branch on.
    #[schema(example = "insufficient_credits")]
    pub code: &'static str,
    /// For people: the sentence the bot would show, with the numbers in it.
    pub message: String,
}

impl ApiError {
    /// The stable code and the HTTP status.
    pub(crate) fn code(&self) -> (&'static str, StatusCode) {
        use StatusCode as S;
        let e = match self {
            ApiError::MissingKey => return ("invalid_api_key", S::UNAUTHORIZED),
            ApiError::RateLimited { .. } => return ("rate_limited", S::TOO_MANY_REQUESTS),
            ApiError::BadRequest(_) => return ("invalid_input", S::BAD_REQUEST),
            ApiError::Core(e) => e,
        };
        match e {
            CoreError::Invalid(_) => ("invalid_input", S::BAD_REQUEST),
            CoreError::InsufficientCredits { .. } => ("insufficient_credits", S::PAYMENT_REQUIRED),
            CoreError::DeductBelowZero { .. } => ("insufficient_credits", S::CONFLICT),
            CoreError::NotFound { .. } => ("not_found", S::NOT_FOUND),
            CoreError::UsernameTaken(_) => ("username_taken", S::CONFLICT),
            CoreError::Forbidden(_) => ("forbidden", S::FORBIDDEN),
            CoreError::BelongsToReseller { .. } => ("belongs_to_reseller", S::FORBIDDEN),
            CoreError::ResellersOnly => ("resellers_only", S::FORBIDDEN),
            CoreError::AdminOnly => ("admin_only", S::FORBIDDEN),
            CoreError::Suspended => ("suspended", S::FORBIDDEN),
            CoreError::MaxUsersReached { .. } => ("max_users_reached", S::CONFLICT),
            CoreError::BatchOverMaxUsers { .. } => ("max_users_reached", S::CONFLICT),
            CoreError::BeyondParent { .. } => ("beyond_parent", S::FORBIDDEN),
            CoreError::SubresellerDepth { .. } => ("subreseller_depth", S::FORBIDDEN),
            CoreError::TrialLength { .. } => ("trial_length", S::BAD_REQUEST),
            CoreError::TrialQuotaReached { .. } => ("trial_quota_reached", S::CONFLICT),
            CoreError::NoTrials => ("no_trials", S::FORBIDDEN),
            CoreError::TooManyConnections { .. } => ("too_many_connections", S::BAD_REQUEST),
            CoreError::InviteInvalid => ("invite_invalid", S::BAD_REQUEST),
            CoreError::AlreadyLinked(_) => ("already_linked", S::CONFLICT),
            CoreError::AdminCannotLink => ("admin_cannot_link", S::BAD_REQUEST),
            CoreError::ConfirmationGone => ("operation_gone", S::CONFLICT),
            CoreError::SyncJobRefunded { .. } => ("sync_job_refunded", S::CONFLICT),
            CoreError::TooFast { .. } => ("rate_limited", S::TOO_MANY_REQUESTS),
            CoreError::ApiKeyInvalid => ("invalid_api_key", S::UNAUTHORIZED),
            CoreError::IdempotencyKeyReused => ("idempotency_key_reused", S::UNPROCESSABLE_ENTITY),
            CoreError::Internal(_) => ("internal", S::INTERNAL_SERVER_ERROR),
        }
    }

    /// XUI.one's status string for the same refusal (see `xui.rs` for the source).
    pub(crate) fn xui_status(&self) -> &'static str {
        match self {
            ApiError::Core(CoreError::InsufficientCredits { .. }) => "STATUS_INSUFFICIENT_CREDITS",
            ApiError::Core(CoreError::UsernameTaken(_)) => "STATUS_EXISTS_USERNAME",
            ApiError::Core(CoreError::Invalid(_)) | ApiError::BadRequest(_) => {
                "STATUS_INVALID_INPUT"
            }
            ApiError::Core(CoreError::Forbidden(_) | CoreError::Suspended) => {
                "STATUS_NO_PERMISSIONS"
            }
            ApiError::Core(
                CoreError::NoTrials
                | CoreError::TrialQuotaReached { .. }
                | CoreError::TrialLength { .. },
            ) => "STATUS_NO_TRIALS",
            ApiError::Core(CoreError::ApiKeyInvalid) | ApiError::MissingKey => "STATUS_INVALID_KEY",
            _ => "STATUS_FAILURE",
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::Core(e) => e.to_string(),
            ApiError::MissingKey => {
                "Send your API key as “Authorization: Bearer <key>”. Make one with /apikey new in the bot.".into()
            }
            ApiError::RateLimited { wait_secs } => format!(
                "Too many requests with this API key. Please wait {wait_secs} seconds and try again."
            ),
            ApiError::BadRequest(why) => why.clone(),
        }
    }

    /// Sets `Retry-After` on a rate-limited answer.
    pub(crate) fn with_retry_after(&self, mut response: Response) -> Response {
        if let ApiError::RateLimited { wait_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*wait_secs));
        }
        response
    }

    /// Logs a failure of ours (refusals are the caller's business).
    pub(crate) fn log(&self) {
        if let ApiError::Core(e @ CoreError::Internal(_)) = self {
            tracing::error!(error = ?e, "reseller API request failed");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let (code, status) = self.code();
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.message(),
            },
        };
        self.with_retry_after((status, Json(body)).into_response())
    }
}
