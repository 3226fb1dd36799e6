//! Runs the checks against a target and assembles the report.

use std::time::Duration;

use crate::agent::{Agent, AgentError, Limits};
use crate::checks::{self, finding, CheckId, Ctx};
use crate::login::{login, LoginError};
use crate::report::{Finding, Report, Status};
use crate::target::Target;

/// How an inspection runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tokens sampled for `id-entropy` (default 200).
    pub samples: usize,
    /// Longest time spent sampling tokens.
    pub sample_budget: Duration,
    /// Only these checks (default: all).
    pub checks: Option<Vec<CheckId>>,
    /// Bounds on the inspector's own traffic.
    pub limits: Limits,
    /// Print a progress bar on stderr while sampling.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            samples: 200,
            sample_budget: Duration::from_secs(180),
            checks: None,
            limits: Limits::default(),
            progress: false,
        }
    }
}

/// Why no report could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// An option is out of range.
    #[error("{0}")]
    BadOption(String),
    /// The target could not be reached or the login did not work.
    #[error(transparent)]
    Login(#[from] LoginError),
}

impl InspectError {
    /// The process exit code this error maps to (2 arguments, 3 target).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadOption(_) => 2,
            Self::Login(_) => 3,
        }
    }
}

/// Inspects `target`: signs in, runs the selected checks, returns the report.
pub async fn inspect(target: &Target, options: &Options) -> Result<Report, InspectError> {
    let selected: Vec<CheckId> = match &options.checks {
        None => CheckId::ALL.to_vec(),
        Some(list) => CheckId::ALL
            .into_iter()
            .filter(|id| list.contains(id))
            .collect(),
    };
    if options.samples < 2 || options.samples > 20_000 {
        return Err(InspectError::BadOption(
            "--samples must be between 2 and 20000".into(),
        ));
    }
    let agent = Agent::new(target.base_url.clone(), target.tls_insecure, options.limits)
        .map_err(|e| InspectError::Login(LoginError::Unreachable(e)))?;
    let (baseline, cookie) = login(agent.user(), target, target.session_cookie.as_deref()).await?;
    let ctx = Ctx {
        agent: &agent,
        target,
        cookie: cookie.clone(),
        baseline,
    };
    let wants = |id: CheckId| selected.contains(&id);

    // The idle check waits for minutes; it runs beside everything except the password change,
    // which would end its session for the wrong reason.
    let idle = wants(CheckId::IdleTimeout).then(|| {
        let (agent, target, cookie) = (agent.clone(), target.clone(), cookie.clone());
        tokio::spawn(async move { checks::idle_timeout(&agent, &target, &cookie).await })
    });

    let mut found: Vec<Finding> = checks::cookie_checks(&ctx);
    let mut tokens = vec![ctx.baseline.token.clone()];
    tokens.extend(ctx.baseline.pre_login.clone());
    let mut entropy_bits = None;
    if wants(CheckId::IdEntropy) {
        let mut bar = Progress::new(options.progress);
        let v = match checks::sample_tokens(
            &ctx,
            options.samples,
            options.sample_budget,
            |done, total| bar.show(done, total),
        )
        .await
        {
            Ok(samples) => {
                bar.done();
                tokens.extend(samples.iter().cloned());
                let (v, bits) = crate::checks::entropy::judge(&samples, options.samples);
                entropy_bits = bits;
                v
            }
            Err(e) => error_verdict(e),
        };
        found.push(finding(CheckId::IdEntropy, v));
    }
    if wants(CheckId::CookieNameLookalike) {
        found.push(finding(
            CheckId::CookieNameLookalike,
            checks::cookie_name_lookalike(&ctx).await,
        ));
    }
    if wants(CheckId::FixationRotation) {
        found.push(finding(
            CheckId::FixationRotation,
            checks::fixation_rotation(&ctx).await,
        ));
    }
    if wants(CheckId::FixationStrict) {
        found.push(finding(
            CheckId::FixationStrict,
            checks::fixation_strict(&ctx).await,
        ));
    }
    if wants(CheckId::LoginCsrf) {
        found.push(finding(CheckId::LoginCsrf, checks::login_csrf(&ctx).await));
    }
    if wants(CheckId::LogoutInvalidation) || wants(CheckId::LogoutClearsCookie) {
        let (invalidated, cleared) = checks::logout(&ctx).await;
        found.push(finding(CheckId::LogoutInvalidation, invalidated));
        found.push(finding(CheckId::LogoutClearsCookie, cleared));
    }
    if wants(CheckId::PrivilegeRotation) {
        found.push(finding(
            CheckId::PrivilegeRotation,
            checks::privilege_rotation(&ctx).await,
        ));
    }
    if wants(CheckId::RotationRace) {
        found.push(finding(
            CheckId::RotationRace,
            checks::rotation_race(&ctx).await,
        ));
    }
    if wants(CheckId::CacheControl) {
        found.push(finding(
            CheckId::CacheControl,
            checks::cache_control(&ctx).await,
        ));
    }
    if wants(CheckId::Hsts) {
        found.push(finding(CheckId::Hsts, checks::hsts(&ctx).await));
    }
    if let Some(task) = idle {
        let v = task
            .await
            .unwrap_or_else(|e| checks_error(format!("the idle check stopped: {e}")));
        found.push(finding(CheckId::IdleTimeout, v));
    }
    if wants(CheckId::PasswordChangeInvalidation) {
        found.push(finding(
            CheckId::PasswordChangeInvalidation,
            checks::password_change(&ctx).await,
        ));
    }
    // Last, so every URL the other checks saw is examined.
    if wants(CheckId::IdInUrl) {
        found.push(finding(
            CheckId::IdInUrl,
            checks::id_in_url(&ctx, &tokens).await,
        ));
    }
    found.retain(|f| selected.iter().any(|id| id.as_str() == f.id));
    found.sort_by_key(|f| CheckId::ALL.iter().position(|id| id.as_str() == f.id));
    let mut report = Report::new(target.base_url.to_string(), Some(cookie), found);
    report.entropy_bits = entropy_bits;
    Ok(report)
}

fn error_verdict(e: AgentError) -> checks::CheckOutcome {
    checks_error(format!("could not complete: {e}"))
}

fn checks_error(evidence: String) -> checks::CheckOutcome {
    checks::CheckOutcome {
        status: Status::Error,
        evidence,
    }
}

/// A one-line progress bar on stderr.
struct Progress {
    on: bool,
    last: usize,
}

impl Progress {
    fn new(on: bool) -> Self {
        Self {
            on,
            last: usize::MAX,
        }
    }

    fn show(&mut self, done: usize, total: usize) {
        if !self.on || total == 0 {
            return;
        }
        let width = 30;
        let filled = done.min(total) * width / total;
        if filled == self.last {
            return;
        }
        self.last = filled;
        eprint!(
            "\rsampling tokens [{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
    }

    fn done(&mut self) {
        if self.on {
            eprintln!();
        }
    }
}
