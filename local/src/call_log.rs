//! Counts the requests a DynamoDB client actually sends (each attempt, retries
//! included), by operation: how tests and benchmarks measure round trips.

use std::sync::Mutex;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

/// The operations sent, in order, as `x-amz-target` names them (`Query`, `UpdateItem`).
#[derive(Debug, Default)]
pub struct CallLog(Mutex<Vec<String>>);

impl CallLog {
    /// Everything sent so far.
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().expect("call log lock").clone()
    }

    /// Forgets what was sent so far.
    pub fn clear(&self) {
        self.0.lock().expect("call log lock").clear();
    }
}

/// The interceptor feeding a shared [`CallLog`].
#[derive(Debug, Clone)]
pub struct CallLogInterceptor(pub std::sync::Arc<CallLog>);

impl Intercept for CallLogInterceptor {
    fn name(&self) -> &'static str {
        "CallLogInterceptor"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.0.lock().expect("call log lock").push(operation);
        Ok(())
    }
}
