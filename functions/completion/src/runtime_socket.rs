//! Turns Nagle's algorithm off on this process's connections to the Lambda Runtime API.
//!
//! `lambda_runtime` connects to the Runtime API with hyper's default connector, which leaves
//! Nagle's algorithm on (`TCP_NODELAY` = 0), and offers no way to change that. A streamed
//! response is many small writes: with Nagle on, a write that follows one not yet
//! acknowledged waits for that acknowledgement, and a Linux receiver delays acknowledging by up
//! to 40 ms. Under the loopback Runtime API every streamed completion ended about 40 ms late
//! because of it, a delay paid by the reader and billed as duration (BENCHMARKS.md).
//!
//! The runtime keeps its connection in a pool and sends the response on the connection that
//! fetched the event, so setting the option on the sockets already connected to the Runtime
//! API, as each event is handled, covers the response that follows. A connection the runtime
//! opens afterwards (after an error, say) is covered from the next event on.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The address of the Runtime API, whose sockets get `TCP_NODELAY`.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeApiSockets {
    peer: SocketAddr,
}

impl RuntimeApiSockets {
    /// The Runtime API Lambda names in `AWS_LAMBDA_RUNTIME_API` (an `ip:port`); `None` when
    /// it is unset or not an address (then there is nothing to do).
    pub fn from_env() -> Option<Self> {
        std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()?
            .parse()
            .ok()
            .map(Self::new)
    }

    /// The sockets connected to `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        Self { peer }
    }

    /// Sets `TCP_NODELAY` on every socket of this process connected to the Runtime API that
    /// does not have it yet; returns how many it changed. Costs a listing of the process's
    /// open files (a few dozen microseconds), so it is cheap enough to run for every event.
    pub fn set_nodelay(&self) -> usize {
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return 0;
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
            .filter_map(duplicate)
            .filter(|fd| self.set_if_ours(fd))
            .count()
    }

    fn set_if_ours(&self, fd: &OwnedFd) -> bool {
        let socket = socket2::SockRef::from(fd);
        let ours = socket
            .peer_addr()
            .ok()
            .and_then(|address| address.as_socket())
            == Some(self.peer);
        ours && socket.tcp_nodelay().is_ok_and(|on| !on) && socket.set_tcp_nodelay(true).is_ok()
    }
}

/// A descriptor of our own for the open file `fd`, so that socket options can be read and set
/// through it whatever happens to `fd` meanwhile (options belong to the socket, which both
/// descriptors share).
fn duplicate(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes no pointers; on a number that is not (or no longer) an
    // open descriptor it fails with EBADF, which is returned as -1.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    // SAFETY: a non-negative result is a new descriptor that nothing else owns.
    (copy >= 0).then(|| unsafe { OwnedFd::from_raw_fd(copy) })
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};

    use super::*;

    #[test]
    fn only_the_runtime_api_connections_get_nodelay_and_only_once() {
        let runtime = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let to_runtime = TcpStream::connect(runtime.local_addr().unwrap()).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(
            !to_runtime.nodelay().unwrap(),
            "sockets start with Nagle on"
        );

        let sockets = RuntimeApiSockets::new(runtime.local_addr().unwrap());
        assert_eq!(sockets.set_nodelay(), 1);
        assert!(to_runtime.nodelay().unwrap());
        assert!(
            !to_other.nodelay().unwrap(),
            "another peer's socket is left alone"
        );
        assert_eq!(
            sockets.set_nodelay(),
            0,
            "a socket already set is not counted"
        );
    }
}
