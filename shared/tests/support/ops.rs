//! Counting the AWS operations a client sends, with an SDK interceptor: tests that hold the
//! adapters to a number of round trips per step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Counts operations (not attempts: retries of one operation count once) by name.
#[derive(Debug, Clone, Default)]
pub struct OperationCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl OperationCounter {
    /// The operations since the last call, by name.
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().expect("counter lock"))
    }
}

impl Intercept for OperationCounter {
    fn name(&self) -> &'static str {
        "OperationCounter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        *self
            .0
            .lock()
            .map_err(|_| "counter lock poisoned")?
            .entry(name)
            .or_default() += 1;
        Ok(())
    }
}

/// Expected counts, as `take` returns them.
pub fn ops(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}
