//! `appointment-events`: the DynamoDB stream consumer (`NEW_AND_OLD_IMAGES`). For each change of
//! an appointment it manages the reminder schedules, writes the in-app notifications and publishes
//! domain events; failures are reported per record so one bad record does not block the shard.
//! It only wires: the logic lives in `medichain::side_effects`, shared with the local server.

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{service_fn, LambdaEvent};
use medichain::bootstrap;
use medichain::side_effects::bootstrap::{effect_deps, EffectFunction};
use medichain::side_effects::lambda::handle_stream_batch;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bootstrap::init_tracing();
    let deps = effect_deps(EffectFunction::AppointmentEvents).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let deps = &deps;
        async move { Ok::<_, lambda_runtime::Error>(handle_stream_batch(deps, event.payload).await) }
    }))
    .await
}
