//! Noticing that a client hung up while its request waits for the upstream's first byte.
//!
//! actix-web keeps running a handler after its client disconnects (actix/actix-web#3462), so the gateway watches
//! the connection itself: `on_connect` records the socket's descriptor, and a waiting request checks it for a
//! hang-up every [`CHECK_INTERVAL`]. A request that answers within the interval never checks at all. Once the
//! response has started, a departed client is noticed by the failing write instead.

use std::os::fd::RawFd;
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

/// How often a waiting request looks at its client's socket.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// The client connection's socket descriptor, stored per connection by [`record_socket`].
#[derive(Debug, Clone, Copy)]
pub struct ClientSocket(RawFd);

/// The `on_connect` hook: remember the socket of each plain TCP connection.
pub fn record_socket(connection: &dyn std::any::Any, extensions: &mut Extensions) {
    use std::os::fd::AsRawFd;
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        extensions.insert(ClientSocket(tcp.as_raw_fd()));
    }
}

/// Resolves when the client of `req` has hung up; never resolves when that cannot be known.
pub async fn client_gone(req: &HttpRequest) {
    let Some(socket) = req.conn_data::<ClientSocket>().copied() else { return std::future::pending().await };
    loop {
        actix_rt::time::sleep(CHECK_INTERVAL).await;
        if hung_up(socket.0) {
            return;
        }
    }
}

/// Whether the peer closed or reset the connection. The descriptor stays open while the request is in flight
/// (the connection's dispatcher owns it and is waiting for this request), so it cannot have been reused.
fn hung_up(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout: poll only reads the descriptor's state.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn sees_a_peer_hang_up() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert!(!hung_up(server.as_raw_fd()), "unread data is not a hang-up");
        drop(client);
        std::thread::sleep(Duration::from_millis(20));
        assert!(hung_up(server.as_raw_fd()));
    }
}
