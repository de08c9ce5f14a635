//! Issue 16: a page whose client leaves mid-way is put away by `enclave serve` itself, not
//! only by `left_pages` driven alone (its unit tests). Starts the server with the module's
//! debug log on, cuts page loads short the way a browser that navigates away does (before
//! the first bytes, and after them with the rest unread), and waits for the put-away's log
//! line: it is written only when the middleware (`web.rs`) wrapped the page and the
//! request's context provider recorded the page's owner, so a lost wire fails here.

mod common;
use common::page_server::PageServer;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

const CUT_LOADS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cut_short_are_put_away_by_the_server() {
    let (_db, server) =
        PageServer::seeded("leftpages", "warn,enclave_server::left_pages=debug").await;

    let (put_away, panics, after) = tokio::task::spawn_blocking(move || {
        let cookie = server.sign_in("nora@northwind.example");
        let page = "/dashboard";
        let whole = server.exchange("GET", page, Some(&cookie), "");
        assert_eq!(whole.status, 200, "{}", whole.body);
        let from = server.log_len();
        for i in 0..CUT_LOADS {
            let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            stream
                .write_all(server.request("GET", page, Some(&cookie), "").as_bytes())
                .unwrap();
            if i % 2 == 1 {
                // The first bytes (the head and the page's shell), then away with the
                // rest unread: the kernel answers what follows with a reset.
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut first = [0u8; 512];
                let n = stream.read(&mut first).unwrap();
                assert!(n > 0, "the server sent nothing");
            } else {
                // Gone before the first bytes.
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = stream.shutdown(Shutdown::Both);
        }
        // The put-away runs a grace period after each cut.
        let started = Instant::now();
        let put_away = loop {
            let lines = server.log_since(from, |l| l.contains("put away a page whose client left"));
            if lines.len() >= CUT_LOADS / 4 || started.elapsed() > Duration::from_secs(15) {
                break lines;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let panics = server.log_since(from, |l| l.contains("panicked") || l.contains("ERROR"));
        // The server still serves the page whole afterwards.
        let after = server.exchange("GET", page, Some(&cookie), "").status;
        (put_away, panics, after)
    })
    .await
    .unwrap();
    println!(
        "{} of {CUT_LOADS} pages cut short were put away: {put_away:#?}",
        put_away.len()
    );
    assert!(
        !put_away.is_empty(),
        "no page cut short was put away: web.rs lost the put_away_late layer or \
         remember_page_owner"
    );
    assert!(
        panics.is_empty(),
        "the server panicked or logged errors: {panics:#?}"
    );
    assert_eq!(after, 200);
}
