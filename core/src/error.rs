use crate::domain::{ParseError, Permission};

/// Why an operation was refused. The `Display` text is a sentence meant for the person who asked,
/// with the numbers in it; only [`CoreError::Internal`] hides its detail (it is logged instead).
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Invalid(#[from] ParseError),
    #[error("You need {needed} credits to {action}, but you have {balance}.")]
    InsufficientCredits {
        action: String,
        needed: i64,
        balance: i64,
    },
    #[error("Cannot deduct {amount} credits from {reseller}: the balance is {balance}.")]
    DeductBelowZero {
        reseller: String,
        amount: i64,
        balance: i64,
    },
    #[error("There is no {kind} named “{name}”.")]
    NotFound { kind: &'static str, name: String },
    #[error("The username “{0}” is already taken. Pick another one.")]
    UsernameTaken(String),
    #[error("You are not allowed to {0}. Ask your admin to enable it.")]
    Forbidden(Permission),
    #[error(
        "“{subscriber}” belongs to reseller {reseller}; admins change only the subscribers they own."
    )]
    BelongsToReseller {
        subscriber: String,
        reseller: String,
    },
    #[error("Only resellers can do that.")]
    ResellersOnly,
    #[error("Only admins can do that.")]
    AdminOnly,
    #[error(
        "Your reseller account is suspended, so nothing can be viewed or changed. Contact your admin."
    )]
    Suspended,
    #[error(
        "You have reached your limit of {max} subscribers; you have {current}. Delete one or ask your admin to raise the limit."
    )]
    MaxUsersReached { max: i64, current: i64 },
    #[error(
        "This list would create {rows} subscribers, but your limit is {max} and you have {current}: room for {}. Nothing was created; shorten the list or ask your admin to raise the limit.",
        (max - current).max(0)
    )]
    BatchOverMaxUsers { rows: i64, max: i64, current: i64 },
    #[error("A trial lasts 1 to {max} hours; you asked for {asked}.")]
    TrialLength { max: i64, asked: i64 },
    #[error(
        "You have used {used} of your {quota} trials in the last 24 hours; the next is possible at {next}."
    )]
    TrialQuotaReached {
        used: i64,
        quota: i64,
        /// When the oldest trial of the window leaves it, as `2026-11-26 14:02 UTC`.
        next: String,
    },
    #[error(
        "Your account may not create trials: your trial quota is 0. Ask your admin to raise it."
    )]
    NoTrials,
    #[error("At most {max} connections per subscriber are allowed for you; you asked for {asked}.")]
    TooManyConnections { max: i64, asked: i64 },
    #[error("This invite link is invalid, already used or expired. Ask your admin for a new one.")]
    InviteInvalid,
    #[error("This Telegram account is already linked to reseller “{0}”.")]
    AlreadyLinked(String),
    #[error("Admins cannot be linked to a reseller account.")]
    AdminCannotLink,
    #[error("This confirmation has expired or was already used. Start the action again.")]
    ConfirmationGone,
    #[error(
        "Sync job {job} cannot be sent again: the panel refused creating {subscriber} and its {credits} credits were refunded, so the line would work unpaid. Drop the job, and create the subscriber again if it is still wanted."
    )]
    SyncJobRefunded {
        job: i64,
        subscriber: String,
        credits: i64,
    },
    #[error(
        "You are making changes too quickly: at most {per_minute} a minute, {burst} in a row. Please wait {wait_secs} seconds and try again."
    )]
    TooFast {
        wait_secs: i64,
        per_minute: u32,
        burst: u32,
    },
    #[error("“{reseller}” cannot be allowed to {permission}: their parent {parent} may not.")]
    BeyondParent {
        permission: Permission,
        reseller: String,
        parent: String,
    },
    #[error(
        "Your account may not create sub-resellers: sub-resellers may nest {depth} levels below you. Ask your admin to raise it."
    )]
    SubresellerDepth { depth: i64 },
    #[error(
        "This API key is not valid: it is unknown, mistyped or revoked. Make a new one with /apikey new in the bot."
    )]
    ApiKeyInvalid,
    #[error(
        "This Idempotency-Key was already used for a different request. Send a new key with each new request."
    )]
    IdempotencyKeyReused,
    #[error("Something went wrong on our side; nothing was changed. Please try again.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CoreError {
    /// Whether this is a failure of ours (to log) rather than a refusal (to show).
    pub fn is_internal(&self) -> bool {
        matches!(self, CoreError::Internal(_))
    }
}

impl From<sqlx::Error> for CoreError {
    fn from(e: sqlx::Error) -> Self {
        CoreError::Internal(Box::new(e))
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        CoreError::Internal(Box::new(e))
    }
}
