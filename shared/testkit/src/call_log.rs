//! Logs the requests a DynamoDB client actually sends (each attempt, retries included)
//! with when each was sent and answered: how tests and benchmarks count operations and
//! sequential round trips.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// One request: its operation (`Query`, `UpdateItem`; rate-limit counter updates are
/// `UpdateItem:counter`, the widget's connections' reads and writes `Query:live`,
/// `DeleteItem:live`) and when it was sent and answered.
#[derive(Clone, Debug)]
pub struct Call {
    /// The operation as `x-amz-target` names it.
    pub operation: String,
    /// When it was handed to the HTTP client.
    pub sent: Instant,
    /// When its response arrived (`None` when none did).
    pub answered: Option<Instant>,
}

/// Everything a client sent, in order.
#[derive(Debug, Default)]
pub struct CallLog(Mutex<Vec<Call>>);

impl CallLog {
    /// The operations sent so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.entries().into_iter().map(|c| c.operation).collect()
    }

    /// The operations sent so far, leaving out rate-limit counter updates and the calls
    /// about the widget's sockets (the pushes run from the table's stream, not in the
    /// operation: [`CallLog::live_calls`]).
    pub fn data_calls(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| !c.ends_with(":counter") && !c.ends_with(LIVE))
            .collect()
    }

    /// The calls about the widget's connections (a push's listing, forgetting gone ones,
    /// a handshake's record), in order.
    pub fn live_calls(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.ends_with(LIVE))
            .collect()
    }

    /// Sequential round trips of the calls about the widget's connections alone.
    pub fn live_round_trips(&self) -> usize {
        trips(
            self.entries()
                .into_iter()
                .filter(|c| c.operation.ends_with(LIVE)),
        )
    }

    /// The calls with their times.
    pub fn entries(&self) -> Vec<Call> {
        self.0.lock().expect("call log lock").clone()
    }

    /// Sequential round trips: the number of groups of calls that overlapped in time.
    /// Calls sent together count once; a call sent after the others were answered
    /// starts another round trip. The calls about the widget's sockets are left out (a
    /// push runs from the table's stream, after the operation; [`CallLog::live_round_trips`]
    /// counts them).
    pub fn round_trips(&self) -> usize {
        trips(
            self.entries()
                .into_iter()
                .filter(|c| !c.operation.ends_with(LIVE)),
        )
    }

    /// Forgets what was sent so far.
    pub fn clear(&self) {
        self.0.lock().expect("call log lock").clear();
    }
}

/// The suffix of calls about the widget's connections.
const LIVE: &str = ":live";

fn trips(calls: impl Iterator<Item = Call>) -> usize {
    let mut calls: Vec<Call> = calls.collect();
    calls.sort_by_key(|c| c.sent);
    let mut trips = 0;
    let mut open_until: Option<Instant> = None;
    for call in calls {
        let end = call.answered.unwrap_or(call.sent);
        match open_until {
            Some(until) if call.sent <= until => open_until = Some(until.max(end)),
            _ => {
                trips += 1;
                open_until = Some(end);
            }
        }
    }
    trips
}

/// The index of the attempt in flight, kept in the operation's config bag.
#[derive(Clone, Copy, Debug)]
struct InFlight(usize);

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

/// The interceptor feeding a shared [`CallLog`].
#[derive(Debug, Clone)]
pub struct CallLogInterceptor(pub Arc<CallLog>);

impl Intercept for CallLogInterceptor {
    fn name(&self) -> &'static str {
        "CallLogInterceptor"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or("unknown");
        let mut operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        let is_counter = request
            .body()
            .bytes()
            .is_some_and(|body| body.windows(4).any(|w| w == b"\"RL#"));
        let is_live = request
            .body()
            .bytes()
            .is_some_and(|body| body.windows(4).any(|w| w == b"\"WS#"));
        if is_counter {
            operation.push_str(":counter");
        } else if is_live {
            operation.push_str(LIVE);
        }
        let mut log = self.0.0.lock().expect("call log lock");
        cfg.interceptor_state().store_put(InFlight(log.len()));
        log.push(Call {
            operation,
            sent: Instant::now(),
            answered: None,
        });
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(InFlight(index)) = cfg.load::<InFlight>().copied()
            && let Some(call) = self.0.0.lock().expect("call log lock").get_mut(index)
        {
            call.answered = Some(Instant::now());
        }
        Ok(())
    }
}
