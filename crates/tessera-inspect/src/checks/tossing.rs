//! `cookie-tossing`: a request that carries the session cookie's name twice must not be served
//! by whichever copy comes first.
//!
//! A sibling subdomain can set a cookie under the session cookie's name (unprefixed names; a
//! `Domain` and a longer `Path`, or simply a later creation time, put it first in the `Cookie`
//! header). An app that takes the first copy serves the attacker's session to the victim: the
//! victim works, unaware, in the attacker's account. With a `[second_user]` in the target file
//! the check plays it out with two real sessions, the victim's and the attacker's. Without one
//! it infers
//! the policy from the victim's live session and a dead token of the app's own (a signed-out
//! session's): served in exactly one order means the app picks by position, so an attacker's
//! valid cookie in that position would be served.

use reqwest::header::SET_COOKIE;

use super::*;
use crate::agent::{authenticated, Page};

/// What the response did to the session cookie, for the evidence.
fn cookies_done(page: &Page, name: &str) -> String {
    let prefix = format!("{name}=");
    let set: Vec<&str> = page
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.trim_start().starts_with(&prefix))
        .collect();
    if set.is_empty() {
        return "no Set-Cookie for it".into();
    }
    let cleared = set
        .iter()
        .filter(|v| {
            let l = v.to_ascii_lowercase();
            l.contains("max-age=0") || l.contains("1970")
        })
        .count();
    format!(
        "{} Set-Cookie for it ({cleared} removing a copy)",
        set.len()
    )
}

/// One request to the authenticated page with exactly this `Cookie` header.
async fn send_cookies(ctx: &Ctx<'_>, header: &str) -> Result<Page, AgentError> {
    ctx.agent
        .user()
        .send_with(
            Method::Get,
            &ctx.target.authenticated.path,
            &[],
            false,
            &[("cookie", header)],
        )
        .await
}

/// A sibling cannot set a `__Host-` cookie for this host (browsers refuse its `Domain`), so
/// with that prefix picking by position is not a session swap as it stands.
fn host_prefixed(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("__host-")
}

/// Whose session a response served.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Served {
    Victim,
    Attacker,
    Nobody,
}

/// With a second account: the victim's and the attacker's real sessions in one request, both
/// orders; fail when the attacker's is served in either.
async fn with_second_user(ctx: &Ctx<'_>, second: &crate::target::SecondUser) -> CheckOutcome {
    let name = &ctx.cookie;
    let victim = match ctx.fresh_login().await {
        Ok(l) => l.token,
        Err(e) => return error(e),
    };
    let mut as_second = ctx.target.clone();
    as_second.login.fields = second.fields.clone();
    as_second.authenticated.expect_body = Some(second.expect_body.clone());
    let attacker = match login(ctx.agent.user(), &as_second, Some(name)).await {
        Ok((l, _)) => l.token,
        Err(e) => return error(format!("the second account could not sign in: {e}")),
    };
    let whose = |page: &Page| {
        if authenticated(page, &ctx.target.authenticated) {
            Served::Victim
        } else if authenticated(page, &as_second.authenticated) {
            Served::Attacker
        } else {
            Served::Nobody
        }
    };
    for (token, want, who) in [
        (&victim, Served::Victim, "the first account's"),
        (&attacker, Served::Attacker, "the second account's"),
    ] {
        match send_cookies(ctx, &format!("{name}={token}")).await {
            Ok(p) if whose(&p) == want => {}
            Ok(p) => {
                return verdict(
                    Status::Error,
                    format!(
                        "control failed: {who} token {} alone is not served as that account (status {})",
                        short(token),
                        p.status
                    ),
                )
            }
            Err(e) => return error(e),
        }
    }
    let mut attacker_served = false;
    let mut lines = Vec::new();
    for (order, header) in [
        (
            "victim's copy first",
            format!("{name}={victim}; {name}={attacker}"),
        ),
        (
            "attacker's copy first",
            format!("{name}={attacker}; {name}={victim}"),
        ),
    ] {
        let page = match send_cookies(ctx, &header).await {
            Ok(p) => p,
            Err(e) => return error(e),
        };
        let served = whose(&page);
        attacker_served |= served == Served::Attacker;
        lines.push(format!(
            "{order}: {} ({})",
            match served {
                Served::Victim => "served as the victim",
                Served::Attacker => "SERVED AS THE ATTACKER",
                Served::Nobody => "refused",
            },
            cookies_done(&page, name)
        ));
    }
    let tried = format!(
        "one request carried {name} twice, the victim's session {} and the second account's {}: {}",
        short(&victim),
        short(&attacker),
        lines.join("; ")
    );
    match (attacker_served, host_prefixed(name)) {
        (true, true) => verdict(
            Status::Warn,
            format!("the app served the attacker's copy of a duplicated session cookie; the __Host- prefix keeps sibling subdomains from tossing {name}, so it is not exploitable as it stands. {tried}"),
        ),
        (true, false) => verdict(
            Status::Fail,
            format!("the app served the attacker's copy of a duplicated session cookie: a sibling subdomain that tosses its own session cookie signs the victim in to the attacker's account (session swap). {tried}"),
        ),
        (false, _) => verdict(
            Status::Pass,
            format!("the attacker's session was never served. {tried}"),
        ),
    }
}

