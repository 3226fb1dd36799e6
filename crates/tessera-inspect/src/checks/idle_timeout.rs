//! `idle-timeout`: an idle session expires when promised.

use super::*;

/// Logs in, idles past the promised timeout, and checks the session died.
pub(crate) async fn idle_timeout(agent: &Agent, target: &Target, cookie: &str) -> CheckOutcome {
    let Some(idle) = target.idle_timeout else {
        return verdict(Status::Skip, "no [expiry] idle_timeout in the target file");
    };
    let (l, _) = match login(agent.user(), target, Some(cookie)).await {
        Ok(v) => v,
        Err(e) => return error(e),
    };
    let wait = idle + idle / 10 + Duration::from_secs(2);
    tokio::time::sleep(wait).await;
    let mut user = l.user;
    match user.is_authenticated(&target.authenticated).await {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "the session was still alive after {} s idle (promised: {} s)",
                wait.as_secs(),
                idle.as_secs()
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "after {} s idle (promised: {} s) the session no longer authenticates",
                wait.as_secs(),
                idle.as_secs()
            ),
        ),
        Err(e) => error(e),
    }
}
