//! `absolute-timeout`: a session kept busy still ends at its promised absolute lifetime.

use super::*;

/// Longest pause between two keep-alive requests.
const MAX_STEP: Duration = Duration::from_secs(30);
/// Shortest pause between two keep-alive requests.
const MIN_STEP: Duration = Duration::from_millis(250);

/// Signs in, keeps the session active (a request well inside the idle timeout, so idleness
/// cannot end it) until past the promised absolute lifetime, and checks it then died.
///
/// `progress` gets (seconds waited, seconds to wait) after each keep-alive request.
pub(crate) async fn absolute_timeout(
    agent: &Agent,
    target: &Target,
    cookie: &str,
    mut progress: impl FnMut(u64, u64),
) -> CheckOutcome {
    let Some(limit) = target.absolute_timeout else {
        return verdict(
            Status::Skip,
            "no [expiry] absolute_timeout in the target file",
        );
    };
    let (l, _) = match login(agent.user(), target, Some(cookie)).await {
        Ok(v) => v,
        Err(e) => return error(e),
    };
    let mut user = l.user;
    let wait = limit + limit / 10 + Duration::from_secs(2);
    let step = target
        .idle_timeout
        .map_or(MAX_STEP, |idle| idle / 3)
        .clamp(MIN_STEP, MAX_STEP);
    let start = tokio::time::Instant::now();
    let mut kept_alive = 0u32;
    loop {
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(step.min(left)).await;
        match user.is_authenticated(&target.authenticated).await {
            Ok(true) => kept_alive += 1,
            Ok(false) => {
                // One refused request is not an ended session (a 429, a deploy): ask again.
                tokio::time::sleep(Duration::from_secs(1)).await;
                match user.is_authenticated(&target.authenticated).await {
                    Ok(true) => {
                        kept_alive += 1;
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => return error(e),
                }
                let after = start.elapsed();
                // Ended well before the promise: something else ended it (another check's
                // login under a one-session-per-user rule, a logout that ends every session,
                // an idle timeout shorter than the keep-alive): nothing shown either way.
                if after < limit.mul_f64(0.9) {
                    return verdict(
                        Status::Error,
                        format!(
                            "inconclusive: kept active with a request every {} ms, the session \
                             ended after about {} s, well before the promised {} s, so something \
                             other than the absolute lifetime ended it (a one-session-per-user \
                             rule, a logout of every session by another check, an idle timeout \
                             shorter than the keep-alive: set [expiry] idle_timeout)",
                            step.as_millis(),
                            after.as_secs(),
                            limit.as_secs()
                        ),
                    );
                }
                return verdict(
                    Status::Pass,
                    format!(
                        "kept active with a request every {} ms, the session ended after about \
                         {} s (promised absolute lifetime: {} s)",
                        step.as_millis(),
                        after.as_secs(),
                        limit.as_secs()
                    ),
                );
            }
            Err(e) => return error(e),
        }
        progress(start.elapsed().as_secs(), wait.as_secs());
    }
    verdict(
        Status::Fail,
        format!(
            "kept active with a request every {} ms ({kept_alive} requests), the session was \
             still accepted after {} s (promised absolute lifetime: {} s)",
            step.as_millis(),
            wait.as_secs(),
            limit.as_secs()
        ),
    )
}
