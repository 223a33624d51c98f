//! SDK failures of the outbound adapters (Scheduler, SNS, EventBridge) as [`OutboundError`]:
//! throttling, 5xx, timeouts and unreachable endpoints — after the SDK's own retries — may work
//! later; anything else is a refusal of this request.

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};

use crate::ports::OutboundError;

const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "InternalError",
    "InternalFailure",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottling",
];

pub(crate) fn outbound_error<E>(e: SdkError<E, HttpResponse>) -> OutboundError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = super::is_transient(&e, TRANSIENT_CODES);
    if transient {
        OutboundError::Unavailable(Box::new(e))
    } else {
        OutboundError::Rejected(Box::new(e))
    }
}
