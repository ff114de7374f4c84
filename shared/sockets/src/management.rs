//! The push port on AWS: `PostToConnection` of the API Gateway Management API, at the
//! WebSocket API's stage endpoint. A `GoneException` (410) means the connection closed
//! without its `$disconnect` having been seen yet: the publisher forgets it.

use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::future::BoxFuture;

use crate::port::{PushError, PushPort};

/// The Management API client of one WebSocket API stage.
#[derive(Clone, Debug)]
pub struct ManagementApi {
    client: Client,
}

impl ManagementApi {
    /// A client for the stage at `endpoint` (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`),
    /// with the process's region, credentials and HTTPS client.
    pub fn new(sdk: &SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

impl PushPort for ManagementApi {
    fn post<'a>(
        &'a self,
        connection: &'a str,
        frame: &'a str,
    ) -> BoxFuture<'a, Result<(), PushError>> {
        Box::pin(async move {
            let sent = self
                .client
                .post_to_connection()
                .connection_id(connection)
                .data(Blob::new(frame.as_bytes()))
                .send()
                .await;
            match sent {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(failure)) if failure.err().is_gone_exception() => {
                    Err(PushError::Gone)
                }
                Err(error) => Err(PushError::Failed(Box::new(error))),
            }
        })
    }
}
