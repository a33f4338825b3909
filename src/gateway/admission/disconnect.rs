//! Noticing that a client hung up while its request waits for the upstream's first byte.
//!
//! actix-web keeps running a handler after its client disconnects (actix/actix-web#3462), so the gateway watches
//! the connection itself: `on_connect` records the socket's descriptor, and a waiting request enrols it in its
//! worker thread's [`Watch`]. One sweeper task per worker looks at every enrolled socket every [`CHECK_INTERVAL`]
//! with a single `poll` call, and wakes the requests whose client is gone; it stops when nothing is enrolled. So a
//! request costs an entry in a thread-local table, not a timer of its own. Once the response has started, a
//! departed client is noticed by the failing write instead.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;
use slab::Slab;

/// How often waiting requests' sockets are looked at.
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
pub fn client_gone(req: &HttpRequest) -> ClientGone {
    ClientGone { socket: req.conn_data::<ClientSocket>().copied(), ticket: None }
}

/// The future returned by [`client_gone`]: enrolled in this worker's [`Watch`] from its first poll until dropped.
pub struct ClientGone {
    socket: Option<ClientSocket>,
    ticket: Option<usize>,
}

impl Future for ClientGone {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(ClientSocket(fd)) = self.socket else { return Poll::Pending };
        let ticket = self.ticket;
        let (ticket, gone) = WATCH.with(|watch| watch.borrow_mut().enrol(ticket, fd, cx.waker()));
        self.ticket = Some(ticket);
        if gone {
            return Poll::Ready(());
        }
        start_sweeper();
        Poll::Pending
    }
}

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            // `try_with`: a request dropped while its thread shuts down has nothing left to leave.
            let _ = WATCH.try_with(|watch| watch.borrow_mut().leave(ticket));
        }
    }
}

/// One waiting request: its client's socket, its task, and whether the client was seen gone. The descriptor stays
/// open while the request is enrolled (the connection's dispatcher owns it and is waiting for this request), so it
/// cannot have been closed and reused for another connection.
struct Entry {
    fd: RawFd,
    waker: Waker,
    gone: bool,
}

/// The sockets of one worker thread's waiting requests.
#[derive(Default)]
pub struct Watch {
    entries: Slab<Entry>,
}

impl Watch {
    /// Enrols a request (or refreshes its waker); returns its ticket and whether its client is known to be gone.
    fn enrol(&mut self, ticket: Option<usize>, fd: RawFd, waker: &Waker) -> (usize, bool) {
        match ticket.and_then(|t| self.entries.get_mut(t).map(|entry| (t, entry))) {
            Some((t, entry)) => {
                if !entry.waker.will_wake(waker) {
                    entry.waker = waker.clone();
                }
                (t, entry.gone)
            }
            None => (self.entries.insert(Entry { fd, waker: waker.clone(), gone: false }), false),
        }
    }

    fn leave(&mut self, ticket: usize) {
        self.entries.try_remove(ticket);
    }

    /// Looks at every enrolled socket with one `poll` call and wakes the requests whose client hung up. Returns
    /// whether anything is still enrolled.
    fn sweep(&mut self) -> bool {
        let waiting: Vec<(usize, RawFd)> =
            self.entries.iter().filter(|(_, e)| !e.gone).map(|(ticket, e)| (ticket, e.fd)).collect();
        let fds: Vec<RawFd> = waiting.iter().map(|&(_, fd)| fd).collect();
        for (&(ticket, _), hung) in waiting.iter().zip(hung_up_all(&fds)) {
            if let (true, Some(entry)) = (hung, self.entries.get_mut(ticket)) {
                entry.gone = true;
                entry.waker.wake_by_ref();
            }
        }
        !self.entries.is_empty()
    }
}

thread_local! {
    static WATCH: RefCell<Watch> = RefCell::new(Watch::default());
    static SWEEPING: Cell<bool> = const { Cell::new(false) };
}

/// Starts this worker's sweeper unless it runs already.
fn start_sweeper() {
    if SWEEPING.replace(true) {
        return;
    }
    actix_rt::spawn(async {
        let mut ticks = actix_rt::time::interval(CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if !WATCH.with(|watch| watch.borrow_mut().sweep()) {
                SWEEPING.set(false);
                return;
            }
        }
    });
}

/// For each descriptor, whether its peer closed or reset the connection (one `poll` call for all of them).
fn hung_up_all(fds: &[RawFd]) -> Vec<bool> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLRDHUP, revents: 0 }).collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds; zero timeout: poll only reads the descriptors' state.
    let ready = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0) };
    let gone = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
    pfds.iter().map(|p| ready > 0 && p.revents & gone != 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn connected_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn sees_a_peer_hang_up() {
        let (mut client, server) = connected_pair();
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(hung_up_all(&[server.as_raw_fd()]), [false], "unread data is not a hang-up");
        drop(client);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(hung_up_all(&[server.as_raw_fd()]), [true]);
    }

    struct CountingWaker(AtomicUsize);

    impl futures_util::task::ArcWake for CountingWaker {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_sweep_wakes_only_the_requests_whose_client_left() {
        let (stays, stays_server) = connected_pair();
        let (leaves, leaves_server) = connected_pair();
        let (stay_count, leave_count) =
            (Arc::new(CountingWaker(AtomicUsize::new(0))), Arc::new(CountingWaker(AtomicUsize::new(0))));
        let mut watch = Watch::default();
        let (a, _) = watch.enrol(None, stays_server.as_raw_fd(), &futures_util::task::waker(stay_count.clone()));
        let (b, _) = watch.enrol(None, leaves_server.as_raw_fd(), &futures_util::task::waker(leave_count.clone()));
        assert!(watch.sweep(), "both still enrolled");
        assert_eq!((stay_count.0.load(Ordering::SeqCst), leave_count.0.load(Ordering::SeqCst)), (0, 0));

        drop(leaves);
        std::thread::sleep(Duration::from_millis(20));
        assert!(watch.sweep());
        assert_eq!((stay_count.0.load(Ordering::SeqCst), leave_count.0.load(Ordering::SeqCst)), (0, 1));
        let noop = futures_util::task::noop_waker();
        assert_eq!(watch.enrol(Some(b), leaves_server.as_raw_fd(), &noop), (b, true));
        assert_eq!(watch.enrol(Some(a), stays_server.as_raw_fd(), &noop), (a, false));

        watch.leave(a);
        watch.leave(b);
        assert!(!watch.sweep(), "nothing enrolled: the sweeper may stop");
        drop(stays);
    }

    #[actix_rt::test]
    async fn the_future_resolves_once_the_sweeper_sees_the_hang_up() {
        let (client, server) = connected_pair();
        let mut gone = Box::pin(ClientGone { socket: Some(ClientSocket(server.as_raw_fd())), ticket: None });
        assert!(futures_util::FutureExt::now_or_never(gone.as_mut()).is_none());
        drop(client);
        let started = std::time::Instant::now();
        tokio::time::timeout(CHECK_INTERVAL * 4, gone.as_mut()).await.expect("noticed within a few intervals");
        assert!(started.elapsed() <= CHECK_INTERVAL * 3);
        drop(gone);
        assert!(WATCH.with(|w| w.borrow().entries.is_empty()), "a dropped future leaves the watch");
    }
}
