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
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(ctx) => {
            ctx.raw().status().is_server_error()
                || ctx
                    .err()
                    .code()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        SdkError::ResponseError(ctx) => ctx.raw().status().is_server_error(),
        _ => false,
    };
    if transient {
        OutboundError::Unavailable(Box::new(e))
    } else {
        OutboundError::Rejected(Box::new(e))
    }
}