pub(crate) async fn cookie_tossing(ctx: &Ctx<'_>) -> CheckOutcome {
    if let Some(second) = &ctx.target.second_user {
        return with_second_user(ctx, second).await;
    }
    let name = &ctx.cookie;
    let live = match ctx.fresh_login().await {
        Ok(l) => l.token,
        Err(e) => return error(e),
    };
    // A dead token of the app's own: a session signed in, then signed out.
    let dead = match ctx.fresh_login().await {
        Ok(l) => {
            let mut user = l.user;
            if let Err(e) = user
                .submit(&ctx.target.logout, &ctx.target.logout.fields)
                .await
            {
                return error(e);
            }
            l.token
        }
        Err(e) => return error(e),
    };
    // Controls: the live token alone is served, the dead one alone is not. An app whose logout
    // leaves the session alive (its own finding) gets a token it never issued instead: the live
    // one with a character in its middle changed ([`altered`]).
    let served_alone = |token: String| async move {
        ctx.replay(&token)
            .is_authenticated(&ctx.target.authenticated)
            .await
    };
    match served_alone(live.clone()).await {
        Ok(true) => {}
        Ok(false) => {
            return verdict(
                Status::Error,
                format!(
                    "control failed: a fresh session's token {} alone is not served",
                    short(&live)
                ),
            )
        }
        Err(e) => return error(e),
    }
    let forged = altered(&live);
    let mut dead_kind = "a signed-out session's";
    let mut dead = dead;
    for candidate in [None, Some(forged)] {
        if let Some(c) = candidate {
            dead = c;
            dead_kind = "an unknown";
        }
        match served_alone(dead.clone()).await {
            Ok(false) => break,
            Ok(true) if dead_kind == "an unknown" => {
                return verdict(
                    Status::Error,
                    "control failed: even a token the app never issued is served alone",
                )
            }
            Ok(true) => {}
            Err(e) => return error(e),
        }
    }
    let mut served = Vec::new();
    let mut lines = Vec::new();
    for (order, header) in [
        ("live copy first", format!("{name}={live}; {name}={dead}")),
        ("dead copy first", format!("{name}={dead}; {name}={live}")),
    ] {
        let page = match send_cookies(ctx, &header).await {
            Ok(p) => p,
            Err(e) => return error(e),
        };
        let ok = authenticated(&page, &ctx.target.authenticated);
        served.push(ok);
        lines.push(format!(
            "{order}: {} ({})",
            if ok { "SERVED" } else { "refused" },
            cookies_done(&page, name)
        ));
    }
    let tried = format!(
        "one request carried {name} twice, the live session's {} and {dead_kind} token {}: {}",
        short(&live),
        short(&dead),
        lines.join("; ")
    );
    match served.as_slice() {
        [true, false] | [false, true] if host_prefixed(name) => verdict(
            Status::Warn,
            format!("the app picks a duplicated session cookie by its position; the __Host- prefix keeps sibling subdomains from tossing {name}, so it is not exploitable as it stands (it would be with an unprefixed name, or a parser that folds look-alike names in). {tried}"),
        ),
        [true, false] | [false, true] => verdict(
            Status::Fail,
            format!("the app picks a duplicated session cookie by its position, so a cookie a sibling subdomain tosses in front is the one served (session swap). {tried}"),
        ),
        [false, false] => verdict(Status::Pass, format!("a duplicated session cookie is never served. {tried}")),
        _ => verdict(
            Status::Warn,
            format!("the app skips a copy it does not know; whether it serves an attacker's valid copy over the victim's needs a second account to tell ([second_user] in the target file). {tried}"),
        ),
    }
}

/// `live` with one character changed to the next of its class (digit, lower or upper case): a
/// token the app never issued, in the live one's shape. The character is one followed by
/// another letter or digit, so in base64 it carries six data bits: the last character of a
/// base64 run may carry padding bits that lenient decoders ignore, and changing only those gave
/// Flask back its own valid signature, one run in sixteen.
fn altered(live: &str) -> String {
    let mut chars: Vec<char> = live.chars().collect();
    let mid = chars.len() / 2;
    let full = |i: usize| {
        chars.get(i).is_some_and(char::is_ascii_alphanumeric)
            && chars.get(i + 1).is_some_and(char::is_ascii_alphanumeric)
    };
    match (mid..chars.len()).chain(0..mid).find(|&i| full(i)) {
        Some(i) => {
            if let Some(c) = chars.get_mut(i) {
                *c = match *c {
                    '9' => '0',
                    'z' => 'a',
                    'Z' => 'A',
                    other => char::from_u32(u32::from(other) + 1).unwrap_or('A'),
                };
            }
        }
        None => chars.push('A'),
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::altered;

    /// One character changes, to another of its class, and never the last one of a base64 run
    /// (its low bits can be padding: Flask's signature ended in `A` and `B` decoded the same).
    #[test]
    fn an_altered_token_differs_in_a_full_data_character() {
        for live in [
            "eyJ1c2VyIjoiYWxpY2UifQ.ZkLx0A.q1w2e3r4t5y6u7i8o9p0aAsSdDfFgA",
            "Q6bUtsyLyNUPNuWjQpgtms8savkDcC1oZkrj2mU2ZuA",
            "s%3Aabc.defA",
            "0123456789abcdef",
        ] {
            let forged = altered(live);
            assert_eq!(forged.len(), live.len());
            let changed: Vec<usize> = live
                .chars()
                .zip(forged.chars())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(changed.len(), 1, "{live} -> {forged}");
            let next = live.chars().nth(changed[0] + 1);
            assert!(
                next.is_some_and(|c| c.is_ascii_alphanumeric()),
                "{live} -> {forged}"
            );
        }
        assert_eq!(altered("..."), "...A");
    }
}
