//! A turn's response body: a whole JSON document, or a stream of UI message stream chunks
//! fed by the generation task, each written out as it arrives.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc::UnboundedReceiver;

/// A body the streaming Lambda runtime and the local server both write out frame by
/// frame.
#[derive(Debug)]
pub enum TurnBody {
    /// A complete body (JSON, errors included), sent as one frame.
    Full(Option<Bytes>),
    /// Chunks sent by the generation task; ends when the task drops its sender.
    Stream(UnboundedReceiver<Bytes>),
}

impl From<String> for TurnBody {
    fn from(text: String) -> Self {
        Self::Full(Some(Bytes::from(text)))
    }
}

impl http_body::Body for TurnBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Stream(chunks) => chunks
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Self::Full(None) => SizeHint::with_exact(0),
            Self::Stream(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body;

    #[tokio::test]
    async fn a_full_body_is_one_frame_then_ends() {
        let mut body = TurnBody::from("{}".to_owned());
        assert_eq!(body.size_hint().exact(), Some(2));
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert_eq!(frame.unwrap().unwrap().into_data().unwrap(), "{}");
        assert!(body.is_end_stream());
        assert!(
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_stream_body_yields_chunks_until_the_sender_goes() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut body = TurnBody::Stream(rx);
        assert_eq!(
            body.size_hint().exact(),
            None,
            "no content-length for a stream"
        );
        tx.send(Bytes::from_static(b"a")).unwrap();
        drop(tx);
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert_eq!(frame.unwrap().unwrap().into_data().unwrap(), "a");
        assert!(
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
                .await
                .is_none()
        );
    }
}
