//! `kill -9` of a demo on SQLite in the middle of a login storm: every login whose response
//! arrived before the kill still signs its user in after a restart, and the database file is
//! intact (durability is the default: an acknowledged write was fsynced).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use support::user::{account_with, client, csrf_of, NAME, PRE};
use support::Server;

/// One login over plain HTTP; the session cookie if the response arrived and signed in.
async fn login_at(base: &str, user: &str, password: &str) -> Result<Option<String>, ()> {
    let http = client();
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .map_err(|_| ())?;
    let pre = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{PRE}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let html = page.text().await.map_err(|_| ())?;
    let mut post = http.post(format!("{base}/login")).form(&[
        ("username", user),
        ("password", password),
        ("csrf", &csrf_of(&html)),
    ]);
    if let Some(pre) = pre {
        post = post.header(COOKIE, format!("{PRE}={pre}"));
    }
    let resp = post.send().await.map_err(|_| ())?;
    if resp.status() != StatusCode::SEE_OTHER {
        return Ok(None);
    }
    Ok(resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{NAME}=")))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_under_login_load_loses_no_acknowledged_login() {
    let args = ["demo", "--store", "sqlite://sessions.db"];
    let server = Server::start(&args);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for w in 0..8 {
        let base = server.base.clone();
        let acknowledged = Arc::clone(&acknowledged);
        workers.push(tokio::spawn(async move {
            let (user, password) = if w % 2 == 0 {
                ("alice", "wonderland")
            } else {
                ("bob", "builder")
            };
            // Until the kill cuts a request off.
            while let Ok(signed_in) = login_at(&base, user, password).await {
                if let Some(cookie) = signed_in {
                    acknowledged.lock().unwrap().push(cookie);
                }
            }
        }));
    }
    // Let logins pile up, then pull the plug in the middle of the storm.
    for _ in 0..600 {
        if acknowledged.lock().unwrap().len() >= 120 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dir = server.crash();
    for w in workers {
        w.await.unwrap();
    }
    let cookies = acknowledged.lock().unwrap().clone();
    assert!(
        cookies.len() >= 50,
        "too few logins before the kill: {}",
        cookies.len()
    );

    let restarted = Server::start_in(dir.clone(), &args);
    for cookie in &cookies {
        let (status, _) = account_with(&restarted, &format!("{NAME}={cookie}")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "an acknowledged login was lost in the crash"
        );
    }
    let db = rusqlite::Connection::open(dir.join("sessions.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
