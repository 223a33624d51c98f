//! The cost model: what one appointment uses (counted by the lifecycle run, plus the few stated
//! assumptions) times the published on-demand prices of us-east-1, without free tiers.

/// Published us-east-1 list prices in USD (checked 2026-11; AWS pricing pages of each service).
#[derive(Debug, Clone, Copy)]
pub struct Prices {
    /// API Gateway HTTP API, per request (first 300 M a month).
    pub http_api_request: f64,
    /// Lambda, per request.
    pub lambda_request: f64,
    /// Lambda on arm64, per GB-second.
    pub lambda_arm64_gb_second: f64,
    /// DynamoDB on-demand, per write request unit (1 KB; transactional writes take two).
    pub dynamodb_wru: f64,
    /// DynamoDB on-demand, per read request unit (4 KB strongly consistent).
    pub dynamodb_rru: f64,
    /// EventBridge Scheduler, per scheduled invocation (creating schedules is not charged).
    pub scheduler_invocation: f64,
    /// EventBridge custom events, per event (64 KB chunk).
    pub eventbridge_event: f64,
    /// SNS API requests (Publish, CreatePlatformEndpoint), per request.
    pub sns_request: f64,
    /// SNS mobile push deliveries, per notification.
    pub sns_push: f64,
    /// CloudWatch Logs ingestion, per GB.
    pub logs_gb: f64,
}

pub const US_EAST_1: Prices = Prices {
    http_api_request: 1.00 / 1e6,
    lambda_request: 0.20 / 1e6,
    lambda_arm64_gb_second: 0.000_013_333_4,
    dynamodb_wru: 0.625 / 1e6,
    dynamodb_rru: 0.125 / 1e6,
    scheduler_invocation: 1.00 / 1e6,
    eventbridge_event: 1.00 / 1e6,
    sns_request: 0.50 / 1e6,
    sns_push: 0.50 / 1e6,
    logs_gb: 0.50,
};

/// What one appointment uses over its life.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub http_api_requests: f64,
    pub lambda_invocations: f64,
    pub lambda_gb_seconds: f64,
    pub dynamodb_wru: f64,
    pub dynamodb_rru: f64,
    pub scheduler_invocations: f64,
    pub eventbridge_events: f64,
    pub sns_requests: f64,
    pub sns_push: f64,
    /// SMS are priced per destination country and carrier; reported, not costed.
    pub sms_messages: f64,
    pub log_gb: f64,
}

/// One line of the bill: what, how much per appointment, and what 1,000 appointments cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub item: &'static str,
    pub per_appointment: f64,
    pub per_thousand_usd: f64,
}

pub fn bill(usage: &Usage, prices: &Prices) -> Vec<Line> {
    let line = |item, quantity: f64, price: f64| Line {
        item,
        per_appointment: quantity,
        per_thousand_usd: quantity * price * 1000.0,
    };
    vec![
        line(
            "API Gateway HTTP API requests",
            usage.http_api_requests,
            prices.http_api_request,
        ),
        line(
            "Lambda requests",
            usage.lambda_invocations,
            prices.lambda_request,
        ),
        line(
            "Lambda GB-seconds (arm64)",
            usage.lambda_gb_seconds,
            prices.lambda_arm64_gb_second,
        ),
        line(
            "DynamoDB write request units",
            usage.dynamodb_wru,
            prices.dynamodb_wru,
        ),
        line(
            "DynamoDB read request units",
            usage.dynamodb_rru,
            prices.dynamodb_rru,
        ),
        line(
            "EventBridge Scheduler invocations",
            usage.scheduler_invocations,
            prices.scheduler_invocation,
        ),
        line(
            "EventBridge custom events",
            usage.eventbridge_events,
            prices.eventbridge_event,
        ),
        line("SNS requests", usage.sns_requests, prices.sns_request),
        line(
            "SNS mobile push deliveries",
            usage.sns_push,
            prices.sns_push,
        ),
        line("CloudWatch Logs GB ingested", usage.log_gb, prices.logs_gb),
    ]
}

pub fn total_per_thousand(lines: &[Line]) -> f64 {
    lines.iter().map(|l| l.per_thousand_usd).sum()
}

/// DynamoDB's size of an item: attribute names and values in bytes (numbers count about one byte
/// per two digits plus one), as the capacity units are computed from.
pub fn item_size<'a>(attributes: impl IntoIterator<Item = (&'a str, usize)>) -> usize {
    attributes
        .into_iter()
        .map(|(name, value)| name.len() + value)
        .sum()
}

/// Write request units of writing an item of `bytes` (1 KB units), doubled in a transaction.
pub fn write_units(bytes: usize, transactional: bool) -> f64 {
    let units = bytes.div_ceil(1024).max(1) as f64;
    if transactional {
        2.0 * units
    } else {
        units
    }
}

/// Read request units of a strongly consistent read returning `bytes` (4 KB units).
pub fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_units_follow_dynamodbs_rounding() {
        assert_eq!(write_units(10, false), 1.0);
        assert_eq!(write_units(1024, false), 1.0);
        assert_eq!(write_units(1025, true), 4.0);
        assert_eq!(read_units(0), 1.0);
        assert_eq!(read_units(4097), 2.0);
        assert_eq!(item_size([("pk", 10), ("sk", 4)]), 18);
    }

    #[test]
    fn the_bill_multiplies_usage_by_prices() {
        let usage = Usage {
            http_api_requests: 1.0,
            dynamodb_wru: 10.0,
            ..Usage::default()
        };
        let lines = bill(&usage, &US_EAST_1);
        let total = total_per_thousand(&lines);
        // 1,000 × (1 × $1/M + 10 × $0.625/M) = $0.00725
        assert!((total - 0.00725).abs() < 1e-12, "{total}");
    }
}
