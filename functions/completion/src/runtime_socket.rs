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
//!
//! There is no once-per-process hook: `lambda_runtime` 1.5's `Runtime::new` builds its own
//! API client with hyper's default connector (runtime.rs, `ApiClient::builder()`), and
//! neither it nor `lambda_http::run_with_streaming_response` takes a client or a connector.
//! So the sockets are found once, by listing the process's open files, and each later event
//! only checks with one `fstat` that the socket found is still the one open under its
//! descriptor; the listing runs again only when the runtime has replaced its connection.
//! (Its pool is sized to its concurrency, one here, and the event loop is sequential, so it
//! holds one connection at a time.)

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// The address of the Runtime API, whose sockets get `TCP_NODELAY`.
#[derive(Debug)]
pub struct RuntimeApiSockets {
    peer: SocketAddr,
    /// The sockets found connected to it: each descriptor with the socket's inode, which
    /// tells whether the descriptor still names that socket.
    found: Mutex<Vec<(RawFd, u64)>>,
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
        Self {
            peer,
            found: Mutex::new(Vec::new()),
        }
    }

    /// Makes sure every socket of this process connected to the Runtime API has
    /// `TCP_NODELAY`; returns how many it changed. While the sockets found last time are
    /// still open this costs one `fstat` each; otherwise it lists the process's open files
    /// (a few dozen microseconds) and remembers what it found.
    pub fn set_nodelay(&self) -> usize {
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        if !found.is_empty() && found.iter().all(|&(fd, inode)| inode_of(fd) == Some(inode)) {
            return 0;
        }
        found.clear();
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return 0;
        };
        let mut changed = 0;
        let descriptors =
            entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok());
        for fd in descriptors {
            let Some(copy) = duplicate(fd) else { continue };
            let socket = socket2::SockRef::from(&copy);
            let ours = socket
                .peer_addr()
                .ok()
                .and_then(|address| address.as_socket())
                == Some(self.peer);
            if !ours {
                continue;
            }
            if socket.tcp_nodelay().is_ok_and(|on| !on) && socket.set_tcp_nodelay(true).is_ok() {
                changed += 1;
            }
            if let Some(inode) = inode_of(copy.as_raw_fd()) {
                found.push((fd, inode));
            }
        }
        changed
    }
}

/// The inode of the file open under `fd`, if one is.
fn inode_of(fd: RawFd) -> Option<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a `stat` into the buffer it is given and nothing else; on a
    // number that is not an open descriptor it fails with EBADF.
    let result = unsafe { libc::fstat(fd, stat.as_mut_ptr()) };
    // SAFETY: fstat returned 0, so it filled the buffer.
    (result == 0).then(|| unsafe { stat.assume_init() }.st_ino)
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
        assert_eq!(
            sockets.found.lock().unwrap().len(),
            1,
            "the socket is remembered"
        );
    }

    #[test]
    fn a_replaced_connection_is_found_and_set() {
        let runtime = TcpListener::bind("127.0.0.1:0").unwrap();
        let sockets = RuntimeApiSockets::new(runtime.local_addr().unwrap());
        let first = TcpStream::connect(runtime.local_addr().unwrap()).unwrap();
        assert_eq!(sockets.set_nodelay(), 1);
        let remembered = sockets.found.lock().unwrap().clone();
        // The runtime drops its connection and opens another, which may well get the same
        // descriptor number: the remembered inode tells them apart.
        drop(first);
        let second = TcpStream::connect(runtime.local_addr().unwrap()).unwrap();
        assert!(!second.nodelay().unwrap());
        assert_eq!(sockets.set_nodelay(), 1);
        assert!(second.nodelay().unwrap());
        assert_ne!(*sockets.found.lock().unwrap(), remembered);
    }
}
