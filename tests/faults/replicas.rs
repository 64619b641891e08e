//! The `graine serve` child processes of the fault harness: each started on a free port, placing
//! calls into the stub; signalled by the test, and killed (after a `SIGCONT`) when dropped.

use super::{CALL_TIMEOUT, IDLE_TRANSACTION_TIMEOUT, SECRET, TOKEN};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `graine serve` child process.
pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) async fn start_replica(database: &str, stub: &str, index: usize) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_graine"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", database])
        .args(["--telephony", "http", "--telephony-url", &format!("{stub}/place/{index}")])
        .args(["--webhook-secret", SECRET, "--bootstrap-token", TOKEN])
        .args(["--call-timeout", &CALL_TIMEOUT.to_string()])
        .args(["--db-idle-transaction-timeout", &IDLE_TRANSACTION_TIMEOUT.as_secs().to_string()])
        .args(["--allow-http-webhooks", "--allow-private-webhooks"])
        .env("GRAINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let replica = Replica { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{}/readyz", replica.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("replica {index} did not become ready");
}

pub(crate) fn signal(replica: &Replica, sig: &str) {
    assert!(Command::new("kill").args([sig, &replica.child.id().to_string()]).status().unwrap().success());
}
