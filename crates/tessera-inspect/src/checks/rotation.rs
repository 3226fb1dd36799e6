//! Rotation at a privilege change: `privilege-rotation` and `rotation-race`.

use super::*;

pub(crate) async fn privilege_rotation(ctx: &Ctx<'_>) -> CheckOutcome {
    let Some(step) = &ctx.target.privilege else {
        return verdict(Status::Skip, "no [privilege] in the target file");
    };
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    let mut user = l.user;
    let page = match user.submit(step, &step.fields).await {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    if page.status >= 400 {
        return verdict(
            Status::Error,
            format!(
                "the privilege request {} was answered {}",
                step.path, page.status
            ),
        );
    }
    match user.cookie(&ctx.cookie) {
        Some(after) if after != l.token => verdict(Status::Pass, format!("the token changed across the privilege request: {} → {}", short(&l.token), short(after))),
        Some(_) => verdict(Status::Fail, format!("the token {} is unchanged across the privilege request {}: a token stolen before the step-up carries the raised privilege", short(&l.token), step.path)),
        None => verdict(Status::Error, "the session cookie disappeared after the privilege request"),
    }
}

/// Requests a page fires in parallel (images, XHR) still carry the old token for a moment after
/// a rotation. Sends a burst with the old token alongside the privilege request and right after
/// its response: the session must survive (fail if the new token stops working), and the
/// requests sent right after should still be served (warn if they are signed out).
pub(crate) async fn rotation_race(ctx: &Ctx<'_>) -> CheckOutcome {
    const BURST: usize = 6;
    let Some(step) = &ctx.target.privilege else {
        return verdict(Status::Skip, "no [privilege] in the target file");
    };
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    let old = l.token.clone();
    let burst = |n: usize| {
        let users: Vec<User> = (0..n).map(|_| ctx.replay(&old)).collect();
        async move {
            let mut handles = Vec::new();
            for mut u in users {
                let check = ctx.target.authenticated.clone();
                handles.push(async move { u.is_authenticated(&check).await });
            }
            let mut ok = 0;
            for h in handles {
                if matches!(h.await, Ok(true)) {
                    ok += 1;
                }
            }
            ok
        }
    };
    let mut stepper = l.user;
    let (page, _during) = tokio::join!(stepper.submit(step, &step.fields), burst(BURST));
    if let Err(e) = page {
        return error(e);
    }
    let Some(new) = stepper.cookie(&ctx.cookie).map(str::to_owned) else {
        return verdict(
            Status::Error,
            "the session cookie disappeared after the privilege request",
        );
    };
    if new == old {
        return verdict(Status::Pass, "the privilege request did not rotate the token, so there is no rotation to race (see privilege-rotation)");
    }
    let after = burst(BURST).await;
    match ctx.replay(&new).is_authenticated(&ctx.target.authenticated).await {
        Ok(false) => verdict(Status::Fail, format!("requests with the old token {} racing the rotation ended the whole session: the new token {} no longer authenticates", short(&old), short(&new))),
        Err(e) => error(e),
        Ok(true) if after < BURST => verdict(
            Status::Warn,
            format!("{} of {BURST} requests sent with the old token right after the rotation were signed out: a page's parallel requests can log the user out at a step-up (a few seconds' grace for the old token avoids it)", BURST - after),
        ),
        Ok(true) => verdict(Status::Pass, format!("all {BURST} requests sent with the old token right after the rotation were served, and the new token {} works", short(&new))),
    }
}
