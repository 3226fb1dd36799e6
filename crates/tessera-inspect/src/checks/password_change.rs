//! `password-change-invalidation`, and putting the password back.

use super::*;

pub(crate) async fn password_change(ctx: &Ctx<'_>) -> CheckOutcome {
    let Some(pc) = &ctx.target.password_change else {
        return verdict(Status::Skip, "no [password_change] in the target file");
    };
    let (a, b) = match (ctx.fresh_login().await, ctx.fresh_login().await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error(e),
    };
    let mut changer = a.user;
    let changed = changer.submit(&pc.change, &pc.change.fields).await;
    let survived = ctx
        .replay(&b.token)
        .is_authenticated(&ctx.target.authenticated)
        .await;
    let reverted = revert(ctx, pc, changer).await;
    let refused = matches!(&changed, Ok(page) if page.status >= 400);
    let revert_note = match &reverted {
        Ok(()) => String::new(),
        // The revert is tried even then, in case the app changed it and still said no.
        Err(e) if refused => format!(" The revert was refused too ({e}); if the change did go through after all, restore the password by hand."),
        Err(e) => {
            format!(" WARNING: the password could not be changed back ({e}); restore it by hand.")
        }
    };
    match (changed, survived) {
        (Err(e), _) | (_, Err(e)) => verdict(Status::Error, format!("could not complete: {e}.{revert_note}")),
        // A refused change proves nothing about the other session: say so, not fail or pass.
        (Ok(page), _) if page.status >= 400 => verdict(
            Status::Error,
            format!("the password change was refused (answered {}): check [password_change] (fields, CSRF token).{revert_note}", page.status),
        ),
        (Ok(page), Ok(true)) => verdict(Status::Fail, format!("after a password change in one session (answered {}), another session of the same user ({}) still authenticates.{revert_note}", page.status, short(&b.token))),
        (Ok(page), Ok(false)) => verdict(
            if reverted.is_ok() { Status::Pass } else { Status::Error },
            format!("after a password change (answered {}), the user's other session {} no longer authenticates.{revert_note}", page.status, short(&b.token)),
        ),
    }
}

/// Changes the password back: with the changer's session if it is still alive, else by logging in
/// with the new password.
async fn revert(
    ctx: &Ctx<'_>,
    pc: &crate::target::PasswordChange,
    mut changer: User,
) -> Result<(), String> {
    if !changer
        .is_authenticated(&ctx.target.authenticated)
        .await
        .unwrap_or(false)
    {
        // Log in with the new password: a login field holding the change's old value (found
        // under key k in the change's fields) takes the revert's value under k, which is the
        // new password (the revert changes it back "from" there).
        let mut with_new: BTreeMap<String, String> = ctx.target.login.fields.clone();
        for v in with_new.values_mut() {
            let replacement = pc
                .change
                .fields
                .iter()
                .find(|(_, old)| *old == v)
                .and_then(|(k, _)| pc.revert_fields.get(k));
            if let Some(new) = replacement {
                *v = new.clone();
            }
        }
        let mut target = ctx.target.clone();
        target.login.fields = with_new;
        changer = login(ctx.agent.user(), &target, Some(&ctx.cookie))
            .await
            .map_err(|e| e.to_string())?
            .0
            .user;
    }
    let page = changer
        .submit(&pc.change, &pc.revert_fields)
        .await
        .map_err(|e| e.to_string())?;
    if page.status >= 400 {
        return Err(format!("the revert request was answered {}", page.status));
    }
    // Prove it: the original credentials work again.
    ctx.fresh_login()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
