//! Session fixation: `fixation-rotation` and `fixation-strict`.

use super::*;

pub(crate) async fn fixation_rotation(ctx: &Ctx<'_>) -> CheckOutcome {
    let b = &ctx.baseline;
    let Some(pre) = &b.pre_login else {
        return verdict(Status::Pass, "the app issues no session cookie before login, so there is no pre-login token to fixate");
    };
    if *pre == b.token {
        return verdict(
            Status::Fail,
            format!(
                "login kept the pre-login token {}: an attacker who planted it is now signed in",
                short(pre)
            ),
        );
    }
    match ctx
        .replay(pre)
        .is_authenticated(&ctx.target.authenticated)
        .await
    {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "login issued a new token, but the pre-login token {} still authenticates",
                short(pre)
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "pre-login token {} was replaced by {} and no longer authenticates",
                short(pre),
                short(&b.token)
            ),
        ),
        Err(e) => error(e),
    }
}

/// A well-formed token this app never issued: the shape (length, alphabet) of a real one.
fn forge_like(real: &str) -> String {
    let alphabet: Vec<char> = {
        let mut a: Vec<char> = real.chars().collect();
        a.sort_unstable();
        a.dedup();
        if a.len() < 2 {
            "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect()
        } else {
            a
        }
    };
    let mut bytes = vec![0u8; real.chars().count().max(16)];
    if getrandom::fill(&mut bytes).is_err() {
        // Still unpredictable to the app: derived from the current time and the real token.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> (i % 16 * 8)) as u8 ^ i as u8;
        }
    }
    bytes
        .iter()
        .map(|b| {
            alphabet
                .get(usize::from(*b) % alphabet.len())
                .copied()
                .unwrap_or('a')
        })
        .collect()
}

pub(crate) async fn fixation_strict(ctx: &Ctx<'_>) -> CheckOutcome {
    let planted = forge_like(&ctx.baseline.token);
    let user = ctx.replay(&planted);
    let l = match login(user, ctx.target, Some(&ctx.cookie)).await {
        Ok((l, _)) => l,
        Err(e) => return error(e),
    };
    if l.token == planted {
        return verdict(Status::Fail, format!("a token the app never issued ({}) was planted before login and is now an authenticated session", short(&planted)));
    }
    match ctx
        .replay(&planted)
        .is_authenticated(&ctx.target.authenticated)
        .await
    {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "the planted token {} authenticates after login",
                short(&planted)
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "planted token {} was not adopted; login issued {}",
                short(&planted),
                short(&l.token)
            ),
        ),
        Err(e) => error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_tokens_keep_the_shape() {
        let real = "Q6bUtsyLyNUPNuWjQpgtms8savkDcC1oZkrj2mU2ZuU";
        let f = forge_like(real);
        assert_eq!(f.len(), real.len());
        assert_ne!(f, real);
        assert!(f.chars().all(|c| real.contains(c)));
    }
}
