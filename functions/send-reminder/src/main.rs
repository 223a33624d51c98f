//! `send-reminder`: the target of the one-time EventBridge Scheduler schedules. Its payload is
//! `{appointment_id, kind, version}`; it sends the reminder once (SMS, push, in-app) unless the
//! appointment was cancelled or moved. It only wires: the logic lives in `medichain::side_effects`.

use lambda_runtime::{service_fn, LambdaEvent};
use medichain::bootstrap;
use medichain::side_effects::bootstrap::{effect_deps, EffectFunction};
use medichain::side_effects::lambda::handle_scheduled;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bootstrap::init_tracing();
    let deps = effect_deps(EffectFunction::SendReminder).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let deps = &deps;
        async move { Ok::<_, lambda_runtime::Error>(handle_scheduled(deps, event.payload).await?) }
    }))
    .await
}
