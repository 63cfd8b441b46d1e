//! Two small proxies in front of a fault daemon, each on this machine only:
//! - [`TcpProxy`]: a loopback TCP forwarder to the daemon's HTTPS port that can cut
//!   every connection at once and refuse new ones, as a network that goes down does;
//! - [`UnixProxy`]: a unix-socket forwarder that runs a hook just before it passes on
//!   the first request starting with given bytes (e.g. `POST /1.0/instances`), so a
//!   fault lands at an exact point of a job.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A loopback TCP proxy to `upstream`, until [`TcpProxy::cut`].
pub(crate) struct TcpProxy {
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl TcpProxy {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards to `upstream`.
    pub(crate) fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        {
            let (cut, open) = (cut.clone(), open.clone());
            std::thread::spawn(move || {
                // The listener is dropped (the port refuses) once cut.
                while !cut.load(Ordering::SeqCst) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        Err(_) => break,
                    };
                    client.set_nonblocking(false).unwrap();
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    {
                        let mut open = open.lock().unwrap();
                        open.push(client.try_clone().unwrap());
                        open.push(server.try_clone().unwrap());
                    }
                    pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                    pipe(server, client);
                }
            });
        }
        Self { address, cut, open }
    }

    /// Drops every connection (both ends see them closed) and refuses new ones.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.drop_connections();
        // Let the accept loop see the flag and drop the listener.
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Drops every open connection, and goes on accepting new ones: a blip.
    pub(crate) fn drop_connections(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16384];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// The hook a [`UnixProxy`] runs once.
type Hook = Box<dyn FnOnce() + Send>;

/// A unix-socket proxy to a daemon's socket that runs a hook once, just before it
/// forwards the first request whose method and path are `trigger` (with or without a
/// query).
pub(crate) struct UnixProxy {
    /// Its socket, for `lxpack.runtime.socket`.
    pub(crate) path: PathBuf,
    fired: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl UnixProxy {
    /// Listens on a new socket and forwards to `upstream`.
    pub(crate) fn start(upstream: &str, trigger: &'static [u8], hook: Hook) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proxy.socket");
        let listener = UnixListener::bind(&path).unwrap();
        let upstream = PathBuf::from(upstream);
        let hook = Arc::new(Mutex::new(Some(hook)));
        let fired = Arc::new(AtomicBool::new(false));
        {
            let fired = fired.clone();
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { break };
                    let (upstream, hook, fired) = (upstream.clone(), hook.clone(), fired.clone());
                    std::thread::spawn(move || {
                        forward_with_hook(client, &upstream, trigger, &hook, &fired);
                    });
                }
            });
        }
        Self {
            path,
            fired,
            _dir: dir,
        }
    }

    /// Whether the hook ran.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// Forwards one client connection. It connects to the daemon only once the client has
/// said something: LXD 5.0 and Incus 6.0 peek at each new connection's first bytes
/// inside their accept loop, so a connection that says nothing yet (while the hook
/// runs, say) would stop the daemon from answering anyone, the hook included.
fn forward_with_hook(
    mut client: UnixStream,
    upstream: &std::path::Path,
    trigger: &[u8],
    hook: &Mutex<Option<Hook>>,
    fired: &AtomicBool,
) {
    let mut buffer = vec![0u8; 65536];
    let mut server: Option<UnixStream> = None;
    loop {
        let n = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // The request itself, not one under it: `POST /1.0/instances?…` but not
        // `POST /1.0/instances/NAME/exec`.
        if buffer[..n].starts_with(trigger)
            && matches!(buffer.get(trigger.len()), Some(b' ' | b'?'))
            && let Some(hook) = hook.lock().unwrap().take()
        {
            hook();
            fired.store(true, Ordering::SeqCst);
        }
        if server.is_none() {
            let Ok(connected) = UnixStream::connect(upstream) else {
                break;
            };
            unix_pipe(connected.try_clone().unwrap(), client.try_clone().unwrap());
            server = Some(connected);
        }
        let Some(to) = server.as_mut() else { break };
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    if let Some(server) = server {
        let _ = server.shutdown(Shutdown::Write);
    }
}

fn unix_pipe(mut from: UnixStream, mut to: UnixStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16384];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
