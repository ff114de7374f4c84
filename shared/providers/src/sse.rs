//! An incremental Server-Sent-Events decoder for provider responses: bytes in, the `data`
//! of each complete event out. Only what reading `data:` events needs (the event name,
//! id and retry fields are not used by the providers and are skipped).

/// The decoder's state between chunks.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Option<String>,
    skip_lf: bool,
}

/// The largest line accepted; a longer one means the peer is not speaking SSE.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Why the input is not an SSE stream.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line longer than [`MAX_LINE_BYTES`].
    #[error("an event line is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// A line that is not UTF-8.
    #[error("an event line is not UTF-8")]
    NotUtf8,
}

impl SseDecoder {
    /// Feeds `bytes`; returns the data of every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.skip_lf {
                self.skip_lf = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\r' | b'\n' => {
                    self.skip_lf = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    let line = String::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
                    if let Some(event) = self.end_line(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    if self.line.len() >= MAX_LINE_BYTES {
                        return Err(SseError::LineTooLong);
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(events)
    }

    fn end_line(&mut self, line: &str) -> Option<String> {
        if line.is_empty() {
            return self.data.take();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings() {
        let mut decoder = SseDecoder::default();
        assert_eq!(decoder.feed(b"data: {\"a\"").unwrap(), Vec::<String>::new());
        assert_eq!(decoder.feed(b":1}\r\n\r\n").unwrap(), vec!["{\"a\":1}"]);
        assert_eq!(
            decoder.feed(b": comment\n\ndata:x\rdata: y\r\r").unwrap(),
            vec!["x\ny"]
        );
        assert_eq!(
            decoder.feed(b"event: e\nid: 1\ndata: [DONE]\n\n").unwrap(),
            vec!["[DONE]"]
        );
    }

    #[test]
    fn an_unfinished_event_is_not_emitted() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.feed(b"data: partial").unwrap().is_empty());
        assert!(decoder.feed(b"\n").unwrap().is_empty());
    }

    #[test]
    fn garbage_is_refused() {
        let mut decoder = SseDecoder::default();
        assert_eq!(decoder.feed(&[0xff, b'\n']), Err(SseError::NotUtf8));
    }
}
