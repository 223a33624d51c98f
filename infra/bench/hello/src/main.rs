//! `bench-hello`: the baseline of the cold-start benchmark (`infra/bench/run.sh`). The standard
//! shape of a Rust Lambda function (multi-threaded tokio runtime, `lambda_runtime::run`) answering
//! every event with a constant, so its init time is the floor any real function is compared with.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "Hello, world!" }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
