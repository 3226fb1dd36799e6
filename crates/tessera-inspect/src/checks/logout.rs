//! Logout: `logout-invalidation` and `logout-clears-cookie`.

use super::*;

/// Logs in, logs out, replays the old token. Returns (logout-invalidation, logout-clears-cookie).
pub(crate) async fn logout(ctx: &Ctx<'_>) -> (CheckOutcome, CheckOutcome) {
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return (error(&e), error(e)),
    };
    let mut user = l.user;
    let token = l.token.clone();
    if let Err(e) = user
        .submit(&ctx.target.logout, &ctx.target.logout.fields)
        .await
    {
        return (error(&e), error(e));
    }
    let cleared = match user.cookie(&ctx.cookie) {
        None => verdict(Status::Pass, "the logout response removed the session cookie"),
        Some(v) if v != token => verdict(Status::Pass, format!("the logout response replaced the session cookie with a new value {}", short(v))),
        Some(_) => verdict(Status::Warn, "the session cookie was left in the browser after logout (harmless only if the server ended the session)"),
    };
    let replayed = match ctx.replay(&token).is_authenticated(&ctx.target.authenticated).await {
        Ok(true) => verdict(Status::Fail, format!("the token {} captured before logout still authenticates after it: logout only cleared the browser's cookie", short(&token))),
        Ok(false) => verdict(Status::Pass, format!("after logout, replaying {} no longer authenticates", short(&token))),
        Err(e) => error(e),
    };
    (replayed, cleared)
}
